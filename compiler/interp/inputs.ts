/**
 * Run-time inputs of a spec: the tensors it takes, their expected shapes, validation with clear
 * diagnostics (ATTN5xxx: the tensor's name and the shape it should have), and random inputs for
 * tests and `attnc run`.
 *
 * Layout (FLA's): per-token inputs [B, T, H_x, …]; `int` inputs [B, T]; per-head parameters
 * [H, …]; global parameters as declared; states [N, H, K', V'] (N sequences: B, or the number of
 * cu_seqlens segments when B = 1). Heads: the output has H = the largest head count of the
 * per-token inputs; an input with H_x heads serves output head h from its head ⌊h·H_x/H⌋ (GQA,
 * GVA), so H_x must divide H.
 */
import type { AttentionIR } from '../ir/attention-ir.ts';
import { diag, type Diagnostic } from '../diagnostics/diagnostic.ts';
import { NO_SPAN } from '../diagnostics/source.ts';
import { shapeString, type Tensor } from './tensor.ts';

export interface StateTensors {
  /** [N, H, K', V'] */
  S: Tensor;
  /** Normalizer state [N, H, K'] (sum and maxabs normalizers). */
  z?: Tensor;
  /** maxabs stabiliser [N, H]: the true state is S·e^m, z·e^m. */
  m?: Tensor;
}

export interface RunInputs {
  tensors: Record<string, Tensor>;
  initialState?: StateTensors;
  /** Sequence boundaries in the flattened time axis (B must be 1): [0, …, T]. */
  cuSeqlens?: number[];
}

export interface RunShape {
  B: number;
  T: number;
  /** Output heads. */
  H: number;
  /** Heads of each per-token real input. */
  heads: Record<string, number>;
  /** Number of sequences. */
  N: number;
  /** Each sequence: batch entry, start in the time axis, length. */
  sequences: { b: number; start: number; length: number }[];
}

export function stateShapes(ir: AttentionIR, N: number, H: number): { S: number[]; z?: number[]; m?: number[] } {
  const out: { S: number[]; z?: number[]; m?: number[] } = { S: [N, H, ir.keyDim, ir.valueDim] };
  if (ir.normalizer !== 'none') out.z = [N, H, ir.keyDim];
  if (ir.normalizer === 'maxabs') out.m = [N, H];
  return out;
}

/** The tensors a spec takes and their expected shapes. */
export function expectedShapes(ir: AttentionIR, B: number, T: number, H: number, heads: Record<string, number>): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const inp of ir.inputs) {
    if (!isConsumed(ir, inp.name)) continue;
    out[inp.name] = inp.type === 'int' ? [B, T] : [B, T, heads[inp.name] ?? H, ...inp.shape];
  }
  for (const p of ir.params) out[p.name] = p.perHead ? [H, ...p.shape] : [...p.shape];
  return out;
}

/** Inputs the IR still reads (an equation-form spec may leave a declared k or v unused). */
function isConsumed(ir: AttentionIR, name: string): boolean {
  return ir.inputs.some((i) => i.name === name);
}

