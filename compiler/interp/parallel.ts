/**
 * The parallel form of additive updates: the materialised T×T weights
 *   w_ij = Σ_d q̃_id k̃_jd e^{G_id − G_jd} s_j     (j ≤ i; G = cumulative log-gate over the sequence)
 *   o_i  = Σ_j w_ij ṽ_j + (q̃_i ⊙ e^{G_i})ᵀ S_0
 * with the exclusive read (j < i plus the bonus), the normalizers, and the bidirectional weights
 * e^{G_j − G_i} for j > i. The final state is materialised the same way.
 */
import type { AttentionIR } from '../ir/attention-ir.ts';
import type { Prepared } from './prepare.ts';
import { addOuter, dotv, readState, SUM_EPS, type HeadState } from './state.ts';

function cumulative(p: Prepared, K: number): Float64Array[] {
  const G: Float64Array[] = [];
  const acc = new Float64Array(K);
  for (let t = 0; t < p.T; t++) {
    const g = p.g?.[t];
    if (g !== undefined) for (let d = 0; d < K; d++) acc[d]! += typeof g === 'number' ? g : g[d]!;
    G.push(acc.slice());
  }
  return G;
}

/** Σ_d x_d y_d e^{Gi_d − Gj_d} */
function weighted(x: Float64Array, y: Float64Array, Gi: Float64Array | undefined, Gj: Float64Array | undefined): number {
  let s = 0;
  for (let d = 0; d < x.length; d++) s += x[d]! * y[d]! * (Gi && Gj ? Math.exp(Gi[d]! - Gj[d]!) : Gi ? Math.exp(Gi[d]!) : 1);
  return s;
}

export function parallelForward(ir: AttentionIR, p: Prepared, st: HeadState): Float64Array[] {
  const K = ir.keyDim;
  const V = ir.valueDim;
  const G = cumulative(p, K);
  const sc = (t: number) => p.scale?.[t] ?? 1;
  const li = (t: number) => p.logScale?.[t] ?? 0;
  const exclusive = ir.read.kind === 'exclusive';
  const bidir = ir.direction === 'bidirectional';
  const maxabs = ir.normalizer === 'maxabs';
  // The true initial state is S̃·e^m for maxabs.
  const initScale = maxabs ? Math.exp(st.m) : 1;
  const out: Float64Array[] = [];
  for (let i = 0; i < p.T; i++) {
    const q = p.q[i]!;
    // Decay of the initial state up to the read position.
    const readPos = exclusive ? i - 1 : i;
    const qd = readPos >= 0 ? q.map((x, d) => x * Math.exp(G[readPos]![d]!)) : q;
    const o = readState(st.S, qd, V).map((x) => x * initScale);
    let den = st.z ? dotv(st.z, qd) * initScale : 0;
    const last = bidir ? p.T - 1 : readPos;
    for (let j = 0; j <= last; j++) {
      let w: number;
      if (j <= readPos) w = (maxabs ? Math.exp(li(j)) : sc(j)) * weighted(q, p.k[j]!, G[readPos], G[j]);
      else w = sc(j) * weighted(q, p.k[j]!, G[j], G[i]); // j > i: the backward decay Π_{i<r≤j} α_r
      const v = p.v[j]!;
      for (let c = 0; c < V; c++) o[c]! += w * v[c]!;
      den += w;
    }
    if (exclusive) {
      const u = p.bonus?.[i];
      let qk = 0;
      if (u !== undefined) for (let d = 0; d < K; d++) qk += q[d]! * p.k[i]![d]! * (typeof u === 'number' ? u : u[d]!);
      for (let c = 0; c < V; c++) o[c]! += qk * sc(i) * p.v[i]![c]!;
      den += qk * sc(i);
    }
    if (ir.normalizer === 'sum') for (let c = 0; c < V; c++) o[c]! /= den + SUM_EPS;
    if (maxabs) {
      const d = Math.max(Math.abs(den), 1);
      for (let c = 0; c < V; c++) o[c]! /= d;
    }
    out.push(o);
  }
  if (!bidir) finalState(ir, p, st, G);
  return out;
}

/** S_T = diag(e^{G_T}) S_0 + Σ_j diag(e^{G_T − G_j}) s_j k̃_j ṽ_jᵀ (maxabs: rescaled by its stabiliser m_T). */
function finalState(ir: AttentionIR, p: Prepared, st: HeadState, G: Float64Array[]): void {
  const V = ir.valueDim;
  const K = ir.keyDim;
  if (p.T === 0) return;
  const GT = G[p.T - 1]!;
  const maxabs = ir.normalizer === 'maxabs';
  // maxabs: m_T = max(m_0 + G_T, max_j(log s_j + G_T − G_j)) (the recurrence unrolled).
  let mT = 0;
  if (maxabs) {
    mT = st.m + GT[0]!;
    for (let j = 0; j < p.T; j++) mT = Math.max(mT, (p.logScale?.[j] ?? 0) + GT[0]! - G[j]![0]!);
  }
  const shift = maxabs ? Math.exp(st.m - mT) : 1;
  for (let d = 0; d < K; d++) {
    const f = Math.exp(GT[d]!) * shift;
    for (let c = 0; c < V; c++) st.S[d * V + c]! *= f;
    if (st.z) st.z[d]! *= f;
  }
  for (let j = 0; j < p.T; j++) {
    const w = maxabs ? Math.exp((p.logScale?.[j] ?? 0) - mT) : (p.scale?.[j] ?? 1);
    const x = p.k[j]!.map((kd, d) => kd * Math.exp(GT[d]! - G[j]![d]!) * w);
    addOuter(st.S, x, p.v[j]!, 1);
    if (st.z) for (let d = 0; d < K; d++) st.z[d]! += x[d]!;
  }
  st.m = mT;
}
