/** The recurrent state of one (sequence, head) and small dense helpers shared by the forms. */
import { SUM_EPS, type AttentionIR } from '../ir/attention-ir.ts';
import type { StateTensors } from './inputs.ts';

export interface HeadState {
  /** K' × V', row-major. For maxabs this is the stabilised S̃ (true S = S̃·e^m). */
  S: Float64Array;
  /** Normalizer state [K'] (sum, maxabs). */
  z: Float64Array | undefined;
  /** maxabs stabiliser. */
  m: number;
}

export { SUM_EPS };

export function zeroState(ir: AttentionIR): HeadState {
  return { S: new Float64Array(ir.keyDim * ir.valueDim), z: ir.normalizer !== 'none' ? new Float64Array(ir.keyDim) : undefined, m: 0 };
}

export function loadState(ir: AttentionIR, init: StateTensors | undefined, n: number, h: number, H: number): HeadState {
  const st = zeroState(ir);
  if (!init) return st;
  const KV = ir.keyDim * ir.valueDim;
  st.S.set(init.S.data.subarray((n * H + h) * KV, (n * H + h + 1) * KV));
  if (st.z && init.z) st.z.set(init.z.data.subarray((n * H + h) * ir.keyDim, (n * H + h + 1) * ir.keyDim));
  if (init.m) st.m = init.m.data[n * H + h]!;
  return st;
}

export function storeState(ir: AttentionIR, out: StateTensors, st: HeadState, n: number, h: number, H: number): void {
  const KV = ir.keyDim * ir.valueDim;
  out.S.data.set(st.S, (n * H + h) * KV);
  if (out.z && st.z) out.z.data.set(st.z, (n * H + h) * ir.keyDim);
  if (out.m) out.m.data[n * H + h] = st.m;
}

/** exp of a log-gate (scalar or vector), as a per-row factor getter. */
export function rowFactor(g: number | Float64Array | undefined, i: number): number {
  if (g === undefined) return 1;
  return typeof g === 'number' ? Math.exp(g) : Math.exp(g[i]!);
}

/** Sᵀ x for a K'×V' state. */
export function readState(S: Float64Array, x: Float64Array, V: number): Float64Array {
  const out = new Float64Array(V);
  for (let i = 0; i < x.length; i++) {
    const xi = x[i]!;
    if (xi === 0) continue;
    const row = i * V;
    for (let j = 0; j < V; j++) out[j]! += xi * S[row + j]!;
  }
  return out;
}

/** S += f · x yᵀ */
export function addOuter(S: Float64Array, x: Float64Array, y: Float64Array, f: number): void {
  const V = y.length;
  for (let i = 0; i < x.length; i++) {
    const xi = f * x[i]!;
    if (xi === 0) continue;
    const row = i * V;
    for (let j = 0; j < V; j++) S[row + j]! += xi * y[j]!;
  }
}

/** S = diag(exp(g)) S (g scalar or per row). */
export function decayRows(S: Float64Array, g: number | Float64Array | undefined, V: number): void {
  if (g === undefined) return;
  const K = S.length / V;
  for (let i = 0; i < K; i++) {
    const f = rowFactor(g, i);
    const row = i * V;
    for (let j = 0; j < V; j++) S[row + j]! *= f;
  }
}

export function dotv(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}
