/**
 * Key slices staged through registers (build-chunk.ts: `sliceOf`, `primeSlices`): in the fused
 * chunk kernel with several key slices, each slice's q, k and vector gate (and the state update's
 * k, and b of a DPLR update) are loaded one slice ahead into register tiles and copied into the shared tiles
 * at the top of the next slice. For each update class — additive (a scalar and a vector gate),
 * mLSTM's stabilised one, the delta rule with no gate, a scalar gate (its row decays applied after
 * the slice loop) and a vector gate (KDA), DPLR — with K' = 32 and key
 * slices of 8 (four per chunk): the program stages its slices — and the chunk's values, scalar
 * log-gates and β one chunk ahead (`chunkInput`; T = 45: a ragged last chunk) — the strict kernel-IR interpreter
 * (bounds, barriers, races) equals the reference to 1e-9, and Dawn's run of the WGSL to 1e-4 (the
 * delta rule's solve there written out in full: WgslPrinter.unrolledSolveRows).
 */
import { test } from 'uvu';
import { forEachStmt, walkSExpr } from '../../compiler/kernel-ir/analysis.ts';
import * as assert from 'uvu/assert';
import { webgpuManifest } from '../../backends/wgsl/manifest.ts';
import { deviceProfile } from '../../backends/wgsl/node-device.ts';
import { AttentionKernels } from '../../backends/wgsl/runtime.ts';
import { renderDiagnostics } from '../../compiler/diagnostics/render.ts';
import { interpret } from '../../compiler/interp/interpret.ts';
import { randomInputs } from '../../compiler/interp/random.ts';
import { compareTensors } from '../../compiler/interp/tensor.ts';
import { prepareHostRun, readOutputs } from '../../compiler/kernel-ir/host.ts';
import { runProgram } from '../../compiler/kernel-ir/interp.ts';
import { plan } from '../../compiler/passes/pipeline.ts';
import { PROFILES } from '../../compiler/targets/profiles.ts';
import { releaseGpu, scoped, testGpu } from '../helpers/gpu.ts';
import { stdlibIR } from '../helpers/ir.ts';
import type { AttentionIR } from '../../compiler/ir/attention-ir.ts';
import type { Program, Stmt } from '../../compiler/kernel-ir/types.ts';

/**
 * The program on seeded inputs (B=2, T=45: a ragged last chunk, with an initial state) equals the
 * reference: the strict kernel-IR interpreter (bounds, barriers, races) to 1e-9, Dawn's run of the
 * WGSL to 1e-4, output and final state.
 */
async function matchesReference(name: string, ir: AttentionIR, program: Program): Promise<void> {
  const inputs = randomInputs(ir, { B: 2, T: 45, H: 2, seed: 61, initialState: true });
  const ref = interpret(ir, inputs, { form: 'recurrent', outputFinalState: true });

  const h = prepareHostRun(ir, program, inputs, true);
  assert.ok(h.host, renderDiagnostics(h.diagnostics));
  runProgram(program, h.host!.buffers, h.host!.params);
  const got = readOutputs(ir, h.host!, true);
  assert.ok(compareTensors(got.output.data, ref.output!.data).relErr <= 1e-9, `${name}: kernel-IR interpreter output`);
  assert.ok(compareTensors(got.finalState!.S.data, ref.finalState!.S.data).relErr <= 1e-9, `${name}: kernel-IR interpreter final state`);

  const gpu = await testGpu();
  const man = webgpuManifest(ir, program, { ...deviceProfile(PROFILES['webgpu-large']!, gpu.device), name: 'webgpu-large' }, 'f32');
  const kernels = new AttentionKernels(gpu.device, man);
  assert.equal(await kernels.compilationMessages(), [], `${name}: shader compilation messages`);
  // Chunks of 16: the delta rule's solve is written out (its last product: row 15, column 14,
  // into the third of that row's four sums).
  if (/deltanet|kda/.test(name)) assert.match(man.kernels.find((x) => x.name.endsWith('_chunk'))!.code, /(xp\d+) = \1 - Akk\[15 \* 16 \+ 14\] \* xs\d+;/);
  const shape = inputs.tensors[ir.inputs.find((i) => i.type === 'real')!.name]!.shape;
  const tensors = Object.fromEntries(Object.entries(inputs.tensors).map(([n, t]) => [n, t.data]));
  const init = { S: inputs.initialState!.S.data, ...(inputs.initialState!.z ? { z: inputs.initialState!.z.data } : {}), ...(inputs.initialState!.m ? { m: inputs.initialState!.m.data } : {}) };
  const res = await scoped(gpu.device, () => kernels.run(tensors, { B: shape[0]!, T: shape[1]!, H: shape[2]! }, init));
  kernels.destroy();
  const e = compareTensors(Float64Array.from(res.output), ref.output!.data);
  assert.ok(e.relErr <= 1e-4, `${name}: WGSL output rel. error ${e.relErr.toExponential(2)}`);
  const s = compareTensors(Float64Array.from(res.finalState!.S), ref.finalState!.S.data);
  assert.ok(s.relErr <= 1e-4, `${name}: WGSL final state rel. error ${s.relErr.toExponential(2)}`);
}

