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
import type { KernelForm, PlanOptions } from '../../compiler/passes/plan.ts';
import { PROFILES, type TargetProfile } from '../../compiler/targets/profiles.ts';
import type { Program } from '../../compiler/kernel-ir/types.ts';
import { renderDiagnostics } from '../../compiler/diagnostics/render.ts';
import { releaseGpu, scoped, testGpu } from '../helpers/gpu.ts';
import { stdlibFiles } from '../helpers/stdlib.ts';
import { irFromText, stdlibIR } from '../helpers/ir.ts';

// M is left as declared: cosFormer's re-weighting needs M ≥ T (Performer's M = 128 random features is fine).
const DIMS = { K: 16, V: 12, D: 16, W: 24, S: 2 };

/** Round the real inputs to f16, as an f16 kernel sees them. */
function toHalf(ir: AttentionIR, run: RunInputs): RunInputs {
  const tensors = { ...run.tensors };
  for (const i of ir.inputs) if (i.type === 'real' && tensors[i.name]) tensors[i.name] = { ...tensors[i.name]!, data: Float64Array.from(halfToFloat(floatToHalf(tensors[i.name]!.data))) };
  return { ...run, tensors };
}

/**
 * Plan for a profile (a name, or an explicit profile: its limits drive the plan; the device's
 * software-adapter flag still applies to the printed shaders), run on Dawn, compare.
 */
async function check(ir: AttentionIR, form: KernelForm, dtype: 'f32' | 'f16', target: string | TargetProfile, run: RunInputs, label: string, extra: PlanOptions = {}): Promise<Program> {
  const gpu = await testGpu();
  if (dtype === 'f16' && !gpu.device.features.has('shader-f16')) assert.unreachable('the test device has no shader-f16');
  const base = typeof target === 'string' ? PROFILES[target]! : target;
  const profile = deviceProfile(base, gpu.device);
  const p = plan(ir, target, { form, dtype, chunk: 32, ...extra });
  assert.ok(p.program, renderDiagnostics(p.diagnostics));
  const man = webgpuManifest(ir, p.program!, { ...profile, name: base.name }, dtype);
  const kernels = new AttentionKernels(gpu.device, man);
  const msgs = await kernels.compilationMessages();
  assert.equal(msgs, [], `${label}: shader compilation messages`);
  const input = dtype === 'f16' ? toHalf(ir, run) : run;
  const tensors = Object.fromEntries(Object.entries(input.tensors).map(([n, t]) => [n, t.data]));
  const shape = run.tensors[ir.inputs.find((i) => i.type === 'real')!.name]!.shape;
  const dims = { B: shape[0]!, T: shape[1]!, H: shape[2]!, ...(run.cuSeqlens ? { cuSeqlens: run.cuSeqlens } : {}) };
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
  return p.program!;
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

// The delta rules' three-kernel split form with the state kernel's S in registers
// (PlanOptions.stateRegisters): a scalar gate, none and a vector gate, f32 and f16.
test('the delta state kernel with S in registers (Gated DeltaNet, DeltaNet, KDA)', async () => {
  for (const name of ['gated_deltanet', 'deltanet', 'kda']) {
    const ir = stdlibIR(name, DIMS);
    const run = randomInputs(ir, { B: 2, T: 100, H: 2, seed: 55, initialState: true });
    for (const dtype of ['f32', 'f16'] as const) {
      const p = await check(ir, 'chunk', dtype, 'webgpu-large', run, `${name} ${dtype}, S in registers`, { split: true, outputKernel: true, stateRegisters: true });
      assert.is(p.kernels.find((k) => k.name === `${name}_chunk`)!.tiles.find((t) => t.name === 'S')!.space, 'register', `${name}: S in registers`);
    }
  }
});

// Nine per-token inputs: past 8 storage buffers the inputs share the binding packed_in. With f16
// storage they are packed as f16 (two to a 32-bit word), not as f32.
const MANY_INPUTS = `attention many_inputs {
  dims      K = 16, V = 12, E = 3
  input     q: [K], k: [K], v: [V], qg: [K], kg: [K], vg: [V], w: [K], og: [V], s: [E]
  feature   q = q * sigmoid(qg) * K^-0.5
  feature   k = k * sigmoid(kg)
  feature   v = v * sigmoid(vg) * (1 + sum(s) * 0.1)
  gate      -exp(w)
  update    additive
  epilogue  o * sigmoid(og)
  mask      causal
  chunk     32
}
`;

test('f16 storage with packed input bindings (8 storage buffers, shader-f16)', async () => {
  const ir = irFromText(MANY_INPUTS, 'many_inputs.attn', {});
  // webgpu-default's 8 storage buffers, with shader-f16 (as webgpu-naga).
  const profile: TargetProfile = { ...PROFILES['webgpu-default']!, name: 'webgpu-default+f16', features: { ...PROFILES['webgpu-default']!.features, f16: true } };
  // H = 3 and an odd token count: the scalar-per-head and [E] inputs have an odd element count,
  // so an f16 member ends in the middle of a 32-bit word.
  const run = randomInputs(ir, { B: 1, T: 67, H: 3, seed: 54, initialState: true });
  for (const form of ['chunk', 'recurrent'] as const) {
    for (const dtype of ['f16', 'f32'] as const) {
      const p = await check(ir, form, dtype, profile, run, `many_inputs ${form} ${dtype} packed`);
      const packed = p.buffers.filter((b) => b.role === 'input' && b.packedInto);
      assert.is(packed.length, ir.inputs.length, `${form}: every input is packed`);
      for (const b of packed) assert.is(b.dtype, dtype);
    }
  }
});

test.after(async () => {
  await releaseGpu();
});

test.run();
