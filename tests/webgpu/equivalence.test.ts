/**
 * WGSL on a real WebGPU implementation (Dawn; lavapipe in CI) against the float64 reference:
 * every stdlib spec, every kernel form, f32 and f16 storage, a ragged T with initial and final
 * states, and a packed cu_seqlens batch. Relative RMSE ≤ 1e-4 (f32), ≤ 5e-3 (f16). Every shader
 * must compile without a message, and no WebGPU validation error may occur.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { webgpuManifest } from '../../backends/wgsl/manifest.ts';
import { deviceProfile } from '../../backends/wgsl/node-device.ts';
import { AttentionKernels, floatToHalf, halfToFloat } from '../../backends/wgsl/runtime.ts';
import type { AttentionIR } from '../../compiler/ir/attention-ir.ts';
import { interpret } from '../../compiler/interp/interpret.ts';
import { type RunInputs } from '../../compiler/interp/inputs.ts';
import { randomInputs } from '../../compiler/interp/random.ts';
import { compareTensors } from '../../compiler/interp/tensor.ts';
import { plan } from '../../compiler/passes/pipeline.ts';
import type { KernelForm } from '../../compiler/passes/plan.ts';
import { PROFILES } from '../../compiler/targets/profiles.ts';
import { renderDiagnostics } from '../../compiler/diagnostics/render.ts';
import { releaseGpu, scoped, testGpu } from '../helpers/gpu.ts';
import { stdlibFiles } from '../helpers/stdlib.ts';
import { stdlibIR } from '../helpers/ir.ts';

// M is left as declared: cosFormer's re-weighting needs M ≥ T (Performer's M = 128 random features is fine).
const DIMS = { K: 16, V: 12, D: 16, W: 24, S: 2 };

/** Round the real inputs to f16, as an f16 kernel sees them. */
function toHalf(ir: AttentionIR, run: RunInputs): RunInputs {
  const tensors = { ...run.tensors };
  for (const i of ir.inputs) if (i.type === 'real' && tensors[i.name]) tensors[i.name] = { ...tensors[i.name]!, data: Float64Array.from(halfToFloat(floatToHalf(tensors[i.name]!.data))) };
  return { ...run, tensors };
}

async function check(ir: AttentionIR, form: KernelForm, dtype: 'f32' | 'f16', profileName: string, run: RunInputs, label: string) {
  const gpu = await testGpu();
  if (dtype === 'f16' && !gpu.device.features.has('shader-f16')) assert.unreachable('the test device has no shader-f16');
  const profile = deviceProfile(PROFILES[profileName]!, gpu.device);
  const p = plan(ir, profileName, { form, dtype, chunk: 32 });
  assert.ok(p.program, renderDiagnostics(p.diagnostics));
  const man = webgpuManifest(ir, p.program!, { ...profile, name: profileName }, dtype);
  const kernels = new AttentionKernels(gpu.device, man);
  const msgs = await kernels.compilationMessages();
  assert.equal(msgs, [], `${label}: shader compilation messages`);
  const input = dtype === 'f16' ? toHalf(ir, run) : run;
  const tensors = Object.fromEntries(Object.entries(input.tensors).map(([n, t]) => [n, t.data]));
  const dims = { B: run.tensors[ir.inputs.find((i) => i.type === 'real')!.name]!.shape[0]!, T: run.tensors[ir.inputs.find((i) => i.type === 'real')!.name]!.shape[1]!, H: 2, ...(run.cuSeqlens ? { cuSeqlens: run.cuSeqlens } : {}) };
  const init = input.initialState ? { S: input.initialState.S.data, ...(input.initialState.z ? { z: input.initialState.z.data } : {}), ...(input.initialState.m ? { m: input.initialState.m.data } : {}) } : undefined;
  const res = await scoped(gpu.device, () => kernels.run(tensors, dims, init));
  kernels.destroy();
  const ref = interpret(ir, input, { form: 'recurrent', outputFinalState: true });
  const tol = dtype === 'f32' ? 1e-4 : 5e-3;
  const e = compareTensors(Float64Array.from(res.output), ref.output!.data);
  assert.ok(e.relErr <= tol, `${label}: output rel. error ${e.relErr.toExponential(2)} > ${tol}`);
  if (ref.finalState && res.finalState) {
    const s = compareTensors(Float64Array.from(res.finalState.S), ref.finalState.S.data);
    assert.ok(s.relErr <= tol, `${label}: final state rel. error ${s.relErr.toExponential(2)}`);
  }
}

for (const f of stdlibFiles().filter((x) => !process.env['ATTNC_SPEC'] || x.name === process.env['ATTNC_SPEC'])) {
  test(`${f.name}: WGSL = reference (f32 and f16, every form)`, async () => {
    const ir = stdlibIR(f.name, DIMS);
    const recurrent = ir.family === 'recurrent';
    const forms: KernelForm[] = recurrent ? ['chunk', 'recurrent'] : ['parallel'];
    const ragged = randomInputs(ir, { B: 2, T: 100, H: 2, seed: 51, initialState: recurrent });
    const packed = randomInputs(ir, { B: 1, T: 160, H: 2, seed: 52, initialState: recurrent, cuSeqlens: [0, 57, 57, 160] });
    for (const form of forms) {
      for (const dtype of ['f32', 'f16'] as const) await check(ir, form, dtype, 'webgpu-large', ragged, `${f.name} ${form} ${dtype}`);
      await check(ir, form, 'f32', 'webgpu-large', packed, `${f.name} ${form} packed`);
      await check(ir, form, 'f32', 'webgpu-default', ragged, `${f.name} ${form} webgpu-default`);
    }
  });
}

test('T = 256 with the standard chunk of 64 (GLA, Gated DeltaNet, softmax)', async () => {
  for (const name of ['gla', 'gated_deltanet', 'softmax']) {
    const ir = stdlibIR(name, DIMS);
    const run = randomInputs(ir, { B: 1, T: 256, H: 2, seed: 53, initialState: ir.family === 'recurrent' });
    await check(ir, ir.family === 'softmax' ? 'parallel' : 'chunk', 'f32', 'webgpu-large', run, `${name} T=256`);
  }
});

test.after(async () => {
  await releaseGpu();
});

test.run();
