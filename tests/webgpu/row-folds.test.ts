/**
 * Row folds of the WGSL backend (the shared printer's parallel fold): a map over a column tile
 * whose value folds along a row — the sum of squares of an L2 norm in the prepare kernel, a
 * softmax row max or sum — has G threads per row fold every G-th term and combine their parts
 * with subgroupShuffleXor, G at most the profile's smallest subgroup, where a device check found
 * the subgroups laid out along local_invocation_index (probeSubgroupLayout). Checked: the printed
 * form (and `enable subgroups;` with the 'subgroups' feature in the manifest), none for the fixed
 * profiles, and Gated DeltaNet on Dawn against the reference: the split form's prepare kernel
 * (q and k L2-normed over 128 features) and the fused chunk kernel's sums of squares of its slices.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { emitWgslKernel } from '../../backends/wgsl/emit.ts';
import { webgpuManifest } from '../../backends/wgsl/manifest.ts';
import { deviceProfile, probeSubgroupLayout } from '../../backends/wgsl/node-device.ts';
import { AttentionKernels } from '../../backends/wgsl/runtime.ts';
import { renderDiagnostics } from '../../compiler/diagnostics/render.ts';
import { interpret } from '../../compiler/interp/interpret.ts';
import { randomInputs } from '../../compiler/interp/random.ts';
import { compareTensors } from '../../compiler/interp/tensor.ts';
import { plan } from '../../compiler/passes/pipeline.ts';
import { PROFILES, type TargetProfile } from '../../compiler/targets/profiles.ts';
import { releaseGpu, scoped, testGpu } from '../helpers/gpu.ts';
import { stdlibIR } from '../helpers/ir.ts';

const withSubgroups = (min: number): TargetProfile => ({ ...PROFILES['webgpu-large']!, features: { ...PROFILES['webgpu-large']!.features, subgroups: true, subgroupSize: [min, 128], subgroupLanesLinear: true } });

function prepareWgsl(profile: TargetProfile): string {
  // The split form with the factors from a prepare kernel (PlanOptions.intraNorms false; by
  // default its intra-chunk kernel folds the same rows by the same printing, and the fused form
  // computes the factors itself).
  const p = plan(stdlibIR('gated_deltanet', { K: 128, V: 128 }), profile, { form: 'chunk', split: true, threads: 512, intraNorms: false });
  assert.ok(p.program, renderDiagnostics(p.diagnostics));
  return emitWgslKernel(p.program!.kernels.find((k) => k.name.endsWith('_prepare'))!, profile, 'test').code;
}

test('the sum of squares of a 128-wide row is folded by G threads, G = the smallest subgroup (up to 32 and to threads ÷ rows)', () => {
  // The prepare kernel holds 32 tokens of 1/‖q‖ and 1/‖k‖ (the rows themselves are not stored):
  // 32 rows × 16 lanes fill its 512 threads.
  const p = plan(stdlibIR('gated_deltanet', { K: 128, V: 128 }), withSubgroups(32), { form: 'chunk', split: true, threads: 512, intraNorms: false });
  assert.equal([p.tiling!.prepareRows, p.tiling!.threads], [32, 512]);
  for (const [min, G] of [[4, 4], [8, 8], [32, 16], [64, 16]] as const) {
    const code = prepareWgsl(withSubgroups(min));
    assert.match(code, /^enable subgroups;$/m);
    const folds = [...code.matchAll(/the fold over \w+ by (\d+) threads per row, combined by lane exchanges/g)].map((m) => Number(m[1]));
    assert.equal(folds, [G, G], `subgroups of at least ${min}: one fold each for q and k`);
    const offs = [...code.matchAll(/subgroupShuffleXor\(part\d+, (\d+)u\)/g)].map((m) => Number(m[1]));
    const once: number[] = [];
    for (let o = G / 2; o >= 1; o /= 2) once.push(o);
    assert.equal(offs, [...once, ...once]);
  }
});

test('fixed profiles exchange nothing between lanes: the fold runs in one thread per row, no feature is required', () => {
  // webgpu-default has no subgroups; webgpu-large and webgpu-naga have them, but whether lanes follow
  // local_invocation_index is known only on a device (probeSubgroupLayout).
  const ir = stdlibIR('gated_deltanet', { K: 128, V: 128 });
  for (const name of ['webgpu-default', 'webgpu-large', 'webgpu-naga']) {
    assert.not.match(prepareWgsl(PROFILES[name]!), /subgroup/, name);
    assert.not.ok(webgpuManifest(ir, plan(ir, name, { form: 'chunk' }).program!, PROFILES[name]!, 'f32').requiredFeatures.includes('subgroups'), name);
  }
  // Subgroups without the lane layout: none either.
  const unchecked: TargetProfile = { ...withSubgroups(32), features: { ...withSubgroups(32).features, subgroupLanesLinear: false } };
  assert.not.match(prepareWgsl(unchecked), /subgroup/);
});

test("Gated DeltaNet (K' = V' = 128) on Dawn with the adapter's subgroups = reference", async () => {
  const gpu = await testGpu();
  if (!gpu.device.features.has('subgroups')) assert.unreachable('the test device has no subgroups');
  const profile = deviceProfile(PROFILES['webgpu-large']!, gpu.device);
  assert.ok(profile.features.subgroupLanesLinear, "the probe found the test device's subgroups laid out along local_invocation_index");
  assert.ok(await probeSubgroupLayout(gpu.device));
  const ir = stdlibIR('gated_deltanet', { K: 128, V: 128 });
  const inputs = randomInputs(ir, { B: 1, T: 40, H: 2, seed: 71 });
  const tensors = Object.fromEntries(Object.entries(inputs.tensors).map(([n, t]) => [n, t.data]));
  const ref = interpret(ir, inputs, { form: 'recurrent' });
  // Split: the intra-chunk kernel folds its chunk's rows' squares (or, with intraNorms false, the
  // prepare kernel); fused: the chunk kernel folds its key slices'.
  for (const [split, intraNorms, folder] of [[true, true, '_intra'], [true, false, '_prepare'], [false, true, '_chunk']] as const) {
    const p = plan(ir, profile, { form: 'chunk', split, intraNorms });
    assert.ok(p.program, renderDiagnostics(p.diagnostics));
    const man = webgpuManifest(ir, p.program!, profile, 'f32');
    assert.is(man.kernels.some((k) => k.name.endsWith('_prepare')), folder === '_prepare', `${folder}: a prepare kernel only where it folds`);
    assert.match(man.kernels.find((k) => k.name.endsWith(folder))!.code, /subgroupShuffleXor/);
    const kernels = new AttentionKernels(gpu.device, man);
    assert.equal(await kernels.compilationMessages(), []);
    const res = await scoped(gpu.device, () => kernels.run(tensors, { B: 1, T: 40, H: 2 }));
    kernels.destroy();
    const e = compareTensors(Float64Array.from(res.output), ref.output!.data);
    assert.ok(e.relErr <= 1e-4, `${folder}: output rel. error ${e.relErr.toExponential(2)}`);
  }
});

test.after(releaseGpu);
test.run();
