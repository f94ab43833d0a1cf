/**
 * Interval arithmetic over typed expressions: the checker uses it to prove that a gate is a
 * log-decay (≤ 0). Inputs and parameters are unbounded; index variables are ≥ 0.
 */
import type { TExpr, UnaryFn, BinaryFn } from '../ir/expr.ts';

export interface Interval {
  lo: number;
  hi: number;
}

export const ANY: Interval = { lo: -Infinity, hi: Infinity };

function mulN(a: number, b: number): number {
  // 0 × ∞ = 0 for bounds: the set {0} times an unbounded set stays {0}.
  if (a === 0 || b === 0) return 0;
  return a * b;
}

function hull(...xs: number[]): Interval {
  const ys = xs.filter((x) => !Number.isNaN(x));
  if (ys.length === 0) return ANY;
  return { lo: Math.min(...ys), hi: Math.max(...ys) };
}

const sig = (x: number) => 1 / (1 + Math.exp(-x));
const logsig = (x: number) => (x >= 0 ? -Math.log1p(Math.exp(-x)) : x - Math.log1p(Math.exp(x)));
const softplus = (x: number) => (x > 30 ? x : Math.log1p(Math.exp(x)));

export function unaryInterval(fn: UnaryFn, a: Interval): Interval {
  switch (fn) {
    case 'neg':
      return { lo: -a.hi, hi: -a.lo };
    case 'exp':
      return { lo: Math.exp(a.lo), hi: Math.exp(a.hi) };
    case 'exp2':
      return { lo: 2 ** a.lo, hi: 2 ** a.hi };
    case 'log':
    case 'log2': {
      const f = fn === 'log' ? Math.log : Math.log2;
      if (a.hi <= 0) return ANY;
      return { lo: a.lo > 0 ? f(a.lo) : -Infinity, hi: f(a.hi) };
    }
    case 'sqrt':
      return { lo: Math.sqrt(Math.max(0, a.lo)), hi: Math.sqrt(Math.max(0, a.hi)) };
    case 'rsqrt':
      return { lo: a.hi > 0 ? 1 / Math.sqrt(a.hi) : 0, hi: a.lo > 0 ? 1 / Math.sqrt(a.lo) : Infinity };
    case 'abs':
      if (a.lo >= 0) return a;
      if (a.hi <= 0) return { lo: -a.hi, hi: -a.lo };
      return { lo: 0, hi: Math.max(-a.lo, a.hi) };
    case 'sigmoid':
      return { lo: sig(a.lo), hi: sig(a.hi) };
    case 'logsigmoid':
      return { lo: logsig(a.lo), hi: logsig(a.hi) };
    case 'softplus':
      return { lo: softplus(a.lo), hi: softplus(a.hi) };
    case 'silu':
      return { lo: -0.2785, hi: a.hi > 0 ? a.hi * sig(a.hi) : 0 };
    case 'elu':
      return { lo: a.lo >= 0 ? a.lo : Math.max(-1, Math.expm1(a.lo)), hi: a.hi >= 0 ? a.hi : Math.expm1(a.hi) };
    case 'relu':
      return { lo: Math.max(0, a.lo), hi: Math.max(0, a.hi) };
    case 'tanh':
      return { lo: Math.tanh(a.lo), hi: Math.tanh(a.hi) };
    case 'sin':
    case 'cos':
      return { lo: -1, hi: 1 };
    case 'floor':
      return { lo: Math.floor(a.lo), hi: Math.floor(a.hi) };
    case 'not':
      return { lo: 0, hi: 1 };
  }
}

