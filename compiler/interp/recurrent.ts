/**
 * The recurrent form: token by token, exactly the equations of DESIGN.md §1.
 *   additive  S_t = diag(α_t) S_{t−1} + s_t k̃ ṽᵀ
 *   delta     S_t = (I − β_t k̃ k̃ᵀ) diag(α_t) S_{t−1} + β_t k̃ ṽᵀ
 *   DPLR      S_t = (diag(α_t) + b_t a_tᵀ) S_{t−1} + k̃ ṽᵀ
 *   read      inclusive o_t = S_tᵀ q̃_t, or exclusive o_t = (S_{t−1} + diag(u) s_t k̃ ṽᵀ)ᵀ q̃_t
 *   normalizer sum: o /= zᵀq̃ + ε with z_t = α_t z_{t−1} + s_t k̃;
 *              maxabs (mLSTM, stabilised): o = S̃ᵀq̃ / max(|z̃ᵀq̃|, e^{−m_t})
 * General linear and vector-state updates evaluate the user's equations as written.
 */
import type { AttentionIR } from '../ir/attention-ir.ts';
import { compileExpr } from './eval.ts';
import type { Prepared, TokenReader } from './prepare.ts';
import { tokenEnv } from './prepare.ts';
import { addOuter, decayRows, dotv, readState, rowFactor, SUM_EPS, type HeadState } from './state.ts';
import { mat, type Value } from './values.ts';

/** Run one sequence-head forward in time; returns the outputs before the epilogue. */
export function recurrentForward(ir: AttentionIR, p: Prepared, st: HeadState): Float64Array[] {
  const V = ir.valueDim;
  const out: Float64Array[] = [];
  const u = ir.update!;
  for (let t = 0; t < p.T; t++) {
    const q = p.q[t]!;
    const k = p.k[t]!;
    const v = p.v[t]!;
    const g = p.g?.[t];
    if (u.cls === 'additive' && ir.normalizer === 'maxabs') {
      out.push(maxabsStep(p, st, t, V));
      continue;
    }
    if (u.cls === 'additive') {
      const s = p.scale?.[t] ?? 1;
      let o: Float64Array;
      let den = 0;
      if (ir.read.kind === 'exclusive') {
        o = readState(st.S, q, V);
        const bonus = p.bonus?.[t];
        let qk = 0;
        for (let i = 0; i < k.length; i++) qk += q[i]! * k[i]! * (bonus === undefined ? 0 : typeof bonus === 'number' ? bonus : bonus[i]!);
        for (let j = 0; j < V; j++) o[j]! += qk * s * v[j]!;
        if (st.z) den = dotv(st.z, q) + qk * s;
        step(st, g, k, v, s, V);
      } else {
        step(st, g, k, v, s, V);
        o = readState(st.S, q, V);
        if (st.z) den = dotv(st.z, q);
      }
      if (ir.normalizer === 'sum') for (let j = 0; j < V; j++) o[j]! /= den + SUM_EPS;
      out.push(o);
    } else if (u.cls === 'delta') {
      decayRows(st.S, g, V);
      const proj = readState(st.S, k, V);
      const beta = p.beta![t]!;
      const delta = new Float64Array(V);
      for (let j = 0; j < V; j++) delta[j] = beta * (v[j]! - proj[j]!);
      addOuter(st.S, k, delta, 1);
      out.push(readState(st.S, q, V));
    } else if (u.cls === 'dplr') {
      const proj = readState(st.S, p.a![t]!, V);
      decayRows(st.S, g, V);
      addOuter(st.S, p.b![t]!, proj, 1);
      addOuter(st.S, k, v, 1);
      out.push(readState(st.S, q, V));
    } else throw new Error('internal: equation updates run through recurrentEquations');
  }
  return out;
}

function step(st: HeadState, g: number | Float64Array | undefined, k: Float64Array, v: Float64Array, s: number, V: number): void {
  decayRows(st.S, g, V);
  addOuter(st.S, k, v, s);
  if (st.z) for (let i = 0; i < k.length; i++) st.z[i] = rowFactor(g, i) * st.z[i]! + s * k[i]!;
}