export function validateInputs(ir: AttentionIR, run: RunInputs): { shape?: RunShape; diagnostics: Diagnostic[] } {
  const ds: Diagnostic[] = [];
  const t = run.tensors;
  const tokenInputs = ir.inputs.filter((i) => i.type === 'real');
  const known = new Set([...ir.inputs.map((i) => i.name), ...ir.params.map((p) => p.name)]);
  for (const name of Object.keys(t)) {
    if (!known.has(name)) ds.push(diag('UnknownTensor', NO_SPAN, [name, [...known].join(', ')]));
  }
  const first = tokenInputs.find((i) => t[i.name]);
  if (!first) {
    const n = tokenInputs[0]?.name ?? 'q';
    ds.push(diag('MissingTensor', NO_SPAN, [n, '[B, T, H, …]']));
    return { diagnostics: ds };
  }
  const ref = t[first.name]!;
  if (ref.shape.length < 3) {
    ds.push(diag('WrongShape', NO_SPAN, [first.name, shapeString(ref.shape), `[B, T, H${first.shape.length ? ', ' + first.shape.join(', ') : ''}]`]));
    return { diagnostics: ds };
  }
  const [B, T] = ref.shape as [number, number];
  const heads: Record<string, number> = {};
  for (const inp of tokenInputs) {
    const x = t[inp.name];
    if (x && x.shape.length === 3 + inp.shape.length) heads[inp.name] = x.shape[2]!;
  }
  const H = Math.max(1, ...Object.values(heads));
  for (const [name, h] of Object.entries(heads)) if (H % h !== 0) ds.push(diag('HeadMapping', NO_SPAN, [name, h, H]));
  const want = expectedShapes(ir, B, T, H, heads);
  for (const [name, shape] of Object.entries(want)) {
    const x = t[name];
    if (!x) {
      ds.push(diag('MissingTensor', NO_SPAN, [name, shapeString(shape)]));
      continue;
    }
    if (x.shape.length !== shape.length || x.shape.some((d, i) => d !== shape[i])) {
      ds.push(diag('WrongShape', NO_SPAN, [name, shapeString(x.shape), shapeString(shape)]));
      continue;
    }
    const n = shape.reduce((a, b) => a * b, 1);
    if (x.data.length !== n) {
      ds.push(diag('WrongLength', NO_SPAN, [name, x.data.length, shapeString(shape), n]));
      continue;
    }
    const bad = x.data.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) ds.push(diag('NonFinite', NO_SPAN, [name, String(x.data[bad]), flatIndex(bad, shape)]));
  }
  // Sequences.
  let sequences: RunShape['sequences'];
  if (run.cuSeqlens) {
    const cu = run.cuSeqlens;
    const problem =
      B !== 1
        ? `a packed batch has B = 1 (found B = ${B}); flatten the sequences into the time axis`
        : cu.length < 2
          ? 'it needs at least two entries [0, …, T]'
          : cu[0] !== 0
            ? `it must start at 0 (found ${cu[0]})`
            : cu[cu.length - 1] !== T
              ? `it must end at T = ${T} (found ${cu[cu.length - 1]})`
              : cu.some((x, i) => i > 0 && x < cu[i - 1]!) || cu.some((x) => !Number.isInteger(x))
                ? 'its entries must be non-decreasing integers'
                : undefined;
    if (problem) {
      ds.push(diag('BadCuSeqlens', NO_SPAN, [problem]));
      return { diagnostics: ds };
    }
    sequences = cu.slice(0, -1).map((s, i) => ({ b: 0, start: s, length: cu[i + 1]! - s }));
  } else sequences = Array.from({ length: B }, (_, b) => ({ b, start: 0, length: T }));
  const N = sequences.length;
  if (run.initialState) {
    if (ir.family !== 'recurrent') ds.push(diag('UnknownTensor', NO_SPAN, ['initial_state', 'softmax specs have no state']));
    else if (ir.direction === 'bidirectional') ds.push(diag('UnknownTensor', NO_SPAN, ['initial_state', 'a bidirectional spec has no initial state']));
    else {
      const want2 = stateShapes(ir, N, H);
      const check = (name: string, x: Tensor | undefined, shape: number[] | undefined) => {
        if (!shape) return;
        if (!x) ds.push(diag('MissingTensor', NO_SPAN, [name, shapeString(shape)]));
        else if (x.shape.length !== shape.length || x.shape.some((d, i) => d !== shape[i])) ds.push(diag('WrongShape', NO_SPAN, [name, shapeString(x.shape), shapeString(shape)]));
        else {
          const bad = x.data.findIndex((v) => !Number.isFinite(v));
          if (bad >= 0) ds.push(diag('NonFinite', NO_SPAN, [name, String(x.data[bad]), flatIndex(bad, shape)]));
        }
      };
      check('initial_state', run.initialState.S, want2.S);
      check('initial_state.z', run.initialState.z, want2.z);
      check('initial_state.m', run.initialState.m, want2.m);
    }
  }
  if (ds.some((d) => d.severity === 'error')) return { diagnostics: ds };
  return { shape: { B, T, H, heads, N, sequences }, diagnostics: ds };
}

function flatIndex(i: number, shape: number[]): string {
  const idx: number[] = [];
  for (let d = shape.length - 1; d >= 0; d--) {
    idx.unshift(i % shape[d]!);
    i = Math.floor(i / shape[d]!);
  }
  return `[${idx.join(', ')}]`;
}

