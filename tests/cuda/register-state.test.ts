/**
 * The delta rules' state kernel with S in registers (PlanOptions.stateRegisters), as CUDA: S and
 * the corrected values X are tensor-core accumulators, W, k, Sh and Xd 16-bit tiles read by
 * ldmatrix, the chunk's tiles loaded a chunk ahead (no cp.async, whose waits at every barrier would
 * stall those loads), and nvcc fits it without a spill. The kernel-IR interpreter checks its
 * results (tests/kernel/translation.test.ts); running it needs a GPU (bench/gpu/session.sh plans).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compileCuda } from '../../backends/cuda/index.ts';
import type { PlanOptions } from '../../compiler/passes/plan.ts';
import { lowerSource } from '../../compiler/pipeline.ts';
import { stdlibFiles } from '../helpers/stdlib.ts';
import { parsePtxas } from '../helpers/ptxas.ts';

const FLA_LAYOUT: PlanOptions = { outputKernel: true, halfOperands: true, stateRegisters: true };

function files(spec: string, chunk: number, plan: PlanOptions = FLA_LAYOUT) {
  const f = stdlibFiles().find((x) => x.name === spec)!;
  return compileCuda(lowerSource(f.text, f.path).irs[0]!, { profile: 'cuda-sm90', dtype: 'bf16', chunk, plan }).files;
}

function source(spec: string, chunk: number, plan: PlanOptions = FLA_LAYOUT): string {
  return files(spec, chunk, plan).find((x) => x.path.endsWith('.cu'))!.contents;
}

function stateKernel(cu: string, spec: string): string {
  const at = cu.indexOf(`attnc_${spec}_chunk(`);
  assert.ok(at > 0, `${spec}: a state kernel`);
  return cu.slice(at, cu.indexOf('\n}\n', at));
}

test('S and X in registers, 16-bit operand tiles by ldmatrix, the chunk loads one chunk ahead', () => {
  for (const spec of ['gated_deltanet', 'deltanet']) {
    const k = stateKernel(source(spec, 64), spec);
    // 256 threads, S [128, 32] over 4×2 warps: 16 accumulators a thread; X [64, 32]: 8.
    assert.match(k, /float S\[16\];/, `${spec}: S in registers`);
    assert.match(k, /float X\[8\];/, `${spec}: X in registers`);
    for (const tile of ['Ws', 'Ks', 'Sh', 'Xd']) assert.match(k, new RegExp(`__nv_bfloat16\\* const ${tile} =`), `${spec}: ${tile} in bf16`);
    assert.match(k, /attnc_ldsm_x4\(af\d+\[a\d+\], &Ws\[/, `${spec}: W by ldmatrix`);
    assert.match(k, /attnc_ldsm_x4_trans\(bf\d+\[b\d+\], &Sh\[/, `${spec}: Sh by ldmatrix.trans`);
    assert.match(k, /attnc_ldsm_x4_trans\(af\d+\[a\d+\], &Ks\[/, `${spec}: Kᵀ by ldmatrix.trans`);
    assert.match(k, /attnc_ldsm_x4_trans\(bf\d+\[b\d+\], &Xd\[/, `${spec}: Xd by ldmatrix.trans`);
    assert.match(k, /Bc, Uc, Ws, Ks: 16-byte loads issued one iteration ahead|Uc, Ws, Ks: 16-byte loads issued one iteration ahead/, `${spec}: the chunk's tiles a chunk ahead`);
    // W and k go into their tiles as the 16 bytes came (no conversion through f32).
    assert.match(k, /\*reinterpret_cast<uint4\*>\(&Ws\[r \* \d+ \+ c\]\) = raw\d+\[j\d+\];/, `${spec}: W stored raw`);
    assert.not.match(k, /cp_async/, `${spec}: no cp.async (its wait at a barrier would wait for the loads ahead too)`);
    // The state's decay rides on the update (a scalar gate), which reads S only through its own slots.
    if (spec === 'gated_deltanet') assert.match(k, /S\[(s\d+)\] = S\[\1\] \* mscale\d+ \+ acc\d+\[\1\];/);
    // Per chunk: the barrier after the loads and Sh, the one after Xd, the one before the next chunk's loads.
    const body = k.slice(k.indexOf('for (int c0 = 0;'));
    assert.is(body.slice(0, body.indexOf('// final state')).match(/__syncthreads\(\);/g)?.length, 3, `${spec}: three barriers a chunk`);
  }
});

test("KDA: decayed keys from the intra-chunk kernel, S's rows scaled by the gate's last row", () => {
  const k = stateKernel(source('kda', 32), 'kda');
  assert.match(k, /float S\[16\];/);
  assert.match(k, /Uc, Ws, Ks, Bl: 16-byte loads issued one iteration ahead/);
  assert.match(k, /S\[(s\d+)\] = \(S\[\1\] \* Bl\[r\]\);/, 'S scaled per row');
  assert.match(k, /Xd ← X: pairs of adjacent columns per store/);
  assert.not.match(k, /attnc_exp\(\(inv\d+ - /, 'no per-token factor on X (the keys are decayed)');
});

test("16-bit operands everywhere: the intra-chunk kernel's W and U are register accumulators, stored from them", () => {
  const cu = source('gated_deltanet', 64);
  const at = cu.indexOf('attnc_gated_deltanet_intra(');
  const k = cu.slice(at, cu.indexOf('\n}\n', at));
  assert.match(k, /float WY\[32\];/);
  assert.match(k, /__nv_bfloat16\* const Qs =/, 'Qs, read only by matmuls, in bf16');
  // Qs, free after the scores, holds the products' right operand (k, then v, scaled): read by
  // ldmatrix, where k's f32 tile took two scalar loads a register.
  assert.is(k.match(/\/\/ WY = A · Qs: /g)?.length, 2, 'W and U from Qs');
  const products = k.slice(k.indexOf('// WY = A · Qs'));
  assert.match(products, /attnc_ldsm_x\d_trans\(bf\d+\[\w+\], &Qs\[/);
  assert.not.match(products.slice(0, products.indexOf('WY → w_w')), /attnc_pack_bf16\(Ks\[/);
  assert.match(k, /WY → w_w: pairs of adjacent columns per store/);
  assert.match(k, /WY → w_u: pairs of adjacent columns per store/);
});

test('nvcc fits these programs without a spill (chunks of 32 and 64, value tiles of 16 and 32, KDA, U in bf16)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'attnc-regstate-'));
  try {
    for (const [spec, chunk, BV, halfValues] of [['gated_deltanet', 64, 32, false], ['gated_deltanet', 64, 16, false], ['gated_deltanet', 32, 32, false], ['deltanet', 64, 32, false], ['kda', 32, 32, false], ['gated_deltanet', 32, 32, true], ['kda', 32, 32, true]] as const) {
      const label = `${spec}, chunks of ${chunk}, value tiles of ${BV}${halfValues ? ', U in bf16' : ''}`;
      const sub = join(dir, `${spec}_${chunk}_${BV}_${halfValues}`);
      mkdirSync(sub);
      const fs = files(spec, chunk, { ...FLA_LAYOUT, tiles: { BV }, halfValues });
      const cu = fs.find((x) => x.path.endsWith('.cu'))!.contents;
      assert.is(/__nv_bfloat16\* __restrict__ w_u[,)]/.test(cu), halfValues, `${label}: w_u's type`);
      for (const x of fs) writeFileSync(join(sub, x.path), x.contents);
      const file = join(sub, `${spec}.cu`);
      const r = spawnSync('nvcc', ['-c', '-arch=sm_90', '-std=c++17', '-O3', '-Xptxas', '-v', '-o', file.replace(/\.cu$/, '.o'), file], { encoding: 'utf8' });
      const output = `${r.stdout ?? ''}${r.stderr ?? ''}`;
      assert.is(r.status, 0, `${label}: nvcc failed:\n${output.slice(0, 3000)}`);
      const entries = parsePtxas(output);
      assert.ok(entries.some((e) => e.fn === `attnc_${spec}_chunk`), `${label}: ptxas reports the state kernel`);
      // Every kernel: the intra-chunk kernel's W and U are register tiles with 16-bit operands too.
      for (const e of entries) {
        assert.is(e.spillStores + e.spillLoads, 0, `${label}: ${e.fn} spills (${e.registers} registers)`);
        assert.is(e.stack, 0, `${label}: ${e.fn} has a stack frame (a register tile in local memory)`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