/** mLSTM with its log-space stabiliser m_t = max(g_t + m_{t−1}, log s_t). */
function maxabsStep(p: Prepared, st: HeadState, t: number, V: number): Float64Array {
  const g = (p.g?.[t] as number | undefined) ?? 0;
  const li = p.logScale?.[t] ?? 0;
  const mNew = Math.max(g + st.m, li);
  const f = Math.exp(g + st.m - mNew);
  const w = Math.exp(li - mNew);
  const k = p.k[t]!;
  const q = p.q[t]!;
  for (let i = 0; i < st.S.length; i++) st.S[i]! *= f;
  addOuter(st.S, k, p.v[t]!, w);
  for (let i = 0; i < k.length; i++) st.z![i] = f * st.z![i]! + w * k[i]!;
  st.m = mNew;
  const o = readState(st.S, q, V);
  const den = Math.max(Math.abs(dotv(st.z!, q)), Math.exp(-mNew));
  for (let j = 0; j < V; j++) o[j]! /= den;
  return o;
}

/**
 * Bidirectional additive form: a forward and a backward pass (the backward weight of key j > i is
 * Π_{i<r≤j} α_r), with the diagonal counted once:
 *   o_t = (S^f_t + S^b_t − s_t k̃_t ṽ_tᵀ)ᵀ q̃_t   (and likewise for the normalizer).
 */
export function bidirectionalForward(ir: AttentionIR, p: Prepared): Float64Array[] {
  const V = ir.valueDim;
  const K = ir.keyDim;
  const fwd: { o: Float64Array; den: number }[] = [];
  const S = new Float64Array(K * V);
  const z = ir.normalizer === 'sum' ? new Float64Array(K) : undefined;
  const st: HeadState = { S, z, m: 0 };
  for (let t = 0; t < p.T; t++) {
    step(st, p.g?.[t], p.k[t]!, p.v[t]!, p.scale?.[t] ?? 1, V);
    fwd.push({ o: readState(S, p.q[t]!, V), den: z ? dotv(z, p.q[t]!) : 0 });
  }
  const Sb = new Float64Array(K * V);
  const zb = z ? new Float64Array(K) : undefined;
  const stb: HeadState = { S: Sb, z: zb, m: 0 };
  const out: Float64Array[] = new Array(p.T);
  for (let t = p.T - 1; t >= 0; t--) {
    // S^b_t = diag(α_{t+1}) S^b_{t+1} + s_t k_t v_tᵀ
    step(stb, t + 1 < p.T ? p.g?.[t + 1] : undefined, p.k[t]!, p.v[t]!, p.scale?.[t] ?? 1, V);
    const q = p.q[t]!;
    const ob = readState(Sb, q, V);
    const s = p.scale?.[t] ?? 1;
    const qk = s * dotv(q, p.k[t]!);
    const o = new Float64Array(V);
    for (let j = 0; j < V; j++) o[j] = fwd[t]!.o[j]! + ob[j]! - qk * p.v[t]![j]!;
    if (z) {
      const den = fwd[t]!.den + dotv(zb!, q) - qk;
      for (let j = 0; j < V; j++) o[j]! /= den + SUM_EPS;
    }
    out[t] = o;
  }
  return out;
}

/** General-linear and vector-state updates: the user's equations, evaluated as written. */
export function recurrentEquations(ir: AttentionIR, r: TokenReader, p: Prepared, states: Record<string, Value>): Float64Array[] {
  const u = ir.update!;
  const out: Float64Array[] = [];
  if (u.cls !== 'general-linear' && u.cls !== 'vector-state') throw new Error('internal: not an equation update');
  const eqs = u.equations.map((q) => ({ target: q.target, f: compileExpr(q.value) }));
  const o = compileExpr(u.output);
  for (let t = 0; t < p.T; t++) {
    const next: Record<string, Value> = {};
    for (const q of eqs) next[q.target] = q.f(tokenEnv(r, t, { features: p, states }));
    Object.assign(states, next);
    out.push(o(tokenEnv(r, t, { features: p, states })) as Float64Array);
  }
  return out;
}

/** Initial values of equation states (matrices as Mat, vectors as Float64Array). */
export function equationStates(ir: AttentionIR): Record<string, Value> {
  const u = ir.update!;
  const out: Record<string, Value> = {};
  if (u.cls === 'general-linear' || u.cls === 'vector-state') for (const s of u.states) out[s.name] = s.shape.length === 2 ? mat(s.shape[0]!, s.shape[1]!) : new Float64Array(s.shape[0]!);
  return out;
}
