/**
 * The chunked form: the chunk-parallel algorithm the kernels use. The sequence is cut into chunks
 * of C tokens (the last one may be shorter); each chunk combines an intra-chunk part (masked
 * matrix products with relative decays) with the state at the chunk's start, then passes the
 * state on. Relative decays are formed in log space as exp(b_t − b_j) with j ≤ t only, from
 * cumulative sums b of the log-gate inside the chunk; for vector gates, pairs in different
 * sub-chunks (16 tokens) factor through the sub-chunk boundary (exp(b_t − b_r)·exp(b_r − b_j),
 * both ≤ 1), as a kernel's tensor-core matmuls do.
 *   additive  o_t = (q̃_t ⊙ e^{b_t})ᵀ S_c + Σ_{j≤t} Σ_d q̃_td k̃_jd e^{b_td − b_jd} s_j ṽ_j
 *   delta     WY/UT: T = (I + A)⁻¹ with A_tj = β_t Σ_d k̃_td k̃_jd e^{b_td − b_jd} (j < t),
 *             W = T diag(β) (K ⊙ e^{b}), U = T diag(β) V − W S_c (the corrected values),
 *             o_t = (q̃_t ⊙ e^{b_t})ᵀ S_c + Σ_{j≤t} (Σ_d q̃_td k̃_jd e^{b_td − b_jd}) u_j
 *   DPLR      p_t = S_{t−1}ᵀ a_t solves a unit-triangular system per chunk (see dplrChunk)
 * and S_{c+1} = diag(e^{b_L}) S_c + Σ_j diag(e^{b_L − b_j}) k̃_j (·)_jᵀ.
 */
import type { AttentionIR } from '../ir/attention-ir.ts';
import type { Prepared } from './prepare.ts';
import { addOuter, dotv, readState, SUM_EPS, type HeadState } from './state.ts';

export const SUBCHUNK = 16;

/** Cumulative log-gates inside one chunk: b[i] = Σ_{r=s..s+i} g_r (index −1 is the chunk start, b = 0). */
class Cum {
  private readonly b: (number | Float64Array)[] = [];
  readonly kind: 'none' | 'scalar' | 'vector';
  constructor(
    g: (number | Float64Array)[] | undefined,
    s: number,
    e: number,
    private K: number,
  ) {
    this.kind = g === undefined ? 'none' : typeof g[0] === 'number' ? 'scalar' : 'vector';
    if (this.kind === 'scalar') {
      let acc = 0;
      for (let t = s; t < e; t++) this.b.push((acc += g![t] as number));
    } else if (this.kind === 'vector') {
      const acc = new Float64Array(K);
      for (let t = s; t < e; t++) {
        const gt = g![t] as Float64Array;
        for (let d = 0; d < K; d++) acc[d]! += gt[d]!;
        this.b.push(acc.slice());
      }
    }
  }

  /** b_i as a per-channel getter (0 before the chunk or without a gate). */
  at(i: number, d: number): number {
    if (i < 0 || this.kind === 'none') return 0;
    const x = this.b[i]!;
    return typeof x === 'number' ? x : x[d]!;
  }

  /** x ⊙ e^{b_i} */
  scaled(x: Float64Array, i: number): Float64Array {
    if (this.kind === 'none' || i < 0) return x;
    return x.map((v, d) => v * Math.exp(this.at(i, d)));
  }

  /** x ⊙ e^{b_i − b_j} (i ≥ j) */
  relScaled(x: Float64Array, i: number, j: number): Float64Array {
    if (this.kind === 'none') return x;
    return x.map((v, d) => v * Math.exp(this.at(i, d) - this.at(j, d)));
  }

