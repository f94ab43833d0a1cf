/**
 * Translation validation: for every stdlib spec × target profile × kernel form, the planned
 * kernels, executed by the strict kernel-IR interpreter (bounds, barriers, uninitialised reads),
 * equal the reference interpreter to 1e-9 in float64 — with a ragged last chunk, an initial and a
 * final state, and a packed cu_seqlens batch.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { AttentionIR } from '../../compiler/ir/attention-ir.ts';
import { interpret } from '../../compiler/interp/interpret.ts';
import { type RunInputs } from '../../compiler/interp/inputs.ts';
import { randomInputs } from '../../compiler/interp/random.ts';
import { compareTensors } from '../../compiler/interp/tensor.ts';
import { prepareHostRun, readOutputs } from '../../compiler/kernel-ir/host.ts';
import { evalSize, uniformParams } from '../../compiler/kernel-ir/host-contract.ts';
import { runProgram } from '../../compiler/kernel-ir/interp.ts';
import { plan } from '../../compiler/passes/pipeline.ts';
import { shapeVariants } from '../../compiler/passes/shape-plans.ts';
import { PROFILES as TARGETS } from '../../compiler/targets/profiles.ts';
import * as kb from '../../compiler/kernel-ir/build.ts';
import type { KernelForm, PlanOptions } from '../../compiler/passes/plan.ts';
import { renderDiagnostics } from '../../compiler/diagnostics/render.ts';
import { stdlibFiles } from '../helpers/stdlib.ts';
import { stdlibIR } from '../helpers/ir.ts';

const PROFILES = ['webgpu-default', 'webgpu-large', 'cuda-sm80', 'cuda-sm90'];
const TOL = 1e-9;

export function runKernels(ir: AttentionIR, target: string, form: KernelForm, inputs: RunInputs, chunk?: number, dtype?: 'bf16', extra: PlanOptions = {}) {
  const p = plan(ir, target, { form, ...(chunk ? { chunk } : {}), ...(dtype ? { dtype } : {}), ...extra });
  assert.ok(p.program, renderDiagnostics(p.diagnostics));
  const h = prepareHostRun(ir, p.program!, inputs, true);
  assert.ok(h.host, renderDiagnostics(h.diagnostics));
  runProgram(p.program!, h.host!.buffers, h.host!.params);
  return readOutputs(ir, h.host!, true);
}

function validate(ir: AttentionIR, target: string, form: KernelForm, inputs: RunInputs, label: string, chunk?: number, dtype?: 'bf16', extra: PlanOptions = {}) {
  const got = runKernels(ir, target, form, inputs, chunk, dtype, extra);
  const ref = interpret(ir, inputs, { form: 'recurrent', outputFinalState: true });
  const e = compareTensors(got.output.data, ref.output!.data);
  assert.ok(e.relErr <= TOL, `${label}: output rel. error ${e.relErr}`);
  if (ref.finalState) {
    assert.ok(compareTensors(got.finalState!.S.data, ref.finalState.S.data).relErr <= TOL, `${label}: final state`);
    if (ref.finalState.z) assert.ok(compareTensors(got.finalState!.z!.data, ref.finalState.z.data).relErr <= TOL, `${label}: normalizer state`);
    if (ref.finalState.m) assert.ok(compareTensors(got.finalState!.m!.data, ref.finalState.m.data).relErr <= TOL, `${label}: stabiliser`);
  }
}

for (const f of stdlibFiles()) {
  test(`${f.name}: kernels = reference on every profile and form`, () => {
    const ir = stdlibIR(f.name);
    const forms: KernelForm[] = ir.family === 'softmax' ? ['parallel'] : ['chunk', 'recurrent'];
    const recurrent = ir.family === 'recurrent';
    const plain = randomInputs(ir, { B: 2, T: 37, H: 2, seed: 41, initialState: recurrent });
    const packed = randomInputs(ir, { B: 1, T: 53, H: 2, seed: 42, initialState: recurrent, cuSeqlens: [0, 17, 17, 53] });
    for (const target of PROFILES)
      for (const form of forms) {
        validate(ir, target, form, plain, `${target} ${form}`, 16);
        validate(ir, target, form, packed, `${target} ${form} packed`, 16);
      }
  });
}

// The split form with and without the output kernel, whichever the profile picks for the spec:
// the state kernel then stores the state before each chunk (bf16 in bf16 programs, read in float64
// here) and, for delta rules, the corrected values, and the output kernel computes every chunk's
// outputs. Head dims that leave part of a value tile empty (V' = 24) and several value tiles; with
// an additive update the state kernel splits the key rows into tiles of 32 over its workgroups
// (the profile's chunkPlan.stateKeyTile), and K' = 40 leaves the second tile 8 rows.
for (const f of stdlibFiles()) {
  const ir0 = stdlibIR(f.name);
  if (ir0.family !== 'recurrent') continue;
  test(`${f.name}: the split chunk form with and without the output kernel = reference (cuda-sm90, bf16)`, () => {
    for (const dims of [undefined, { K: 12, V: 24 }, { K: 40, V: 24 }]) {
      const ir = stdlibIR(f.name, dims);
      const plain = randomInputs(ir, { B: 2, T: 37, H: 2, seed: 45, initialState: true });
      const packed = randomInputs(ir, { B: 1, T: 53, H: 2, seed: 46, initialState: true, cuSeqlens: [0, 17, 17, 53] });
      for (const outputKernel of [true, false]) {
        const chunk = outputKernel ? 32 : 16;
        const p = plan(ir, 'cuda-sm90', { form: 'chunk', chunk, dtype: 'bf16', outputKernel });
        const names = p.program!.kernels.map((k) => k.name);
        if (!p.tiling!.split) {
          assert.not.ok(names.some((n) => n.endsWith('_output')), `${f.name}: no output kernel without the split form`);
          continue;
        }
        assert.is(names.some((n) => n.endsWith('_output')), outputKernel, `${f.name}: output kernel ${outputKernel}`);
        const keyTiles = outputKernel && ir.update?.cls === 'additive' && ir.keyDim > 32;
        assert.is(p.tiling!.stateKeyTile, keyTiles ? 32 : undefined, `${f.name} ${JSON.stringify(dims ?? {})}: state key tiles`);
        const label = `${f.name} ${JSON.stringify(dims ?? {})} chunk ${chunk}, output kernel ${outputKernel}`;
        validate(ir, 'cuda-sm90', 'chunk', plain, label, chunk, 'bf16', { outputKernel });
        validate(ir, 'cuda-sm90', 'chunk', packed, `${label} packed`, chunk, 'bf16', { outputKernel });
      }
    }
  });
}

// cuda-sm90's shape plans (compiled beside the default plan, taken by the launchers for few
// chains): each spec's plan for them, chunks of 64 with a ragged last chunk, fewer query/key heads
// than H (GVA), and a packed batch.
test('shape plans = reference, for every stdlib spec they stand beside', () => {
  const names: string[] = [];
  for (const f of stdlibFiles()) {
    // Delta rules at V' = 32: their plan for few chains asks for value tiles of 16 (dropped where
    // V' is smaller, as at the small test dims).
    const small = stdlibIR(f.name);
    const ir = small.update?.cls === 'delta' && small.normalizer === 'none' ? stdlibIR(f.name, { K: 16, V: 32 }) : small;
    if (ir.family !== 'recurrent') continue;
    const options: PlanOptions = { dtype: 'bf16' };
    const base = plan(ir, 'cuda-sm90', options);
    for (const v of shapeVariants(ir, TARGETS['cuda-sm90']!, options, base)) {
      const fewer = ir.inputs.filter((i) => i.type === 'real' && (i.name === 'q' || i.name === 'k')).map((i) => [i.name, 1]);
      const plain = randomInputs(ir, { B: 1, T: 150, H: 2, seed: 43, initialState: true, heads: Object.fromEntries(fewer) });
      const packed = randomInputs(ir, { B: 1, T: 150, H: 1, seed: 44, initialState: true, cuSeqlens: [0, 70, 70, 150] });
      validate(ir, 'cuda-sm90', 'chunk', plain, `${f.name} shape plan ${v.shape.tag}, GVA`, undefined, 'bf16', v.shape.options);
      validate(ir, 'cuda-sm90', 'chunk', packed, `${f.name} shape plan ${v.shape.tag} packed`, undefined, 'bf16', v.shape.options);
      names.push(f.name);
    }
  }
  // The additive class (RetNet, simple GLA) and delta rules with a scalar gate or none whose state
  // is in registers (Gated DeltaNet, DeltaNet); not vector gates (GLA, KDA) nor linear attention.
  for (const n of ['retnet', 'simple_gla', 'gated_deltanet', 'deltanet']) assert.ok(names.includes(n), `${n} has a shape plan (${names.join(', ')})`);
  for (const n of ['gla', 'kda', 'linear_attention']) assert.not.ok(names.includes(n), `${n} keeps its one plan`);
});

// Vector gates score a chunk in blocks of 16 rows (build-intra.ts): the block diagonal per element,
// earlier blocks by matmuls through the boundary row. Chunks of 64 have three boundaries; the
// exclusive read (RWKV-6) puts a block's first query row on the boundary itself. KDA (a delta
// rule) scores KKᵀ the same way, its rows k_i ⊙ e^{b_i − b_r}.
test('vector-gate scores in blocks of 16 rows = reference (chunks of 32 and 64, inclusive and exclusive reads, KKᵀ)', () => {
  for (const name of ['gla', 'rwkv6', 'hgrn2', 'kda']) {
    const ir = stdlibIR(name);
    const inputs = randomInputs(ir, { B: 1, T: 150, H: 2, seed: 47, initialState: true, cuSeqlens: [0, 70, 150] });
    for (const chunk of [32, 64]) {
      const p = plan(ir, 'cuda-sm90', { form: 'chunk', chunk, dtype: 'bf16' });
      const intra = p.program!.kernels.find((k) => k.name.endsWith('_intra'))!;
      assert.ok(intra.tiles.some((t) => t.name === 'Ad'), `${name} chunk ${chunk}: block-diagonal scores`);
      assert.is(intra.tiles.some((t) => t.name === 'Akd'), name === 'kda', `${name} chunk ${chunk}: block-diagonal KKᵀ`);
      validate(ir, 'cuda-sm90', 'chunk', inputs, `${name} chunk ${chunk}`, chunk, 'bf16');
    }
  }
});

// Segmented state passes (PlanOptions.segmentChunks, additive updates in three kernels without a
// normalizer): segments of 2 chunks of 16 tokens, so that sequences of 70 and 80 tokens have 3 and
// 3 segments (the last ones ragged) and the batch's longest sequence sets their count; with and
// without state key tiles, scalar, vector and no gates, inclusive and exclusive reads.
test('segmented state passes (own states, the recurrence over segments, states from the starts) = reference', () => {
  for (const name of ['linear_attention', 'retnet', 'simple_gla', 'gla', 'rwkv6', 'hgrn2', 'mamba2']) {
    const ir = stdlibIR(name);
    const inputs = randomInputs(ir, { B: 1, T: 150, H: 2, seed: 48, initialState: true, cuSeqlens: [0, 70, 150] });
    for (const stateKeyTile of [0, 32]) {
      const extra: PlanOptions = { outputKernel: true, segmentChunks: 2, stateKeyTile };
      const p = plan(ir, 'cuda-sm90', { form: 'chunk', chunk: 16, dtype: 'bf16', ...extra });
      const names = p.program!.kernels.map((k) => k.name.replace(`${name}_`, ''));
      const segmented = ir.normalizer === 'none';
      assert.equal(names.filter((k) => ['segment', 'combine', 'chunk'].includes(k)), segmented ? ['segment', 'combine', 'chunk'] : ['chunk'], `${name}: state kernels`);
      validate(ir, 'cuda-sm90', 'chunk', inputs, `${name} segments, key tile ${stateKeyTile}`, 16, 'bf16', extra);
    }
  }
});

// Segments whose length the run's shape sets (PlanOptions.segmentWorkgroups): two sequences of 70
// and 80 tokens over 2 heads, chunks of 16 (5 in the longest); W = 1 asks for one segment per
// sequence (the segment pass then has nothing to do and the combine only copies the initial
// state), larger W for 2–5 segments, depending on the state kernel's workgroups per head.
test('segments sized by the run shape (segmentWorkgroups) = reference', () => {
  // Segments per sequence by the state kernel's workgroups per head G (value tiles × key tiles:
  // 2 × 4 workgroups for the run with G = 2) and W: ⌈W / 4G⌉ wanted, each of ⌈5 / that⌉ of the
  // longest sequence's 5 chunks.
  const expected: Record<number, Record<number, number>> = {
    1: { 1: 1, 40: 5, 130: 5, 1000: 5 },
    2: { 1: 1, 40: 5, 130: 5, 1000: 5 },
    4: { 1: 1, 40: 3, 130: 5, 1000: 5 },
    8: { 1: 1, 40: 2, 130: 5, 1000: 5 },
    16: { 1: 1, 40: 1, 130: 3, 1000: 5 },
  };
  for (const name of ['retnet', 'simple_gla', 'gla']) {
    const ir = stdlibIR(name);
    const inputs = randomInputs(ir, { B: 1, T: 150, H: 2, seed: 49, initialState: true, cuSeqlens: [0, 70, 150] });
    const params = uniformParams({ B: 1, T: 150, H: 2, cuSeqlens: [0, 70, 150] }, ir.inputs.filter((i) => i.type === 'real').map((i) => i.name));
    for (const stateKeyTile of [0, 32]) {
      for (const segmentWorkgroups of [1, 40, 130, 1000]) {
        const extra: PlanOptions = { outputKernel: true, segmentWorkgroups, stateKeyTile };
        const p = plan(ir, 'cuda-sm90', { form: 'chunk', chunk: 16, dtype: 'bf16', ...extra });
        const names = p.program!.kernels.map((k) => k.name.replace(`${name}_`, ''));
        assert.equal(names.filter((k) => ['segment', 'combine', 'chunk'].includes(k)), ['segment', 'combine', 'chunk'], `${name}: state kernels`);
        const seg = p.program!.kernels.find((k) => k.name === `${name}_segment`)!;
        const G = evalSize(seg.grid[0]!, params);
        assert.is(evalSize(seg.grid[2]!, params) / 2, expected[G]?.[segmentWorkgroups], `${name}: segments for ${segmentWorkgroups} workgroups, ${G} per head`);
        validate(ir, 'cuda-sm90', 'chunk', inputs, `${name} segments for ${segmentWorkgroups} workgroups, key tile ${stateKeyTile}`, 16, 'bf16', extra);
      }
    }
  }
});

// bf16 programs on the CUDA profiles run their matmuls on tensor cores, and the flash kernel
// keeps its scores, row statistics and output in row-owned registers (space 'rows'): the
// interpreter runs them in float64 with the row-ownership rules checked.
for (const f of stdlibFiles()) {
  const ir0 = stdlibIR(f.name);
  if (ir0.family !== 'softmax') continue;
  test(`${f.name}: bf16 flash kernel with row-owned tiles = reference on the CUDA profiles`, () => {
    const ir = stdlibIR(f.name);
    const plain = randomInputs(ir, { B: 2, T: 300, H: 2, seed: 43 });
    const packed = randomInputs(ir, { B: 1, T: 160, H: 2, seed: 44, cuSeqlens: [0, 17, 17, 160] });
    for (const target of ['cuda-sm80', 'cuda-sm90']) {
      const p = plan(ir, target, { form: 'parallel', dtype: 'bf16' });
      const k = p.program!.kernels.find((x) => x.name.endsWith('_attention'))!;
      assert.equal(k.tiles.filter((t) => t.space === 'rows').map((t) => t.name).sort(), ['Acc', 'Ls', 'Mn', 'Mx', 'Sm'], `${f.name} ${target}: row-owned tiles`);
      validate(ir, target, 'parallel', plain, `${target} bf16`, undefined, 'bf16');
      validate(ir, target, 'parallel', packed, `${target} bf16 packed`, undefined, 'bf16');
    }
    // The next key tile's K issued right after the scores (cuda-sm90's parallelEarlyKeyLoads, above;
    // PlanOptions.earlyKeyLoads): the load moves before the softmax, and the barrier that guards K's
    // tile with it; cuda-sm80, or earlyKeyLoads false, issue it after the softmax (checked here too).
    const early = (target: string, options: PlanOptions = {}) => {
      const k = plan(ir, target, { form: 'parallel', dtype: 'bf16', ...options }).program!.kernels.find((x) => x.name.endsWith('_attention'))!;
      const order = JSON.stringify(k.body);
      const scores = order.indexOf('"op":"matmul","dst":{"tile":"Sm"');
      const weights = ir.weight === 'softmax' ? '"exp2"' : ir.weight === 'sigmoid' ? '"sigmoid"' : '"relu"';
      assert.ok(scores > 0 && order.indexOf(weights, scores) > 0, `${f.name}: scores and weights found`);
      const kt = order.indexOf('"dst":{"tile":"Kt"', scores);
      assert.ok(kt > scores, `${f.name}: the next K's load follows the scores`);
      return kt < order.indexOf(weights, scores);
    };
    assert.ok(early('cuda-sm90'), `${f.name}: cuda-sm90 loads the next K before the weights`);
    assert.not.ok(early('cuda-sm90', { earlyKeyLoads: false }), `${f.name}: earlyKeyLoads false loads it after`);
    assert.not.ok(early('cuda-sm80'), `${f.name}: cuda-sm80 loads it after`);
    validate(ir, 'cuda-sm90', 'parallel', plain, 'cuda-sm90 bf16, late key loads', undefined, 'bf16', { earlyKeyLoads: false });
    validate(ir, 'cuda-sm90', 'parallel', packed, 'cuda-sm90 bf16 packed, late key loads', undefined, 'bf16', { earlyKeyLoads: false });
  });
}

test('several value tiles per head share the normalizer and stabiliser states (in and out kept apart)', () => {
  for (const name of ['linear_attention', 'mlstm', 'gated_deltanet', 'rwkv6']) {
    const ir = stdlibIR(name, { K: 40, V: 40, D: 40 });
    const inputs = randomInputs(ir, { B: 2, T: 40, H: 1, seed: 9, initialState: true });
    const p = plan(ir, 'webgpu-default', { form: 'chunk', chunk: 16 });
    assert.ok(p.tiling!.BV < 40, `${name}: several value tiles (BV = ${p.tiling!.BV})`);
    validate(ir, 'webgpu-default', 'chunk', inputs, `${name} multi-tile`, 16);
  }
});

test('the kernel-IR interpreter catches workgroups racing on a buffer', () => {
  const ir = stdlibIR('linear_attention', { K: 40, V: 40 });
  const p = plan(ir, 'webgpu-default', { form: 'chunk', chunk: 16 });
  // Make every value tile write the normalizer state (not only the first).
  const unguard = (ss: import('../../compiler/kernel-ir/types.ts').Stmt[]): import('../../compiler/kernel-ir/types.ts').Stmt[] =>
    ss.flatMap((s) => (s.op === 'if' && JSON.stringify(s.cond).includes('"v0"') ? s.then : s.op === 'if' ? [{ ...s, then: unguard(s.then), else: unguard(s.else) }] : s.op === 'for' ? [{ ...s, body: unguard(s.body) }] : [s]));
  const k = p.program!.kernels.find((x) => x.name.endsWith('_chunk'))!;
  k.body = unguard(k.body);
  const inputs = randomInputs(ir, { B: 1, T: 20, H: 1, seed: 1, initialState: true });
  const h = prepareHostRun(ir, p.program!, inputs, true);
  assert.throws(() => runProgram(p.program!, h.host!.buffers, h.host!.params), /twice in one dispatch/);
});

test('the kernel-IR interpreter holds row-owned tiles to their rows: another row, another column, a B operand', () => {
  type S = import('../../compiler/kernel-ir/types.ts').Stmt;
  type E = import('../../compiler/kernel-ir/types.ts').SExpr;
  const ir = stdlibIR('softmax');
  const inputs = randomInputs(ir, { B: 1, T: 40, H: 1, seed: 3 });
  const mutate = (edit: (s: S) => S | undefined, why: RegExp) => {
    const p = plan(ir, 'cuda-sm90', { form: 'parallel', dtype: 'bf16' });
    const k = p.program!.kernels.find((x) => x.name.endsWith('_attention'))!;
    let hits = 0;
    const walk = (ss: S[]): S[] =>
      ss.map((s) => {
        if (s.op === 'for') return { ...s, body: walk(s.body) };
        if (s.op === 'if') return { ...s, then: walk(s.then), else: walk(s.else) };
        const t = edit(s);
        if (t) hits++;
        return t ?? s;
      });
    k.body = walk(k.body);
    assert.ok(hits > 0, 'the mutation applies');
    const h = prepareHostRun(ir, p.program!, inputs, false);
    assert.throws(() => runProgram(p.program!, h.host!.buffers, h.host!.params), why);
  };
  // As planned it runs.
  const p0 = plan(ir, 'cuda-sm90', { form: 'parallel', dtype: 'bf16' });
  runProgram(p0.program!, prepareHostRun(ir, p0.program!, inputs, false).host!.buffers, prepareHostRun(ir, p0.program!, inputs, false).host!.params);
  const rewrite = (e: E, f: (x: Extract<E, { k: 'tile' }>) => E): E => JSON.parse(JSON.stringify(e), (_k, v) => (v && v.k === 'tile' ? f(v) : v));
  // The row max read one row down.
  mutate((s) => (s.op === 'map' && s.dst.tile === 'Mn' ? { ...s, expr: rewrite(s.expr, (x) => (x.tile === 'Mx' ? { ...x, r: kb.add(x.r, kb.i(1)) } : x)) } : undefined), /at a row other than its own/);
  // The probabilities read at column 0 of every element instead of their own.
  mutate((s) => (s.op === 'map' && s.dst.tile === 'Acc' && JSON.stringify(s.expr).includes('"Mx"') ? { ...s, expr: kb.add(s.expr, kb.tile('Sm', kb.R, kb.i(0))) } : undefined), /at a column other than its own/);
  // The probabilities as the B operand.
  mutate((s) => (s.op === 'matmul' && s.a.tile === 'Sm' ? { ...s, a: s.b, b: s.a } : undefined), /B operand is row-owned/);
});

test('the kernel-IR interpreter tells row blocks apart: the paired state update runs, a view moved onto the other half races', () => {
  type S = import('../../compiler/kernel-ir/types.ts').Stmt;
  const ir = stdlibIR('gated_deltanet', { K: 32, V: 16 });
  const p = plan(ir, 'webgpu-large', { form: 'chunk', split: false, chunk: 16, tiles: { BK: 16 } });
  const k = p.program!.kernels.find((x) => x.name.endsWith('_chunk'))!;
  const inputs = randomInputs(ir, { B: 1, T: 20, H: 1, seed: 1 });
  const h = prepareHostRun(ir, p.program!, inputs, false);
  // As planned: two products on rows 0–15 and 16–31 of S in one epoch.
  runProgram(p.program!, h.host!.buffers, h.host!.params);
  // The second product moved onto the first one's rows: the interpreter reports the race.
  const moveUpdate = (ss: S[]): S[] => ss.map((s) => (s.op === 'matmul' && s.dst.tile === 'S' && s.dst.r0?.k === 'const' && s.dst.r0.v === 16 ? { ...s, dst: { ...s.dst, r0: kb.i(8) } } : s.op === 'for' ? { ...s, body: moveUpdate(s.body) } : s));
  k.body = moveUpdate(k.body);
  const h2 = prepareHostRun(ir, p.program!, inputs, false);
  assert.throws(() => runProgram(p.program!, h2.host!.buffers, h2.host!.params), /missing barrier: matmul (reads|writes) tile S\b/);
});

test('GVA heads and a chunk larger than the sequence', () => {
  const ir = stdlibIR('gated_deltanet');
  const inputs = randomInputs(ir, { B: 1, T: 23, H: 4, heads: { q: 2, k: 2 }, seed: 7, initialState: true });
  validate(ir, 'webgpu-large', 'chunk', inputs, 'GVA', 64);
});

test('the kernel-IR interpreter catches a missing barrier', async () => {
  const ir = stdlibIR('gla');
  const p = plan(ir, 'webgpu-large', { form: 'chunk', chunk: 16 });
  const k = p.program!.kernels[0]!;
  // Drop every barrier.
  const strip = (ss: import('../../compiler/kernel-ir/types.ts').Stmt[]): import('../../compiler/kernel-ir/types.ts').Stmt[] =>
    ss.filter((s) => s.op !== 'barrier').map((s) => (s.op === 'for' ? { ...s, body: strip(s.body) } : s.op === 'if' ? { ...s, then: strip(s.then), else: strip(s.else) } : s));
  k.body = strip(k.body);
  const inputs = randomInputs(ir, { B: 1, T: 20, H: 1, seed: 1 });
  const h = prepareHostRun(ir, p.program!, inputs, false);
  assert.throws(() => runProgram(p.program!, h.host!.buffers, h.host!.params), /missing barrier/);
});

test('the kernel-IR interpreter catches an out-of-bounds read', () => {
  const ir = stdlibIR('gla');
  const p = plan(ir, 'webgpu-large', { form: 'chunk', chunk: 16 });
  const inputs = randomInputs(ir, { B: 1, T: 20, H: 1, seed: 1 });
  const h = prepareHostRun(ir, p.program!, inputs, false);
  h.host!.buffers['in_q'] = h.host!.buffers['in_q']!.slice(0, 10);
  assert.throws(() => runProgram(p.program!, h.host!.buffers, h.host!.params), /out-of-bounds read in_q/);
});

// The delta rules' state kernel with S in registers (PlanOptions.stateRegisters): S and the
// corrected values X are register tiles (tensor-core accumulators on CUDA), Sh and Xd their shared
// copies. Chunks of 32 and 64 with a ragged last chunk, a packed batch with an empty sequence, GVA
// (one q/k head for two), V' = 24 (a value tile partly empty) and K' = 12 (a key slice wider than
// K'), a scalar gate (Gated DeltaNet), none (DeltaNet) and a vector gate (KDA: keys decayed by the
// intra-chunk kernel, S's rows scaled); an additive update (GLA) keeps S in shared memory, with a
// note.
test('the delta state kernel with the state in registers = reference', () => {
  for (const name of ['gated_deltanet', 'deltanet', 'kda', 'gla']) {
    // K' = V' = 32: the intra-chunk kernel's [64, 32] W and U fill the 8 warps' fragment tiles.
    for (const dims of [undefined, { K: 12, V: 24 }, { K: 32, V: 32 }]) {
      const ir = stdlibIR(name, dims);
      const gva = randomInputs(ir, { B: 2, T: 75, H: 2, seed: 50, initialState: true, heads: { q: 1, k: 1 } });
      const packed = randomInputs(ir, { B: 1, T: 90, H: 2, seed: 51, initialState: true, cuSeqlens: [0, 33, 33, 90] });
      for (const chunk of [32, 64]) {
        // Chunks of 64 with 16-bit operands everywhere: the intra-chunk kernel's W and U in registers
        // too, and U and the corrected values stored in bf16 (halfValues); chunks of 32 with TF32
        // operands (cuda-sm90's default for bf16 delta rules is 16-bit).
        const extra: PlanOptions = { outputKernel: true, stateRegisters: true, halfOperands: chunk === 64, halfValues: chunk === 64 };
        const p = plan(ir, 'cuda-sm90', { form: 'chunk', chunk, dtype: 'bf16', ...extra });
        const state = p.program!.kernels.find((k) => k.name === `${name}_chunk`)!;
        const applies = name !== 'gla';
        assert.is(p.tiling!.stateRegisters === true, applies, `${name}: state in registers`);
        if (applies) assert.is(state.tiles.find((t) => t.name === 'S')!.space, 'register', `${name}: S's space`);
        const intra = p.program!.kernels.find((k) => k.name === `${name}_intra`)!;
        assert.is(intra.tiles.some((t) => t.name === 'WY'), chunk === 64 && name !== 'gla' && dims?.K === 32, `${name} ${JSON.stringify(dims ?? {})}: W and U in registers`);
        assert.is(p.notes.some((n) => n.includes('the state stays in shared memory')), !applies, `${name}: note`);
        // U in bf16 (halfValues): the corrected values over it, for the output kernel too; U in f32:
        // they go to w_x in bf16 for the output kernel (its 16-bit operands), U read by two kernels.
        const wu = p.program!.kernels.flatMap((k) => k.buffers).filter((b) => b.name === 'w_u');
        const wx = p.program!.kernels.flatMap((k) => k.buffers).filter((b) => b.name === 'w_x');
        if (applies) {
          assert.ok(wu.length === (chunk === 64 ? 3 : 2) && wu.every((b) => b.dtype === (chunk === 64 ? 'bf16' : 'f32')), `${name}: w_u in ${wu.map((b) => b.dtype).join(', ')}`);
          assert.ok(wx.length === (chunk === 64 ? 0 : 2) && wx.every((b) => b.dtype === 'bf16'), `${name}: w_x in ${wx.map((b) => b.dtype).join(', ')}`);
        }
        const label = `${name} ${JSON.stringify(dims ?? {})} chunk ${chunk}, state in registers`;
        validate(ir, 'cuda-sm90', 'chunk', gva, `${label}, GVA`, chunk, 'bf16', extra);
        validate(ir, 'cuda-sm90', 'chunk', packed, `${label}, packed`, chunk, 'bf16', extra);
      }
    }
  }
});

test.run();
