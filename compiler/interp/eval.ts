/**
 * Evaluation of typed expressions in float64. Expressions are compiled once into closures over an
 * environment that supplies inputs, parameters, features, states and index variables.
 */
import type { At, IndexVar, TExpr, UnaryFn, BinaryFn, VectorFn } from '../ir/expr.ts';
import { asMat, asNumber, asVec, dot, isMat, mat, type Mat, type Value } from './values.ts';

export interface EvalEnv {
  input(name: string, at: At): Value;
  param(name: string): Value;
  /** A per-head parameter's slice for one head. */
  paramAt(name: string, head: number): Value;
  feature(which: 'q' | 'k' | 'v', at: At): Value;
  state(name: string): Value;
  output(): Value;
  index(name: IndexVar): number;
}

export type Compiled = (env: EvalEnv) => Value;

export const unaryOps: Record<UnaryFn, (x: number) => number> = {
  neg: (x) => -x,
  not: (x) => (x ? 0 : 1),
  exp: Math.exp,
  exp2: (x) => 2 ** x,
  log: Math.log,
  log2: Math.log2,
  sqrt: Math.sqrt,
  rsqrt: (x) => 1 / Math.sqrt(x),
  abs: Math.abs,
  sigmoid: (x) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x))),
  logsigmoid: (x) => (x >= 0 ? -Math.log1p(Math.exp(-x)) : x - Math.log1p(Math.exp(x))),
  softplus: (x) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x))),
  silu: (x) => x * (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x))),
  elu: (x) => (x > 0 ? x : Math.expm1(x)),
  relu: (x) => (x > 0 ? x : 0),
  tanh: Math.tanh,
  sin: Math.sin,
  cos: Math.cos,
  floor: Math.floor,
};

export const binaryOps: Record<BinaryFn, (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  pow: (a, b) => a ** b,
  min: Math.min,
  max: Math.max,
  lt: (a, b) => (a < b ? 1 : 0),
  le: (a, b) => (a <= b ? 1 : 0),
  gt: (a, b) => (a > b ? 1 : 0),
  ge: (a, b) => (a >= b ? 1 : 0),
  eq: (a, b) => (a === b ? 1 : 0),
  ne: (a, b) => (a !== b ? 1 : 0),
  and: (a, b) => (a && b ? 1 : 0),
  or: (a, b) => (a || b ? 1 : 0),
};

function mapValue(v: Value, f: (x: number) => number): Value {
  if (typeof v === 'number') return f(v);
  if (v instanceof Float64Array) return v.map(f);
  return mat(v.rows, v.cols, v.data.map(f));
}

/** Elementwise with leading-axis broadcasting: a vector [n] against an [n, m] matrix scales rows. */
export function zipValues(a: Value, b: Value, f: (x: number, y: number) => number): Value {
  if (typeof a === 'number' && typeof b === 'number') return f(a, b);
  if (typeof a === 'number') return mapValue(b, (y) => f(a, y));
  if (typeof b === 'number') return mapValue(a, (x) => f(x, b));
  if (a instanceof Float64Array && b instanceof Float64Array) return a.map((x, i) => f(x, b[i]!));
  if (isMat(a) && isMat(b)) return mat(a.rows, a.cols, a.data.map((x, i) => f(x, b.data[i]!)));
  if (a instanceof Float64Array && isMat(b)) return mat(b.rows, b.cols, b.data.map((y, i) => f(a[Math.floor(i / b.cols)]!, y)));
  const m = a as Mat;
  const v = b as Float64Array;
  return mat(m.rows, m.cols, m.data.map((x, i) => f(x, v[Math.floor(i / m.cols)]!)));
}

export function vectorFn(fn: VectorFn, x: Float64Array, eps: number): Float64Array {
  const n = x.length;
  switch (fn) {
    case 'l2norm': {
      const r = 1 / Math.sqrt(dot(x, x) + eps);
      return x.map((v) => v * r);
    }
    case 'rmsnorm': {
      const r = 1 / Math.sqrt(dot(x, x) / n + eps);
      return x.map((v) => v * r);
    }
    case 'layernorm': {
      let mu = 0;
      for (const v of x) mu += v;
      mu /= n;
      let var_ = 0;
      for (const v of x) var_ += (v - mu) * (v - mu);
      var_ /= n;
      const r = 1 / Math.sqrt(var_ + eps);
      return x.map((v) => (v - mu) * r);
    }
    case 'softmax': {
      let m = -Infinity;
      for (const v of x) m = Math.max(m, v);
      const e = x.map((v) => Math.exp(v - m));
      let s = 0;
      for (const v of e) s += v;
      return e.map((v) => v / s);
    }
  }
}

export function matmul(a: Value, b: Value): Value {
  if (typeof a === 'number' || typeof b === 'number') return zipValues(a, b, (x, y) => x * y);
  if (a instanceof Float64Array && b instanceof Float64Array) return dot(a, b);
  if (isMat(a) && b instanceof Float64Array) {
    const out = new Float64Array(a.rows);
    for (let i = 0; i < a.rows; i++) {
      let s = 0;
      for (let k = 0; k < a.cols; k++) s += a.data[i * a.cols + k]! * b[k]!;
      out[i] = s;
    }
    return out;
  }
  if (a instanceof Float64Array && isMat(b)) {
    const out = new Float64Array(b.cols);
    for (let k = 0; k < b.rows; k++) {
      const ak = a[k]!;
      if (ak === 0) continue;
      for (let j = 0; j < b.cols; j++) out[j]! += ak * b.data[k * b.cols + j]!;
    }
    return out;
  }
  const A = a as Mat;
  const B = b as Mat;
  const out = mat(A.rows, B.cols);
  for (let i = 0; i < A.rows; i++)
    for (let k = 0; k < A.cols; k++) {
      const aik = A.data[i * A.cols + k]!;
      if (aik === 0) continue;
      for (let j = 0; j < B.cols; j++) out.data[i * B.cols + j]! += aik * B.data[k * B.cols + j]!;
    }
  return out;
}

