/**
 * The split chunk form's scratch between its kernels (compiler/passes/buffers.ts splitBuffers): the
 * intra-chunk weights `w_a`, and the delta rules' corrected values (`w_x`, correctedValues), are
 * stored in 16 bits exactly where the output kernel alone reads them with 16-bit tensor-core
 * operands (halfWeights) — it rounded the f32 values to those bits itself before — and stay f32
 * wherever another kernel reads them or the program is f32.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compileCuda } from '../../backends/cuda/index.ts';
import type { Dtype } from '../../compiler/kernel-ir/types.ts';
import type { PlanOptions } from '../../compiler/passes/plan.ts';
import { lowerSource } from '../../compiler/pipeline.ts';
import { stdlibFiles } from '../helpers/stdlib.ts';

/** The kernels taking scratch buffer `buf` (w_a unless given), with its C type (`const` where the kernel only reads it). */
function weightReaders(spec: string, dtype: Dtype, plan: PlanOptions = {}, profile = 'cuda-sm90', buf = 'w_a'): Map<string, string> {
  const f = stdlibFiles().find((x) => x.name === spec)!;
  const cu = compileCuda(lowerSource(f.text, f.path).irs[0]!, { profile, dtype, plan, shapePlans: false }).files.find((x) => x.path.endsWith('.cu'))!.contents;
  const out = new Map<string, string>();
  for (const m of cu.matchAll(/__global__ void __launch_bounds__\([^)]*\) (\w+)\(([^{]*)\{/g)) {
    const arg = new RegExp(`(const )?(__nv_bfloat16|__half|float)\\* __restrict__ ${buf}\\b`).exec(m[2]!);
    if (arg) out.set(m[1]!, buf === 'w_a' ? arg[2]! : `${arg[1] ?? ''}${arg[2]!}`);
  }
  return out;
}

test('three kernels, 16-bit program: w_a in 16 bits, written by the intra kernel and read by the output kernel alone', () => {
  for (const [spec, dtype, type] of [['gated_deltanet', 'bf16', '__nv_bfloat16'], ['deltanet', 'bf16', '__nv_bfloat16'], ['gla', 'bf16', '__nv_bfloat16'], ['retnet', 'f16', '__half']] as const) {
    const readers = weightReaders(spec, dtype, { outputKernel: true });
    assert.equal([...readers.keys()].sort(), [`attnc_${spec}_intra`, `attnc_${spec}_output`], `${spec}: the kernels taking w_a`);
    for (const [k, t] of readers) assert.is(t, type, `${spec} ${dtype}: ${k}'s w_a`);
  }
});

test('w_a stays f32 in f32 programs and where the state kernel reads it (two kernels)', () => {
  for (const [k, t] of weightReaders('gated_deltanet', 'f32', { outputKernel: true })) assert.is(t, 'float', `f32 program: ${k}`);
  const two = weightReaders('gla', 'bf16', { outputKernel: false });
  assert.ok(two.has('attnc_gla_chunk'), 'two kernels: the state kernel reads the weights');
  for (const [k, t] of two) assert.is(t, 'float', `two kernels: ${k}`);
});

test("the delta rules' corrected values: into w_x in 16 bits for the output kernel where it reads them with 16-bit operands, U left f32 and read-only in the state kernel", () => {
  for (const spec of ['gated_deltanet', 'deltanet', 'kda']) {
    assert.equal([...weightReaders(spec, 'bf16', { outputKernel: true }, 'cuda-sm90', 'w_x')], [[`attnc_${spec}_chunk`, '__nv_bfloat16'], [`attnc_${spec}_output`, 'const __nv_bfloat16']], `${spec}: w_x`);
    assert.equal(weightReaders(spec, 'bf16', { outputKernel: true }, 'cuda-sm90', 'w_u').get(`attnc_${spec}_chunk`), 'const float', `${spec}: U in the state kernel`);
  }
  // U already in 16 bits (halfValues): the corrected values go over it, as before; f32: no w_x.
  assert.is(weightReaders('gated_deltanet', 'bf16', { outputKernel: true, halfValues: true }, 'cuda-sm90', 'w_x').size, 0);
  assert.is(weightReaders('gated_deltanet', 'f32', { outputKernel: true }, 'cuda-sm90', 'w_x').size, 0);
  assert.is(weightReaders('gated_deltanet', 'f32', { outputKernel: true }, 'cuda-sm90', 'w_u').get('attnc_gated_deltanet_output'), 'const float');
});

test.run();
