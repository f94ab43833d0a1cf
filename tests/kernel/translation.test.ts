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
import { runProgram } from '../../compiler/kernel-ir/interp.ts';
import { plan } from '../../compiler/passes/pipeline.ts';
import * as kb from '../../compiler/kernel-ir/build.ts';
import type { KernelForm } from '../../compiler/passes/plan.ts';
import { renderDiagnostics } from '../../compiler/diagnostics/render.ts';
import { stdlibFiles } from '../helpers/stdlib.ts';
import { stdlibIR } from '../helpers/ir.ts';

const PROFILES = ['webgpu-default', 'webgpu-large', 'cuda-sm80', 'cuda-sm90'];
const TOL = 1e-9;

export function runKernels(ir: AttentionIR, target: string, form: KernelForm, inputs: RunInputs, chunk?: number) {
  const p = plan(ir, target, { form, ...(chunk ? { chunk } : {}) });
  assert.ok(p.program, renderDiagnostics(p.diagnostics));
  const h = prepareHostRun(ir, p.program!, inputs, true);
  assert.ok(h.host, renderDiagnostics(h.diagnostics));
  runProgram(p.program!, h.host!.buffers, h.host!.params);
  return readOutputs(ir, h.host!, true);
}

function validate(ir: AttentionIR, target: string, form: KernelForm, inputs: RunInputs, label: string, chunk?: number) {
  const got = runKernels(ir, target, form, inputs, chunk);
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

test.run();
