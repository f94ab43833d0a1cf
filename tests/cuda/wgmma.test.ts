/**
 * The flash kernel's matmuls as warpgroup MMA (PlanOptions.warpgroupMma; backends/cuda/wgmma.ts):
 * the operand tiles' core-matrix layout against the PTX ISA's canonical layouts, the stored rows of
 * an A operand against the accumulator rows the printer's fragments hold, and the printed programs
 * (sm_90a, no spill). Running them needs a GPU (bench/gpu/session.sh plans: the *_wg variants).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compileCuda } from '../../backends/cuda/index.ts';
import { coreByteOffset, coreStride, descriptorOffsets } from '../../backends/cuda/wgmma.ts';
import type { PlanOptions } from '../../compiler/passes/plan.ts';
import { lowerSource } from '../../compiler/pipeline.ts';
import { stdlibFiles } from '../helpers/stdlib.ts';
import { parsePtxas } from '../helpers/ptxas.ts';

// attnc_core_at and attnc_wg_row of WGMMA_HELPERS, in JS (the printed index of element (r, c)).
const coreAt = (r: number, c: number, blocks: number, cs: number) => ((r >> 3) * blocks + (c >> 3)) * cs + ((r & 7) << 3) + (c & 7);
const wgRow = (r: number, ma: number) => {
  const t = r >> 4;
  const w = Math.floor(t / ma);
  const a = t - w * ma;
  return 64 * ((w >> 2) * ma + a) + 16 * (w & 3) + (r & 15);
};

test('the core-matrix layout is the ISA canonical no-swizzle layout under the descriptor offsets, K-major and MN-major', () => {
  for (const [rows, cols] of [[64, 128], [128, 128], [64, 64], [16, 32]] as const) {
    for (const rowStride of [cols, cols + cols / 8]) {
      const cs = coreStride(cols, rowStride);
      // T = 8 16-bit elements per 16 bytes; strides in elements.
      const k = descriptorOffsets(cols, cs, true);
      const mn = descriptorOffsets(cols, cs, false);
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < cols; c++) {
          const at = coreAt(r, c, cols / 8, cs);
          // K-major ((8,m),(T,2k)):((1T,SBO),(1,LBO)): rows are M/N, columns the reduction.
          const kMajor = (r % 8) * 8 + Math.floor(r / 8) * (k.sbo / 2) + (c % 8) + Math.floor(c / 8) * (k.lbo / 2);
          // MN-major ((T,1,m),(8,k)):((1,T,SBO),(1T,LBO)): columns are M/N, rows the reduction.
          const mnMajor = (c % 8) + Math.floor(c / 8) * (mn.sbo / 2) + (r % 8) * 8 + Math.floor(r / 8) * (mn.lbo / 2);
          if (at !== kMajor || at !== mnMajor) assert.unreachable(`[${rows}, ${cols}] stride ${rowStride}: (${r}, ${c}) at ${at}, K-major ${kMajor}, MN-major ${mnMajor}`);
        }
      }
      // The tile fits the rows the printer allocates, and the steps the instructions take are whole 16-byte units.
      assert.ok(coreAt(rows - 1, cols - 1, cols / 8, cs) < rows * rowStride, `[${rows}, ${cols}] stride ${rowStride}: fits`);
      for (const off of [coreByteOffset(0, 8, cols, cs), coreByteOffset(8, 0, cols, cs), coreByteOffset(64, 0, cols, cs)]) assert.is(off % 16, 0);
    }
  }
});

test("an A operand's stored rows: instruction (warpgroup G, row tile a) covers exactly the rows its warps' fragments hold", () => {
  for (const [warps, ma] of [[4, 1], [4, 2], [8, 1], [8, 2]] as const) {
    const rows = 16 * warps * ma;
    const seen = new Set<number>();
    for (let r = 0; r < rows; r++) {
      const p = wgRow(r, ma);
      assert.ok(p >= 0 && p < rows && !seen.has(p), `${warps} warps, ${ma} row tiles: row ${r} → ${p}`);
      seen.add(p);
      // The fragment holding row r: warp w = ⌊r/16⌋ / ma, its row tile a, row x of the 16.
      const w = Math.floor(Math.floor(r / 16) / ma);
      const a = Math.floor(r / 16) % ma;
      const G = Math.floor(w / 4);
      // Instruction (G, a) reads stored rows 64·(G·ma + a) …, and gives warp w % 4 its rows 16·(w % 4) … of them.
      assert.is(p, 64 * (G * ma + a) + 16 * (w % 4) + (r % 16), `${warps} warps, ${ma} row tiles: row ${r}`);
    }
  }
});

function program(spec: string, plan: PlanOptions, profile = 'cuda-sm90') {
  const f = stdlibFiles().find((x) => x.name === spec)!;
  return compileCuda(lowerSource(f.text, f.path).irs[0]!, { profile, dtype: 'bf16', plan });
}

test('asked for, the flash kernel runs its matmuls as wgmma; the program says sm_90a and the loader asks PyTorch for it', () => {
  const r = program('softmax', { warpgroupMma: true });
  const cu = r.files.find((x) => x.path.endsWith('.cu'))!.contents;
  const torch = r.files.find((x) => x.path.endsWith('_torch.py'))!.contents;
  assert.is(r.program!.manifest.arch, 'sm_90a');
  assert.match(torch, /_ARCH = "9\.0a"/);
  assert.match(cu, /attnc_wgmma_m64n64k16_bf16_ss\(Sm \+ /, 'scores: A and B by descriptor');
  assert.match(cu, /attnc_wgmma_m64n128k16_bf16_rs_tb\(Acc \+ /, 'P·V: A from registers, V MN-major');
  const kernel = cu.slice(cu.indexOf('attnc_softmax_attention('), cu.indexOf('// ── host side'));
  assert.not.match(kernel, /attnc_ldsm_|attnc_mma_bf16\(/, 'no mma.sync left in the flash kernel');
  // Q's rows permuted for the fragments; K and V in the plain core layout; every barrier fenced for the async proxy.
  assert.match(cu, /Q\[attnc_core_at\(attnc_wg_row\(r, 2\), c, 16, 72\)\]/);
  assert.match(cu, /Kt\[attnc_core_at\(r, c, 16, 72\)\]/);
  assert.match(cu, /Vt\[attnc_core_at\(r, c, 16, 72\)\]/);
  assert.not.match(cu.replace(/attnc_fence_async_shared\(\); __syncthreads\(\);/g, ''), /__syncthreads\(\);/, 'a barrier without the proxy fence');
  // Turned off, and on sm_80 even when asked: mma.sync, sm_80/sm_90.
  const plain = program('softmax', { warpgroupMma: false });
  assert.is(plain.program!.manifest.arch, 'sm_90');
  assert.not.match(plain.files.find((x) => x.path.endsWith('.cu'))!.contents, /wgmma/);
  assert.match(plain.files.find((x) => x.path.endsWith('_torch.py'))!.contents, /_ARCH = None/);
  const sm80 = program('softmax', { warpgroupMma: true }, 'cuda-sm80');
  assert.is(sm80.program!.manifest.arch, 'sm_80');
  assert.not.match(sm80.files.find((x) => x.path.endsWith('.cu'))!.contents, /wgmma/);
});

test('the chunk form ignores it: no row-owned matmul output, every kernel as before', () => {
  const a = program('gated_deltanet', { warpgroupMma: true }).files.find((x) => x.path.endsWith('.cu'))!.contents;
  const b = program('gated_deltanet', {}).files.find((x) => x.path.endsWith('.cu'))!.contents;
  assert.is(a, b);
});

test('nvcc builds the softmax family with wgmma for sm_90a without a spill or serialised instructions', () => {
  const dir = mkdtempSync(join(tmpdir(), 'attnc-wgmma-'));
  try {
    for (const [spec, plan] of [['softmax', {}], ['alibi', {}], ['swa_sink', {}], ['forgetting_attention', {}], ['gated_softmax', {}], ['softmax', { chunk: 64, tiles: { BK: 128 } }]] as const) {
      const label = `${spec} ${JSON.stringify(plan)}`;
      const r = program(spec, { warpgroupMma: true, ...plan });
      assert.is(r.program!.manifest.arch, 'sm_90a', label);
      const sub = join(dir, `${spec}_${Object.keys(plan).length}`);
      spawnSync('mkdir', ['-p', sub]);
      for (const x of r.files) writeFileSync(join(sub, x.path), x.contents);
      const file = join(sub, `${spec}.cu`);
      // -arch=sm_90a also builds compute_90 PTX, where the instructions become traps (ATTNC_NO_WGMMA).
      const out = spawnSync('nvcc', ['-c', '-arch=sm_90a', '-std=c++17', '-O3', '-Xptxas', '-v', '-o', file.replace(/\.cu$/, '.o'), file], { encoding: 'utf8' });
      const text = `${out.stdout ?? ''}${out.stderr ?? ''}`;
      assert.is(out.status, 0, `${label}: nvcc failed:\n${text.slice(0, 3000)}`);
      assert.not.match(text, /C7510|C7512|C7519|serialized/, `${label}: ptxas fenced or serialised the wgmma pipeline:\n${text.slice(0, 2000)}`);
      const entry = parsePtxas(text).find((e) => e.fn === `attnc_${spec}_attention` && e.arch === 'sm_90a');
      assert.ok(entry, `${label}: ptxas reports the flash kernel for sm_90a`);
      assert.is(entry!.spillStores + entry!.spillLoads + entry!.stack, 0, `${label}: spills (${entry!.registers} registers)`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