  /**
   * Σ_d x_d y_d e^{b_{i,d} − b_{j,d}} for j ≤ i. Scalar gates factor out of the sum; vector gates
   * are exact in their sub-chunk, and across sub-chunks factor through the boundary r of j's
   * sub-chunk: e^{b_i − b_r} · e^{b_r − b_j}, both factors ≤ 1.
   */
  relDot(x: Float64Array, y: Float64Array, i: number, j: number): number {
    if (this.kind === 'none') return dotv(x, y);
    if (this.kind === 'scalar') return dotv(x, y) * Math.exp(this.at(i, 0) - this.at(j, 0));
    const sameSub = i < 0 || j < 0 || Math.floor(i / SUBCHUNK) === Math.floor(j / SUBCHUNK);
    let s = 0;
    if (sameSub) {
      for (let d = 0; d < this.K; d++) s += x[d]! * y[d]! * Math.exp(this.at(i, d) - this.at(j, d));
      return s;
    }
    const r = (Math.floor(j / SUBCHUNK) + 1) * SUBCHUNK - 1;
    for (let d = 0; d < this.K; d++) {
      const br = this.at(r, d);
      s += x[d]! * Math.exp(this.at(i, d) - br) * (y[d]! * Math.exp(br - this.at(j, d)));
    }
    return s;
  }
}

export function chunkForward(ir: AttentionIR, p: Prepared, st: HeadState, C: number): Float64Array[] {
  const cls = ir.update!.cls;
  const out: Float64Array[] = [];
  for (let s = 0; s < p.T; s += C) {
    const e = Math.min(s + C, p.T);
    const cum = new Cum(p.g, s, e, ir.keyDim);
    if (cls === 'additive' && ir.normalizer === 'maxabs') out.push(...maxabsChunk(ir, p, st, s, e, cum));
    else if (cls === 'additive') out.push(...additiveChunk(ir, p, st, s, e, cum));
    else if (cls === 'delta') out.push(...deltaChunk(ir, p, st, s, e, cum));
    else if (cls === 'dplr') out.push(...dplrChunk(ir, p, st, s, e, cum));
    else throw new Error(`internal: no chunk form for ${cls}`);
  }
  return out;
}

/** S ← diag(e^{b_L}) S + Σ_j (x_j ⊙ e^{b_L − b_j}) w_jᵀ, and z likewise with `zw`. */
function passState(st: HeadState, cum: Cum, L: number, xs: Float64Array[], ws: Float64Array[], zw: number[] | undefined, V: number): void {
  const last = L - 1;
  const K = st.S.length / V;
  for (let d = 0; d < K; d++) {
    const f = Math.exp(cum.at(last, d));
    for (let c = 0; c < V; c++) st.S[d * V + c]! *= f;
    if (st.z) st.z[d]! *= f;
  }
  for (let j = 0; j < L; j++) {
    const x = cum.relScaled(xs[j]!, last, j);
    addOuter(st.S, x, ws[j]!, 1);
    if (st.z && zw) for (let d = 0; d < K; d++) st.z[d]! += x[d]! * zw[j]!;
  }
}

function additiveChunk(ir: AttentionIR, p: Prepared, st: HeadState, s: number, e: number, cum: Cum): Float64Array[] {
  const V = ir.valueDim;
  const L = e - s;
  const exclusive = ir.read.kind === 'exclusive';
  const sc = (t: number) => p.scale?.[t] ?? 1;
  const out: Float64Array[] = [];
  for (let i = 0; i < L; i++) {
    const t = s + i;
    const q = p.q[t]!;
    const ti = exclusive ? i - 1 : i;
    const qd = cum.scaled(q, ti);
    const o = readState(st.S, qd, V);
    let den = st.z ? dotv(st.z, qd) : 0;
    for (let j = 0; j <= ti; j++) {
      const a = cum.relDot(q, p.k[s + j]!, ti, j) * sc(s + j);
      const v = p.v[s + j]!;
      for (let c = 0; c < V; c++) o[c]! += a * v[c]!;
      den += a;
    }
    if (exclusive) {
      const u = p.bonus?.[t];
      let qk = 0;
      const k = p.k[t]!;
      if (u !== undefined) for (let d = 0; d < k.length; d++) qk += q[d]! * k[d]! * (typeof u === 'number' ? u : u[d]!);
      const v = p.v[t]!;
      for (let c = 0; c < V; c++) o[c]! += qk * sc(t) * v[c]!;
      den += qk * sc(t);
    }
    if (ir.normalizer === 'sum') for (let c = 0; c < V; c++) o[c]! /= den + SUM_EPS;
    out.push(o);
  }
  const ws: Float64Array[] = [];
  const zs: number[] = [];
  for (let j = 0; j < L; j++) {
    ws.push(p.v[s + j]!.map((x) => x * sc(s + j)));
    zs.push(sc(s + j));
  }
  passState(st, cum, L, p.k.slice(s, e), ws, zs, V);
  return out;
}

