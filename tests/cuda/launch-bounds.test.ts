/**
 * `__launch_bounds__(threads, minBlocks)` of the CUDA kernels: minBlocks is as many blocks as the
 * block's shared memory lets an SM hold, capped so each thread keeps at least 128 registers
 * (tests/cuda/compile.test.ts then checks that ptxas fits them without spilling).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compileCuda, type CudaCompileOptions } from '../../backends/cuda/index.ts';
import { minBlocksPerUnit } from '../../backends/cuda/occupancy.ts';
import { lowerSource } from '../../compiler/pipeline.ts';
import { PROFILES } from '../../compiler/targets/profiles.ts';
import { stdlibFiles } from '../helpers/stdlib.ts';

const sm90 = PROFILES['cuda-sm90']!.limits.unit;

test('minBlocksPerUnit: shared memory bounds the blocks, 128 registers per thread caps them', () => {
  assert.ok(sm90, 'cuda-sm90 describes an SM');
  assert.is(minBlocksPerUnit(256, 78464, sm90), 2); // two 77 KiB blocks (+1 KiB each) in 228 KiB
  assert.is(minBlocksPerUnit(256, 75 * 1024, sm90), 2); // three fit by shared memory, but 3 × 256 × 128 > 65536
  assert.is(minBlocksPerUnit(256, 165408, sm90), 1); // a 162 KiB block: one per SM
  assert.is(minBlocksPerUnit(256, 113 * 1024, sm90), 2); // 2 × (113 + 1) KiB = 228 KiB: just fits
  assert.is(minBlocksPerUnit(256, 114 * 1024, sm90), 1); // 2 × 115 KiB does not
  assert.is(minBlocksPerUnit(256, 98336, sm90, 86), 1); // the bf16 flash kernel's row-owned tiles: 86 + 48 registers
  assert.is(minBlocksPerUnit(256, 98336, sm90, 64), 2); // 64 + 48 ≤ 128
  assert.is(minBlocksPerUnit(128, 98336, sm90, 172), 2); // 128 threads: 2 × 128 × (172 + 48) ≤ 65536
  assert.is(minBlocksPerUnit(128, 30000, sm90), 4); // seven by shared memory, four by registers
  assert.is(minBlocksPerUnit(256, 300 * 1024, sm90), 1); // never below one
  assert.is(minBlocksPerUnit(256, 1000, PROFILES['cuda-sm80']!.limits.unit), 1); // cuda-sm80 leaves it to ptxas
  assert.is(minBlocksPerUnit(128, 34416, sm90), 4); // the decode kernel: six by shared memory, four by 128 registers
  assert.is(minBlocksPerUnit(128, 34416, sm90, 0, 80), 6); // a floor of 80 registers: six
});

/** The minimum-blocks argument of each kernel's launch bounds in the .cu of a spec (bf16, cuda-sm90). */
function bounds(spec: string, o: Pick<CudaCompileOptions, 'form' | 'plan'> = {}): Map<string, string> {
  const f = stdlibFiles().find((x) => x.name === spec)!;
  const ir = lowerSource(f.text, f.path).irs[0]!;
  const cu = compileCuda(ir, { profile: 'cuda-sm90', dtype: 'bf16', ...o }).files.find((x) => x.path.endsWith('.cu'))!.contents;
  const out = new Map<string, string>();
  for (const m of cu.matchAll(/__launch_bounds__\((\d+), (\d+)\) attnc_(\w+)\(/g)) out.set(m[3]!, `${m[1]}, ${m[2]}`);
  return out;
}

test('the printed kernels carry the bound: two state-kernel blocks per SM, two softmax blocks of 128 threads', () => {
  const gdn = bounds('gated_deltanet');
  assert.is(gdn.get('gated_deltanet_chunk'), '256, 2', 'Gated DeltaNet state kernel (77 KiB of shared tiles)');
  assert.is(bounds('softmax').get('softmax_attention'), '128, 2', 'softmax: 128 threads, 68 KiB of shared tiles, 204 words of row-owned tiles per thread (key tiles of 64)');
});

test("the decode kernel's register floor: cuda-sm90's recurrentRegisterFloor (88: five blocks), PlanOptions.registerFloor over it", () => {
  assert.is(bounds('gated_deltanet', { form: 'recurrent' }).get('gated_deltanet_recurrent'), '128, 5');
  assert.is(bounds('gated_deltanet', { form: 'recurrent', plan: { registerFloor: 80 } }).get('gated_deltanet_recurrent'), '128, 6');
  assert.is(bounds('gated_deltanet', { form: 'recurrent', plan: { registerFloor: 128 } }).get('gated_deltanet_recurrent'), '128, 4');
  // The chunk form keeps the default floor of 128.
  assert.is(bounds('gated_deltanet').get('gated_deltanet_chunk'), '256, 2');
});

test("the intra-chunk kernel's register floor: cuda-sm90's intraRegisterFloor (64: four blocks) without vector gates, 128 under them", () => {
  const gdn = bounds('gated_deltanet');
  assert.is(gdn.get('gated_deltanet_intra'), '256, 4');
  // The state kernel keeps the default floor, and so does the prepare kernel where there is one
  // (the intra-chunk kernel computes the l2norm factors by default: PlanOptions.intraNorms).
  assert.is(gdn.get('gated_deltanet_chunk'), '256, 2');
  assert.not.ok(gdn.has('gated_deltanet_prepare'));
  assert.is(bounds('gated_deltanet', { plan: { intraNorms: false } }).get('gated_deltanet_prepare'), '256, 2');
  assert.is(bounds('deltanet').get('deltanet_intra'), '256, 4');
  // Vector gates: RWKV-6's intra kernel spilled at 64.
  assert.is(bounds('rwkv6').get('rwkv6_intra'), '256, 2');
  // An explicit floor wins.
  assert.is(bounds('gated_deltanet', { plan: { registerFloor: 128 } }).get('gated_deltanet_intra'), '256, 2');
});

test.run();
