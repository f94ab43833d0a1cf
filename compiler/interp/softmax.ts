/**
 * The softmax family: o_i = Σ_j w_ij ṽ_j / Σ_j w_ij over the keys the mask allows, with
 * w_ij = exp(score_ij + G_i − G_j) (G: cumulative log-gate, forgetting attention); sigmoid and relu
 * weights are not normalised (o_i = Σ_j w_ij ṽ_j). A query with no visible key outputs 0.
 *   parallel   the materialised scores of each query row
 *   recurrent  keys streamed one at a time with a running max and sum (online softmax)
 *   chunk      FlashAttention-style tiles Bq × Bk: tiles the mask rules out are skipped, tiles it
 *              fully allows are not masked per element (mask-tiles.ts)
 */
import type { AttentionIR } from '../ir/attention-ir.ts';
import { classifyTile } from '../ir/mask-tiles.ts';
import { compileExpr, type Compiled, type EvalEnv } from './eval.ts';
import type { Prepared, TokenReader } from './prepare.ts';

export interface PairEval {
  score(i: number, j: number): number;
  visible(i: number, j: number): boolean;
}

export function pairEvaluator(ir: AttentionIR, r: TokenReader, p: Prepared): PairEval {
  const score: Compiled = compileExpr(ir.score!);
  const mask: Compiled = compileExpr(ir.mask);
  let I = 0;
  let J = 0;
  const env: EvalEnv = {
    input: (name, at) => r.input(name, at === 'i' ? I : J),
    param: (name) => r.param(name),
    paramAt: (name, head) => r.paramAt(name, head),
    feature: (which, at) => p[which][at === 'i' ? I : J]!,
    state: () => {
      throw new Error('internal: no state in a score');
    },
    output: () => {
      throw new Error('internal: no output in a score');
    },
    index: (n) => (n === 'i' ? I : n === 'j' ? J : n === 'h' ? r.h : n === 'T' ? r.seq.length : n === 'H' ? r.H : 0),
  };
  // Cumulative log-gates over the sequence (scalar per token).
  const G: number[] = [];
  let acc = 0;
  for (let t = 0; t < p.T; t++) G.push((acc += (p.g?.[t] as number | undefined) ?? 0));
  return {
    score(i, j) {
      I = i;
      J = j;
      return (score(env) as number) + (p.g ? G[i]! - G[j]! : 0);
    },
    visible(i, j) {
      I = i;
      J = j;
      return mask(env) !== 0;
    },
  };
}

function weightOf(kind: AttentionIR['weight'], s: number): number {
  return kind === 'sigmoid' ? 1 / (1 + Math.exp(-s)) : Math.max(s, 0);
}

export function softmaxParallel(ir: AttentionIR, p: Prepared, pe: PairEval): Float64Array[] {
  const V = ir.valueDim;
  const out: Float64Array[] = [];
  for (let i = 0; i < p.T; i++) {
    const js: number[] = [];
    const ss: number[] = [];
    for (let j = 0; j < p.T; j++)
      if (pe.visible(i, j)) {
        js.push(j);
        ss.push(pe.score(i, j));
      }
    const o = new Float64Array(V);
    if (ir.weight === 'softmax') {
      const m = Math.max(...ss);
      let l = 0;
      js.forEach((j, n) => {
        const w = Math.exp(ss[n]! - m);
        l += w;
        for (let c = 0; c < V; c++) o[c]! += w * p.v[j]![c]!;
      });
      if (l > 0) for (let c = 0; c < V; c++) o[c]! /= l;
    } else
      js.forEach((j, n) => {
        const w = weightOf(ir.weight, ss[n]!);
        for (let c = 0; c < V; c++) o[c]! += w * p.v[j]![c]!;
      });
    out.push(o);
  }
  return out;
}

/** Online accumulation of one key into a query's running (max, sum, output). */
class Online {
  m = -Infinity;
  l = 0;
  acc: Float64Array;
  constructor(
    V: number,
    private kind: AttentionIR['weight'],
  ) {
    this.acc = new Float64Array(V);
  }
  add(s: number, v: Float64Array): void {
    if (this.kind !== 'softmax') {
      const w = weightOf(this.kind, s);
      for (let c = 0; c < v.length; c++) this.acc[c]! += w * v[c]!;
      return;
    }
    const mNew = Math.max(this.m, s);
    const corr = this.m === -Infinity ? 0 : Math.exp(this.m - mNew);
    const w = Math.exp(s - mNew);
    this.l = this.l * corr + w;
    for (let c = 0; c < v.length; c++) this.acc[c] = this.acc[c]! * corr + w * v[c]!;
    this.m = mNew;
  }
  result(): Float64Array {
    if (this.kind !== 'softmax' || this.l === 0) return this.acc;
    return this.acc.map((x) => x / this.l);
  }
}

export function softmaxRecurrent(ir: AttentionIR, p: Prepared, pe: PairEval): Float64Array[] {
  const out: Float64Array[] = [];
  for (let i = 0; i < p.T; i++) {
    const on = new Online(ir.valueDim, ir.weight);
    for (let j = 0; j < p.T; j++) if (pe.visible(i, j)) on.add(pe.score(i, j), p.v[j]!);
    out.push(on.result());
  }
  return out;
}

export interface TileStats {
  visited: number;
  skipped: number;
  full: number;
}

export function softmaxTiled(ir: AttentionIR, r: TokenReader, p: Prepared, pe: PairEval, Bq: number, Bk: number, stats?: TileStats): Float64Array[] {
  const out: Float64Array[] = new Array(p.T);
  const ranges = { h: { lo: r.h, hi: r.h }, T: { lo: p.T, hi: p.T }, H: { lo: r.H, hi: r.H } };
  for (let i0 = 0; i0 < p.T; i0 += Bq) {
    const i1 = Math.min(i0 + Bq, p.T) - 1;
    const acc = Array.from({ length: i1 - i0 + 1 }, () => new Online(ir.valueDim, ir.weight));
    for (let j0 = 0; j0 < p.T; j0 += Bk) {
      const j1 = Math.min(j0 + Bk, p.T) - 1;
      const cls = classifyTile(ir.mask, { ...ranges, i: { lo: i0, hi: i1 }, j: { lo: j0, hi: j1 } });
      if (cls === 'empty') {
        if (stats) stats.skipped++;
        continue;
      }
      if (stats) {
        stats.visited++;
        if (cls === 'full') stats.full++;
      }
      for (let i = i0; i <= i1; i++)
        for (let j = j0; j <= j1; j++) {
          if (cls === 'partial' && !pe.visible(i, j)) continue;
          acc[i - i0]!.add(pe.score(i, j), p.v[j]!);
        }
    }
    for (let i = i0; i <= i1; i++) out[i] = acc[i - i0]!.result();
  }
  return out;
}