export function binaryInterval(fn: BinaryFn, a: Interval, b: Interval, bConst?: number): Interval {
  switch (fn) {
    case 'add':
      return { lo: a.lo + b.lo, hi: a.hi + b.hi };
    case 'sub':
      return { lo: a.lo - b.hi, hi: a.hi - b.lo };
    case 'mul':
      return hull(mulN(a.lo, b.lo), mulN(a.lo, b.hi), mulN(a.hi, b.lo), mulN(a.hi, b.hi));
    case 'div':
      if (b.lo > 0 || b.hi < 0) return hull(a.lo / b.lo, a.lo / b.hi, a.hi / b.lo, a.hi / b.hi);
      return ANY;
    case 'pow':
      if (bConst !== undefined && Number.isInteger(bConst) && bConst % 2 === 0 && bConst >= 0) {
        const m = unaryInterval('abs', a);
        return { lo: m.lo ** bConst, hi: m.hi ** bConst };
      }
      if (a.lo > 0) return hull(a.lo ** b.lo, a.lo ** b.hi, a.hi ** b.lo, a.hi ** b.hi);
      if (bConst !== undefined && Number.isInteger(bConst) && bConst > 0) return hull(a.lo ** bConst, a.hi ** bConst, 0);
      return ANY;
    case 'min':
      return { lo: Math.min(a.lo, b.lo), hi: Math.min(a.hi, b.hi) };
    case 'max':
      return { lo: Math.max(a.lo, b.lo), hi: Math.max(a.hi, b.hi) };
    default:
      return { lo: 0, hi: 1 };
  }
}

/** An enclosure of every value the expression can take (elementwise, for tensors). */
export function intervalOf(e: TExpr, memo = new Map<TExpr, Interval>()): Interval {
  const hit = memo.get(e);
  if (hit) return hit;
  let r: Interval;
  switch (e.op) {
    case 'const':
      r = { lo: e.value, hi: e.value };
      break;
    case 'index':
      r = { lo: e.name === 'T' || e.name === 'H' ? 1 : 0, hi: Infinity };
      break;
    case 'ref':
      r = ANY;
      break;
    case 'unary':
      r = unaryInterval(e.fn, intervalOf(e.a, memo));
      break;
    case 'binary': {
      const b = intervalOf(e.b, memo);
      r = binaryInterval(e.fn, intervalOf(e.a, memo), b, b.lo === b.hi ? b.lo : undefined);
      break;
    }
    case 'reduce': {
      const a = intervalOf(e.a, memo);
      const n = e.a.shape[0] ?? 1;
      r = e.fn === 'sum' ? { lo: mulN(a.lo, n), hi: mulN(a.hi, n) } : a;
      break;
    }
    case 'vecfn':
      r = e.fn === 'softmax' ? { lo: 0, hi: 1 } : e.fn === 'l2norm' ? { lo: -1, hi: 1 } : ANY;
      break;
    case 'dot': {
      const p = binaryInterval('mul', intervalOf(e.a, memo), intervalOf(e.b, memo));
      const n = e.a.shape[0] ?? 1;
      r = { lo: mulN(p.lo, n), hi: mulN(p.hi, n) };
      break;
    }
    case 'matmul': {
      const p = binaryInterval('mul', intervalOf(e.a, memo), intervalOf(e.b, memo));
      const n = e.b.shape[0] ?? 1;
      r = { lo: mulN(p.lo, n), hi: mulN(p.hi, n) };
      break;
    }
    case 'outer':
      r = binaryInterval('mul', intervalOf(e.a, memo), intervalOf(e.b, memo));
      break;
    case 'transpose':
    case 'flatten':
      r = intervalOf(e.a, memo);
      break;
    case 'diag':
      r = hull(intervalOf(e.a, memo).lo, intervalOf(e.a, memo).hi, 0);
      break;
    case 'concat': {
      const parts = e.parts.map((p) => intervalOf(p, memo));
      r = hull(...parts.map((p) => p.lo), ...parts.map((p) => p.hi));
      break;
    }
    case 'select': {
      const a = intervalOf(e.a, memo);
      const b = intervalOf(e.b, memo);
      r = hull(a.lo, a.hi, b.lo, b.hi);
      break;
    }
    case 'get':
      r = intervalOf(e.a, memo);
      break;
  }
  memo.set(e, r);
  return r;
}

export function intervalText(r: Interval): string {
  const f = (x: number) => (x === Infinity ? '∞' : x === -Infinity ? '-∞' : Number(x.toPrecision(4)).toString());
  return `[${f(r.lo)}, ${f(r.hi)}]`;
}
