/**
 * Independent, direct implementations of five mechanisms, written from their papers' equations
 * (and FLA's naive PyTorch references) without any of attnc's code: plain loops over the
 * [B, T, H, D] tensors. The interpreter must agree with them.
 */
import type { Tensor } from '../../compiler/interp/tensor.ts';

type T4 = { B: number; T: number; H: number; D: number; data: Float64Array };

function view(t: Tensor): T4 {
  const [B, T, H, D] = [t.shape[0]!, t.shape[1]!, t.shape[2]!, t.shape[3] ?? 1];
  return { B, T, H, D, data: t.data };
}
const at = (x: T4, b: number, t: number, h: number): number[] => Array.from(x.data.subarray(((b * x.T + t) * x.H + h) * x.D, ((b * x.T + t) * x.H + h + 1) * x.D));
const sc = (x: Tensor, b: number, t: number, h: number) => x.data[(b * x.shape[1]! + t) * x.shape[2]! + h]!;
const dot = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i]!, 0);
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const softplus = (x: number) => (x > 30 ? x : Math.log(1 + Math.exp(x)));
const logsigmoid = (x: number) => -softplus(-x);
const l2norm = (x: number[]) => {
  const n = Math.sqrt(dot(x, x) + 1e-6);
  return x.map((v) => v / n);
};
const zeros = (r: number, c: number) => Array.from({ length: r }, () => new Array<number>(c).fill(0));

function output(B: number, T: number, H: number, V: number) {
  const o = new Float64Array(B * T * H * V);
  return { o, set: (b: number, t: number, h: number, row: number[]) => o.set(row, ((b * T + t) * H + h) * V) };
}

/** Causal softmax attention: o_i = Σ_{j≤i} e^{q_i·k_j/√D} v_j / Σ_{j≤i} e^{q_i·k_j/√D}. */
export function softmaxAttention(q: Tensor, k: Tensor, v: Tensor): Float64Array {
  const Q = view(q);
  const K = view(k);
  const Vv = view(v);
  const { o, set } = output(Q.B, Q.T, Q.H, Vv.D);
  for (let b = 0; b < Q.B; b++)
    for (let h = 0; h < Q.H; h++)
      for (let i = 0; i < Q.T; i++) {
        const s = Array.from({ length: i + 1 }, (_, j) => dot(at(Q, b, i, h), at(K, b, j, h)) / Math.sqrt(Q.D));
        const m = Math.max(...s);
        const w = s.map((x) => Math.exp(x - m));
        const z = w.reduce((a, c) => a + c, 0);
        const row = new Array<number>(Vv.D).fill(0);
        w.forEach((wj, j) => at(Vv, b, j, h).forEach((x, c) => (row[c]! += (wj / z) * x)));
        set(b, i, h, row);
      }
  return o;
}

/** Katharopoulos et al.: φ = elu + 1, o_i = φ(q_i)ᵀ S_i / (φ(q_i)ᵀ z_i + ε) with ε = 1e-6 (attnc's convention). */
export function linearAttention(q: Tensor, k: Tensor, v: Tensor): Float64Array {
  const phi = (x: number[]) => x.map((y) => (y > 0 ? y + 1 : Math.exp(y)));
  const Q = view(q);
  const K = view(k);
  const Vv = view(v);
  const { o, set } = output(Q.B, Q.T, Q.H, Vv.D);
  for (let b = 0; b < Q.B; b++)
    for (let h = 0; h < Q.H; h++) {
      const S = zeros(Q.D, Vv.D);
      const z = new Array<number>(Q.D).fill(0);
      for (let t = 0; t < Q.T; t++) {
        const fk = phi(at(K, b, t, h));
        const vt = at(Vv, b, t, h);
        fk.forEach((x, d) => {
          z[d]! += x;
          vt.forEach((y, c) => (S[d]![c]! += x * y));
        });
        const fq = phi(at(Q, b, t, h));
        const den = dot(fq, z) + 1e-6;
        set(b, t, h, vt.map((_, c) => fq.reduce((s, x, d) => s + x * S[d]![c]!, 0) / den));
      }
    }
  return o;
}