/** mLSTM (scalar gate): m_t = b_t + max(m_c, max_{j≤t}(log s_j − b_j)), all weights e^{… − m_t} ≤ 1. */
function maxabsChunk(ir: AttentionIR, p: Prepared, st: HeadState, s: number, e: number, cum: Cum): Float64Array[] {
  const V = ir.valueDim;
  const L = e - s;
  const li = (t: number) => p.logScale?.[t] ?? 0;
  const b = (i: number) => cum.at(i, 0);
  const mc = st.m;
  const out: Float64Array[] = [];
  let run = -Infinity;
  const ms: number[] = [];
  for (let i = 0; i < L; i++) {
    run = Math.max(run, li(s + i) - b(i));
    const m = b(i) + Math.max(mc, run);
    ms.push(m);
    const q = p.q[s + i]!;
    const fS = Math.exp(mc + b(i) - m);
    const o = readState(st.S, q, V).map((x) => x * fS);
    let den = fS * dotv(st.z!, q);
    for (let j = 0; j <= i; j++) {
      const w = Math.exp(li(s + j) + b(i) - b(j) - m) * dotv(q, p.k[s + j]!);
      const v = p.v[s + j]!;
      for (let c = 0; c < V; c++) o[c]! += w * v[c]!;
      den += w;
    }
    const d = Math.max(Math.abs(den), Math.exp(-m));
    out.push(o.map((x) => x / d));
  }
  const mEnd = ms[L - 1]!;
  const f = Math.exp(mc + b(L - 1) - mEnd);
  for (let x = 0; x < st.S.length; x++) st.S[x]! *= f;
  for (let x = 0; x < st.z!.length; x++) st.z![x]! *= f;
  for (let j = 0; j < L; j++) {
    const w = Math.exp(li(s + j) + b(L - 1) - b(j) - mEnd);
    addOuter(st.S, p.k[s + j]!, p.v[s + j]!, w);
    const k = p.k[s + j]!;
    for (let d = 0; d < k.length; d++) st.z![d]! += w * k[d]!;
  }
  st.m = mEnd;
  return out;
}

/** Forward substitution: solve (I + A) X = R for strictly-lower A (rows of X are V-vectors). */
function solveUnitLower(A: number[][], R: Float64Array[]): Float64Array[] {
  const X: Float64Array[] = [];
  for (let i = 0; i < R.length; i++) {
    const x = R[i]!.slice();
    for (let j = 0; j < i; j++) {
      const a = A[i]![j]!;
      if (a === 0) continue;
      const xj = X[j]!;
      for (let c = 0; c < x.length; c++) x[c]! -= a * xj[c]!;
    }
    X.push(x);
  }
  return X;
}