const SPECS = ['linear_attention', 'gla', 'mlstm', 'deltanet', 'gated_deltanet', 'kda', 'rwkv7'];

for (const name of SPECS) {
  test(`${name}: fused chunk kernel with key slices staged through registers = reference`, async () => {
    const ir = stdlibIR(name, { K: 32, V: 16 });
    const p = plan(ir, 'webgpu-large', { form: 'chunk', split: false, chunk: 16, tiles: { BK: 8 } });
    assert.ok(p.program, renderDiagnostics(p.diagnostics));
    const k = p.program!.kernels.find((x) => x.name.endsWith('_chunk'))!;
    const stages = k.tiles.filter((t) => t.space === 'register' && /^P/.test(t.name)).map((t) => t.name);
    assert.ok(stages.includes('PQs') && stages.includes('PKs'), `${name}: staged tiles ${stages.join(', ')}`);
    // Vector gates (GLA, KDA, RWKV-7) stage their slice of log-gates too.
    assert.is(stages.includes('PGs'), ['gla', 'kda', 'rwkv7'].includes(name), `${name}: staged tiles ${stages.join(', ')}`);
    // A chunk's values, scalar log-gates and β are staged a chunk ahead (chunkInput); the delta
    // rules read the values from their stage in place (no shared copy Vc).
    assert.ok(stages.includes('PVc'), `${name}: values staged`);
    const delta = ['deltanet', 'gated_deltanet', 'kda'].includes(name);
    assert.is(k.tiles.some((t) => t.name === 'Vc'), !delta, `${name}: a shared copy of the values`);
    // Delta rules: no prime of q's slices at the top of a chunk — the previous chunk's last q slice
    // issued the loads of this chunk's first (a select on k0 + BK ≥ K picks the next chunk's rows).
    const loop = k.body.find((x) => x.op === 'for')!;
    const qStages: import('../../compiler/kernel-ir/types.ts').Stmt[] = [];
    forEachStmt([loop], (x) => void (x.op === 'map' && x.dst.tile === 'PQs' && qStages.push(x)));
    const wrapping = qStages.filter((x) => x.op === 'map' && x.guard?.rows.k === 'sel');
    assert.is(wrapping.length, delta ? 1 : 0, `${name}: wrapping prefetches of q`);
    if (delta) assert.is(qStages.length, 1, `${name}: q slices staged only from the slice loop`);
    assert.is(stages.includes('PGc'), ['mlstm', 'gated_deltanet'].includes(name), `${name}: scalar gate staged`);
    assert.is(stages.includes('PBt'), ['deltanet', 'gated_deltanet', 'kda'].includes(name), `${name}: β staged`);
    // l2norm feature maps: KDA (vector gate) stages the prepared factors 1/‖q‖, 1/‖k‖ of the chunk's
    // rows with them; the scalar-gated delta rules compute them from their key slices.
    assert.is(stages.includes('PQn') && stages.includes('PKn'), name === 'kda', `${name}: row factors staged`);
    assert.is(p.program!.kernels.some((x) => x.name.endsWith('_prepare')), ['kda', 'rwkv7'].includes(name), `${name}: a prepare kernel`);
    await matchesReference(name, ir, p.program!);
  });
}

