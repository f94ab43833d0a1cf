/** The interpreter against independent implementations of the papers' equations (tests/reference/papers.ts). */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Form } from '../../compiler/ir/attention-ir.ts';
import { interpret } from '../../compiler/interp/interpret.ts';
import { randomInputs } from '../../compiler/interp/random.ts';
import { compareTensors } from '../../compiler/interp/tensor.ts';
import { stdlibIR } from '../helpers/ir.ts';
import * as paper from '../reference/papers.ts';

function check(name: string, expected: (t: Record<string, import('../../compiler/interp/tensor.ts').Tensor>) => Float64Array) {
  const ir = stdlibIR(name);
  const inp = randomInputs(ir, { B: 2, T: 45, H: 2, seed: 31 });
  const want = expected(inp.tensors);
  for (const form of ir.forms as Form[]) {
    const r = interpret(ir, inp, { form, chunkSize: 16, tiles: [16, 16] });
    const e = compareTensors(r.output!.data, want);
    assert.ok(e.relErr <= 1e-10, `${name} ${form}: rel. error ${e.relErr} against the paper's equations`);
  }
}

test('softmax: causal scaled dot-product attention', () => check('softmax', (t) => paper.softmaxAttention(t['q']!, t['k']!, t['v']!)));
test('linear attention: elu + 1 feature map with the sum normalizer', () => check('linear_attention', (t) => paper.linearAttention(t['q']!, t['k']!, t['v']!)));
test('GLA: per-channel data-dependent gates', () => check('gla', (t) => paper.gla(t['q']!, t['k']!, t['v']!, t['gk']!)));
test('Gated DeltaNet: delta rule with a scalar gate', () =>
  check('gated_deltanet', (t) => paper.gatedDeltaNet(t['q']!, t['k']!, t['v']!, t['a']!, t['b']!, t['A_log']!, t['dt_bias']!)));
test('RWKV-6: exclusive read with a bonus', () => check('rwkv6', (t) => paper.rwkv6(t['q']!, t['k']!, t['v']!, t['w']!, t['u']!)));

test('the cross-check can fail: a wrong gate scale is caught', () => {
  const ir = stdlibIR('gla');
  const inp = randomInputs(ir, { B: 1, T: 20, H: 1, seed: 2 });
  const want = paper.gla(inp.tensors['q']!, inp.tensors['k']!, inp.tensors['v']!, { ...inp.tensors['gk']!, data: inp.tensors['gk']!.data.map((x) => x * 2) });
  const r = interpret(ir, inp, { form: 'recurrent' });
  assert.ok(compareTensors(r.output!.data, want).relErr > 1e-6);
});

test.run();