function deltaChunk(ir: AttentionIR, p: Prepared, st: HeadState, s: number, e: number, cum: Cum): Float64Array[] {
  const V = ir.valueDim;
  const K = ir.keyDim;
  const L = e - s;
  const k = p.k.slice(s, e);
  const beta = p.beta!.slice(s, e);
  // A_tj = β_t Σ_d k_td k_jd e^{b_td − b_jd}, j < t.
  const A: number[][] = [];
  for (let i = 0; i < L; i++) {
    const row: number[] = new Array(L).fill(0);
    for (let j = 0; j < i; j++) row[j] = beta[i]! * cum.relDot(k[i]!, k[j]!, i, j);
    A.push(row);
  }
  // The UT transform T = (I + A)⁻¹ applied to β-scaled rows: W = T diag(β)(K ⊙ e^b), Ũ = T diag(β) V.
  const W = solveUnitLower(A, k.map((x, i) => cum.scaled(x, i).map((y) => y * beta[i]!)));
  const Ut = solveUnitLower(A, p.v.slice(s, e).map((x, i) => x.map((y) => y * beta[i]!)));
  // U = Ũ − W S_c: the values corrected by what the state already predicts.
  const U = Ut.map((u, i) => {
    const ws = readState(st.S, W[i]!, V);
    return u.map((x, c) => x - ws[c]!);
  });
  const out: Float64Array[] = [];
  for (let i = 0; i < L; i++) {
    const q = p.q[s + i]!;
    const o = readState(st.S, cum.scaled(q, i), V);
    for (let j = 0; j <= i; j++) {
      const a = cum.relDot(q, k[j]!, i, j);
      const u = U[j]!;
      for (let c = 0; c < V; c++) o[c]! += a * u[c]!;
    }
    out.push(o);
  }
  void K;
  passState(st, cum, L, k, U, undefined, V);
  return out;
}

/**
 * DPLR: S_t = diag(α_t) S_{t−1} + b_t p_tᵀ + k_t v_tᵀ with p_t = S_{t−1}ᵀ a_t. Unrolled inside the
 * chunk (b' = b_{t−1}, the decay up to the previous token):
 *   p_t − Σ_{j<t} (Σ_d a_td b_jd e^{b'_td − b_jd}) p_j = Σ_{j<t} (Σ_d a_td k_jd e^{b'_td − b_jd}) v_j + S_cᵀ (a_t ⊙ e^{b'_t})
 *   o_t = (q_t ⊙ e^{b_t})ᵀ S_c + Σ_{j≤t} Σ_d q_td e^{b_td − b_jd} (b_jd p_j + k_jd v_j)
 */
function dplrChunk(ir: AttentionIR, p: Prepared, st: HeadState, s: number, e: number, cum: Cum): Float64Array[] {
  const V = ir.valueDim;
  const L = e - s;
  const a = p.a!.slice(s, e);
  const bb = p.b!.slice(s, e);
  const k = p.k.slice(s, e);
  const v = p.v.slice(s, e);
  const A: number[][] = [];
  const R: Float64Array[] = [];
  for (let i = 0; i < L; i++) {
    const row: number[] = new Array(L).fill(0);
    const r = readState(st.S, cum.scaled(a[i]!, i - 1), V);
    for (let j = 0; j < i; j++) {
      row[j] = -cum.relDot(a[i]!, bb[j]!, i - 1, j);
      const w = cum.relDot(a[i]!, k[j]!, i - 1, j);
      for (let c = 0; c < V; c++) r[c]! += w * v[j]![c]!;
    }
    A.push(row);
    R.push(r);
  }
  const P = solveUnitLower(A, R);
  const out: Float64Array[] = [];
  for (let i = 0; i < L; i++) {
    const q = p.q[s + i]!;
    const o = readState(st.S, cum.scaled(q, i), V);
    for (let j = 0; j <= i; j++) {
      const wb = cum.relDot(q, bb[j]!, i, j);
      const wk = cum.relDot(q, k[j]!, i, j);
      for (let c = 0; c < V; c++) o[c]! += wb * P[j]![c]! + wk * v[j]![c]!;
    }
    out.push(o);
  }
  passState(st, cum, L, bb, P, undefined, V);
  // passState decays S once; the k vᵀ terms are added without decaying S again.
  for (let j = 0; j < L; j++) addOuter(st.S, cum.relScaled(k[j]!, L - 1, j), v[j]!, 1);
  return out;
}