/** GLA (FLA naive_recurrent_gla): h = h ⊙ e^{gk} + k vᵀ, o = (q/√K)ᵀ h, gk = logsigmoid(x)/16. */
export function gla(q: Tensor, k: Tensor, v: Tensor, gk: Tensor): Float64Array {
  const Q = view(q);
  const Kk = view(k);
  const Vv = view(v);
  const G = view(gk);
  const { o, set } = output(Q.B, Q.T, Q.H, Vv.D);
  for (let b = 0; b < Q.B; b++)
    for (let h = 0; h < Q.H; h++) {
      const S = zeros(Q.D, Vv.D);
      for (let t = 0; t < Q.T; t++) {
        const g = at(G, b, t, h).map((x) => logsigmoid(x) / 16);
        const kt = at(Kk, b, t, h);
        const vt = at(Vv, b, t, h);
        for (let d = 0; d < Q.D; d++) for (let c = 0; c < Vv.D; c++) S[d]![c] = S[d]![c]! * Math.exp(g[d]!) + kt[d]! * vt[c]!;
        const qt = at(Q, b, t, h).map((x) => x / Math.sqrt(Q.D));
        set(b, t, h, vt.map((_, c) => qt.reduce((s, x, d) => s + x * S[d]![c]!, 0)));
      }
    }
  return o;
}

/** Gated DeltaNet (FLA naive recurrent): h ← h e^{g}; u = β (v − hᵀk); h ← h + k uᵀ; o = hᵀ q. */
export function gatedDeltaNet(q: Tensor, k: Tensor, v: Tensor, a: Tensor, bb: Tensor, Alog: Tensor, dtBias: Tensor): Float64Array {
  const Q = view(q);
  const Kk = view(k);
  const Vv = view(v);
  const { o, set } = output(Q.B, Q.T, Q.H, Vv.D);
  for (let b = 0; b < Q.B; b++)
    for (let h = 0; h < Q.H; h++) {
      const S = zeros(Q.D, Vv.D);
      for (let t = 0; t < Q.T; t++) {
        const g = -Math.exp(Alog.data[h]!) * softplus(sc(a, b, t, h) + dtBias.data[h]!);
        const beta = sigmoid(sc(bb, b, t, h));
        const kt = l2norm(at(Kk, b, t, h));
        const qt = l2norm(at(Q, b, t, h)).map((x) => x / Math.sqrt(Q.D));
        const vt = at(Vv, b, t, h);
        for (const row of S) for (let c = 0; c < row.length; c++) row[c]! *= Math.exp(g);
        const u = vt.map((x, c) => beta * (x - kt.reduce((s, kd, d) => s + kd * S[d]![c]!, 0)));
        for (let d = 0; d < Q.D; d++) for (let c = 0; c < Vv.D; c++) S[d]![c]! += kt[d]! * u[c]!;
        set(b, t, h, vt.map((_, c) => qt.reduce((s, x, d) => s + x * S[d]![c]!, 0)));
      }
    }
  return o;
}

/** RWKV-6 (FLA naive_recurrent_rwkv6): o_t = (r/√K)ᵀ (S + (u ⊙ k) vᵀ); S ← diag(e^{−e^{w}}) S + k vᵀ. */
export function rwkv6(r: Tensor, k: Tensor, v: Tensor, w: Tensor, u: Tensor): Float64Array {
  const R = view(r);
  const Kk = view(k);
  const Vv = view(v);
  const W = view(w);
  const { o, set } = output(R.B, R.T, R.H, Vv.D);
  for (let b = 0; b < R.B; b++)
    for (let h = 0; h < R.H; h++) {
      const S = zeros(R.D, Vv.D);
      const uh = Array.from(u.data.subarray(h * R.D, (h + 1) * R.D));
      for (let t = 0; t < R.T; t++) {
        const rt = at(R, b, t, h).map((x) => x / Math.sqrt(R.D));
        const kt = at(Kk, b, t, h);
        const vt = at(Vv, b, t, h);
        set(b, t, h, vt.map((vc, c) => rt.reduce((s, x, d) => s + x * (S[d]![c]! + uh[d]! * kt[d]! * vc), 0)));
        const decay = at(W, b, t, h).map((x) => Math.exp(-Math.exp(x)));
        for (let d = 0; d < R.D; d++) for (let c = 0; c < Vv.D; c++) S[d]![c] = decay[d]! * S[d]![c]! + kt[d]! * vt[c]!;
      }
    }
  return o;
}