export function transposeMat(m: Mat): Mat {
  const out = mat(m.cols, m.rows);
  for (let i = 0; i < m.rows; i++) for (let j = 0; j < m.cols; j++) out.data[j * m.rows + i] = m.data[i * m.cols + j]!;
  return out;
}

/** Compile an expression into a closure. Shared sub-expressions (inlined lets) compile once. */
export function compileExpr(e: TExpr, memo = new Map<TExpr, Compiled>()): Compiled {
  const hit = memo.get(e);
  if (hit) return hit;
  const c = (x: TExpr) => compileExpr(x, memo);
  let f: Compiled;
  switch (e.op) {
    case 'const': {
      const v = e.value;
      f = () => v;
      break;
    }
    case 'index': {
      const n = e.name;
      f = (env) => env.index(n);
      break;
    }
    case 'ref': {
      const r = e.ref;
      switch (r.kind) {
        case 'input':
          f = (env) => env.input(r.name, r.at);
          break;
        case 'param':
          f = (env) => env.param(r.name);
          break;
        case 'feature':
          f = (env) => env.feature(r.which, r.at);
          break;
        case 'state':
          f = (env) => env.state(r.name);
          break;
        case 'output':
          f = (env) => env.output();
          break;
      }
      break;
    }
    case 'unary': {
      const a = c(e.a);
      const op = unaryOps[e.fn];
      f = (env) => mapValue(a(env), op);
      break;
    }
    case 'binary': {
      const a = c(e.a);
      const b = c(e.b);
      const op = binaryOps[e.fn];
      if (e.fn === 'and' || e.fn === 'or') {
        // Short-circuit predicates (masks are evaluated T² times).
        const isAnd = e.fn === 'and';
        f = (env) => {
          const x = asNumber(a(env));
          if (isAnd ? !x : x) return isAnd ? 0 : 1;
          return asNumber(b(env)) ? 1 : 0;
        };
      } else f = (env) => zipValues(a(env), b(env), op);
      break;
    }
    case 'reduce': {
      const a = c(e.a);
      const fn = e.fn;
      f = (env) => {
        const v = asVec(a(env));
        if (fn === 'sum' || fn === 'mean') {
          let s = 0;
          for (const x of v) s += x;
          return fn === 'sum' ? s : s / v.length;
        }
        let m = fn === 'max' ? -Infinity : Infinity;
        for (const x of v) m = fn === 'max' ? Math.max(m, x) : Math.min(m, x);
        return m;
      };
      break;
    }
    case 'vecfn': {
      const a = c(e.a);
      const fn = e.fn;
      const eps = e.eps;
      f = (env) => vectorFn(fn, asVec(a(env)), eps);
      break;
    }
    case 'dot': {
      const a = c(e.a);
      const b = c(e.b);
      f = (env) => dot(asVec(a(env)), asVec(b(env)));
      break;
    }
    case 'matmul': {
      const a = c(e.a);
      const b = c(e.b);
      f = (env) => matmul(a(env), b(env));
      break;
    }
    case 'outer': {
      const a = c(e.a);
      const b = c(e.b);
      f = (env) => {
        const x = asVec(a(env));
        const y = asVec(b(env));
        const out = mat(x.length, y.length);
        for (let i = 0; i < x.length; i++) for (let j = 0; j < y.length; j++) out.data[i * y.length + j] = x[i]! * y[j]!;
        return out;
      };
      break;
    }
    case 'transpose': {
      const a = c(e.a);
      f = (env) => {
        const v = a(env);
        return isMat(v) ? transposeMat(v) : v;
      };
      break;
    }
    case 'concat': {
      const parts = e.parts.map(c);
      const n = e.shape[0]!;
      f = (env) => {
        const out = new Float64Array(n);
        let o = 0;
        for (const p of parts) {
          const v = p(env);
          if (typeof v === 'number') out[o++] = v;
          else {
            const vv = asVec(v);
            out.set(vv, o);
            o += vv.length;
          }
        }
        return out;
      };
      break;
    }
    case 'flatten': {
      const a = c(e.a);
      f = (env) => asMat(a(env)).data.slice();
      break;
    }
    case 'diag': {
      const a = c(e.a);
      f = (env) => {
        const v = asVec(a(env));
        const out = mat(v.length, v.length);
        for (let i = 0; i < v.length; i++) out.data[i * v.length + i] = v[i]!;
        return out;
      };
      break;
    }
    case 'select': {
      const cond = c(e.cond);
      const a = c(e.a);
      const b = c(e.b);
      f = (env) => (asNumber(cond(env)) ? a(env) : b(env));
      break;
    }
    case 'get': {
      // Per-head parameter slices: p[h].
      const target = e.a;
      const index = c(e.index);
      if (target.op !== 'ref' || target.ref.kind !== 'param') throw new Error('internal: get on a non-parameter');
      const name = target.ref.name;
      f = (env) => env.paramAt(name, asNumber(index(env)));
      break;
    }
  }
  memo.set(e, f);
  return f;
}