// Two key slices and a scalar gate (or none): the state update takes k from the scores' loop
// (the first slice kept in registers, Kr; k is loaded once per chunk), scales both slices into Qs
// and Ks before the solve, and updates both halves of the state in the output's phase, with no
// barrier between the two products (they write disjoint rows of S: tileBlocks).
for (const name of ['deltanet', 'gated_deltanet']) {
  test(`${name}: both key slices of the state update in one phase = reference`, async () => {
    const ir = stdlibIR(name, { K: 32, V: 16 });
    const p = plan(ir, 'webgpu-large', { form: 'chunk', split: false, chunk: 16, tiles: { BK: 16 } });
    assert.ok(p.program, renderDiagnostics(p.diagnostics));
    const k = p.program!.kernels.find((x) => x.name.endsWith('_chunk'))!;
    assert.ok(k.tiles.some((t) => t.name === 'Kr' && t.space === 'register'), `${name}: the first slice kept in registers`);
    const loop = k.body.find((x): x is Extract<Stmt, { op: 'for' }> => x.op === 'for' && x.v === 'c0')!;
    let kLoads = 0;
    forEachStmt(loop.body, (x) => {
      if (x.op !== 'map') return;
      let reads = false;
      walkSExpr(x.expr, (e) => void (e.k === 'ld' && e.buf === 'in_k' && (reads = true)));
      if (reads) kLoads++;
    });
    assert.is(kLoads, 1, `${name}: k is loaded once per chunk (the scores' stage)`);
    // One loop over key slices (the scores); the update's two products follow each other.
    assert.is(loop.body.filter((x) => x.op === 'for' && x.v === 'k0').length, 1, `${name}: key-slice loops`);
    const stores = loop.body.map((x, i) => (x.op === 'store' ? i : -1)).filter((i) => i >= 0);
    const tail = loop.body.slice(stores[stores.length - 1]);
    const ops = tail.filter((x) => x.op === 'matmul' || x.op === 'barrier').map((x) => (x.op === 'matmul' ? `S@${x.dst.r0 && x.dst.r0.k === 'const' ? x.dst.r0.v : '?'}` : 'barrier'));
    assert.equal(ops, ['S@0', 'S@16', 'barrier'], `${name}: the update phase`);
    await matchesReference(name, ir, p.program!);
  });
}

test('with one key slice no key slice is staged (the chunk inputs still are); on CUDA nothing is', () => {
  const ir = stdlibIR('gated_deltanet', { K: 32, V: 16 });
  const p = plan(ir, 'webgpu-large', { form: 'chunk', split: false, chunk: 16, tiles: { BK: 32 } });
  const k = p.program!.kernels.find((x) => x.name.endsWith('_chunk'))!;
  assert.equal(k.tiles.filter((t) => /^P/.test(t.name)).map((t) => t.name), ['PGc', 'PBt', 'PQn', 'PKn', 'PVc']);
  const cuda = plan(ir, 'cuda-sm90', { form: 'chunk', split: false, chunk: 16, tiles: { BK: 8 } });
  assert.equal(cuda.program!.kernels.find((x) => x.name.endsWith('_chunk'))!.tiles.filter((t) => /^P/.test(t.name)).map((t) => t.name), []);
});

test.after(releaseGpu);
test.run();
