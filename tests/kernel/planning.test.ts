/** Planning: profiles drive the tiles, specs that cannot fit get a diagnostic, explain shows the plan. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { plan, PASS_NAMES, sharedBytes } from '../../compiler/passes/pipeline.ts';
import { printPlan } from '../../compiler/passes/print-plan.ts';
import { PROFILES } from '../../compiler/targets/profiles.ts';
import { irFromText, stdlibIR } from '../helpers/ir.ts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from '../helpers/baseline.ts';

const fullSize = (name: string) => irFromText(readFileSync(join(REPO, 'stdlib', `${name}.attn`), 'utf8'), name, {});

test('every stdlib spec at its declared dims plans within every profile', () => {
  for (const name of ['gated_deltanet', 'kda', 'gla', 'softmax', 'swa_sink', 'rwkv7', 'mlstm', 'based']) {
    const ir = fullSize(name);
    for (const target of Object.keys(PROFILES)) {
      const p = plan(ir, target);
      assert.ok(p.program, `${name} on ${target}: ${p.diagnostics.map((d) => d.message).join('; ')}`);
      for (const k of p.program!.kernels) assert.ok(sharedBytes(k) <= PROFILES[target]!.limits.sharedBytes, `${name}/${k.name} on ${target}`);
    }
  }
});

test('bigger profiles get bigger tiles', () => {
  const ir = fullSize('gated_deltanet');
  const small = plan(ir, 'webgpu-default').tiling!;
  const big = plan(ir, 'cuda-sm90').tiling!;
  assert.ok(big.C * big.BV > small.C * small.BV, `${JSON.stringify(small)} vs ${JSON.stringify(big)}`);
  assert.is(big.C, 64, 'the spec chunk of 64 fits an H100');
});

test('a spec that cannot fit the profile gets a diagnostic, not an over-budget kernel', () => {
  const ir = irFromText('attention huge {\n  dims K = 1024, V = 64\n  input q: [K], k: [K], v: [V]\n  update additive\n}\n', 'huge.attn', {});
  const p = plan(ir, 'webgpu-default');
  assert.is(p.program, undefined);
  assert.equal(p.diagnostics.map((d) => d.code), ['ATTN4001']);
  assert.match(p.diagnostics[0]!.message, /does not fit target 'webgpu-default'/);
  assert.match(p.diagnostics[0]!.message, /webgpu-large/);
  assert.ok(plan(ir, 'cuda-sm90').program, 'it fits an H100');
});

test('too many storage buffers are packed into fewer bindings', () => {
  const ir = fullSize('rwkv7');
  const p = plan(ir, 'webgpu-default');
  assert.ok(p.program);
  for (const k of p.program!.kernels) {
    const bindings = new Set(k.buffers.map((b) => b.packedInto?.buffer ?? b.name));
    assert.ok(bindings.size <= 8, `${k.name}: ${bindings.size} bindings`);
  }
  assert.ok(p.notes.some((n) => n.startsWith('binding packing')));
});

test('unknown targets and passes are diagnostics', () => {
  const ir = stdlibIR('gla');
  assert.equal(plan(ir, 'webgpu-huge').diagnostics.map((d) => d.code), ['ATTN4003']);
  assert.equal(plan(ir, 'webgpu-default', {}, 'tilling').diagnostics.map((d) => d.code), ['ATTN4004']);
});

test('explain --dump-after tiling shows a readable plan', () => {
  const st = plan(fullSize('gated_deltanet'), 'webgpu-default', {}, 'tiling', printPlan);
  assert.ok(st.dump);
  assert.match(st.dump!, /form: chunk/);
  assert.match(st.dump!, /q +prepared +\[128\] +l2norm\(q\)/);
  assert.match(st.dump!, /tiling: chunk \d+, value tile \d+, key slice \d+/);
  assert.ok(!/^kernel /m.test(st.dump!), 'no kernels yet after tiling');
  assert.equal(PASS_NAMES, ['form-selection', 'fusion', 'tiling', 'kernels', 'barriers', 'binding-packing', 'dtype', 'memory']);
});

test.run();
