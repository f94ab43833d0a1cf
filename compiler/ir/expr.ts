/**
 * Typed expressions: what the checker produces from AST expressions, and what the interpreter
 * evaluates and the backends print. Values are real tensors of rank 0–2, integers or booleans;
 * shapes are concrete (dims are resolved before checking). `let`s are inlined (shared nodes).
 */
import type { Span } from '../diagnostics/source.ts';

export type Shape = readonly number[];

export type IndexVar = 'i' | 'j' | 't' | 'h' | 'T' | 'H';

/** Where a per-token value is read: the current token (t), the query's (i) or the key's (j). */
export type At = 't' | 'i' | 'j';

export type Ref =
  | { kind: 'input'; name: string; at: At }
  | { kind: 'param'; name: string }
  /** The feature-mapped q̃, k̃, ṽ (state equations and scores). */
  | { kind: 'feature'; which: 'q' | 'k' | 'v'; at: At }
  | { kind: 'state'; name: string }
  /** The attention output before the epilogue (epilogue only). */
  | { kind: 'output' };

export type UnaryFn =
  | 'neg'
  | 'not'
  | 'exp'
  | 'exp2'
  | 'log'
  | 'log2'
  | 'sqrt'
  | 'rsqrt'
  | 'abs'
  | 'sigmoid'
  | 'logsigmoid'
  | 'softplus'
  | 'silu'
  | 'elu'
  | 'relu'
  | 'tanh'
  | 'sin'
  | 'cos'
  | 'floor';

export type BinaryFn = 'add' | 'sub' | 'mul' | 'div' | 'pow' | 'min' | 'max' | 'lt' | 'le' | 'gt' | 'ge' | 'eq' | 'ne' | 'and' | 'or';

export type ReduceFn = 'sum' | 'mean' | 'max' | 'min';

/** Row-wise vector → vector maps with a reduction inside; kept whole so backends can fuse them. */
export type VectorFn = 'l2norm' | 'rmsnorm' | 'layernorm' | 'softmax';

export type ValueKind = 'real' | 'int' | 'bool';

interface Base {
  /** 'real' tensors have a shape; 'int' and 'bool' are scalars. */
  type: ValueKind;
  shape: Shape;
  span: Span;
}

export type TExpr =
  | (Base & { op: 'const'; value: number })
  | (Base & { op: 'ref'; ref: Ref })
  | (Base & { op: 'index'; name: IndexVar })
  | (Base & { op: 'unary'; fn: UnaryFn; a: TExpr })
  | (Base & { op: 'binary'; fn: BinaryFn; a: TExpr; b: TExpr })
  | (Base & { op: 'reduce'; fn: ReduceFn; a: TExpr })
  | (Base & { op: 'vecfn'; fn: VectorFn; a: TExpr; eps: number })
  | (Base & { op: 'dot'; a: TExpr; b: TExpr })
  | (Base & { op: 'matmul'; a: TExpr; b: TExpr })
  | (Base & { op: 'outer'; a: TExpr; b: TExpr })
  | (Base & { op: 'transpose'; a: TExpr })
  | (Base & { op: 'concat'; parts: TExpr[] })
  | (Base & { op: 'flatten'; a: TExpr })
  | (Base & { op: 'diag'; a: TExpr })
  | (Base & { op: 'select'; cond: TExpr; a: TExpr; b: TExpr })
  /** Indexing a parameter by head (`A_log[h]`) or an input by token (`doc[i]`); `index` is an int scalar. */
  | (Base & { op: 'get'; a: TExpr; index: TExpr });

export type Op = TExpr['op'];

export function shapeSize(s: Shape): number {
  return s.reduce((a, b) => a * b, 1);
}

export function shapeText(s: Shape, names?: ReadonlyMap<number, string>): string {
  if (s.length === 0) return 'a scalar';
  return `[${s.map((n) => names?.get(n) ?? String(n)).join(', ')}]`;
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Visit every node once (shared let-bodies are visited once). */
export function walk(e: TExpr, f: (e: TExpr) => void, seen = new Set<TExpr>()): void {
  if (seen.has(e)) return;
  seen.add(e);
  f(e);
  for (const c of children(e)) walk(c, f, seen);
}

export function children(e: TExpr): TExpr[] {
  switch (e.op) {
    case 'const':
    case 'ref':
    case 'index':
      return [];
    case 'unary':
    case 'reduce':
    case 'vecfn':
    case 'transpose':
    case 'flatten':
    case 'diag':
      return [e.a];
    case 'binary':
    case 'dot':
    case 'matmul':
    case 'outer':
      return [e.a, e.b];
    case 'get':
      return [e.a, e.index];
    case 'concat':
      return e.parts;
    case 'select':
      return [e.cond, e.a, e.b];
  }
}

/** Rebuild an expression bottom-up; `f` may return a replacement for any node. */
export function mapExpr(e: TExpr, f: (e: TExpr) => TExpr | undefined, memo = new Map<TExpr, TExpr>()): TExpr {
  const hit = memo.get(e);
  if (hit) return hit;
  const direct = f(e);
  if (direct) {
    memo.set(e, direct);
    return direct;
  }
  let out: TExpr;
  const m = (x: TExpr) => mapExpr(x, f, memo);
  switch (e.op) {
    case 'const':
    case 'ref':
    case 'index':
      out = e;
      break;
    case 'unary':
    case 'reduce':
    case 'vecfn':
    case 'transpose':
    case 'flatten':
    case 'diag':
      out = { ...e, a: m(e.a) } as TExpr;
      break;
    case 'binary':
    case 'dot':
    case 'matmul':
    case 'outer':
      out = { ...e, a: m(e.a), b: m(e.b) } as TExpr;
      break;
    case 'get':
      out = { ...e, a: m(e.a), index: m(e.index) };
      break;
    case 'concat':
      out = { ...e, parts: e.parts.map(m) };
      break;
    case 'select':
      out = { ...e, cond: m(e.cond), a: m(e.a), b: m(e.b) };
      break;
  }
  memo.set(e, out);
  return out;
}

export function refsOf(e: TExpr): Ref[] {
  const out: Ref[] = [];
  walk(e, (n) => {
    if (n.op === 'ref') out.push(n.ref);
  });
  return out;
}

export function usesIndex(e: TExpr, name: IndexVar): boolean {
  let found = false;
  walk(e, (n) => {
    if (n.op === 'index' && n.name === name) found = true;
  });
  return found;
}

const ZERO_SPAN = { start: 0, end: 0 };

/** Builders used by lowering passes (not by the checker, which carries real spans). */
export const mk = {
  const(value: number, span: Span = ZERO_SPAN): TExpr {
    return { op: 'const', value, type: 'real', shape: [], span };
  },
  ref(ref: Ref, shape: Shape, span: Span = ZERO_SPAN): TExpr {
    return { op: 'ref', ref, type: 'real', shape, span };
  },
  unary(fn: UnaryFn, a: TExpr): TExpr {
    return { op: 'unary', fn, a, type: fn === 'not' ? 'bool' : 'real', shape: a.shape, span: a.span };
  },
  binary(fn: BinaryFn, a: TExpr, b: TExpr): TExpr {
    const shape = a.shape.length >= b.shape.length ? a.shape : b.shape;
    const type: ValueKind = ['lt', 'le', 'gt', 'ge', 'eq', 'ne', 'and', 'or'].includes(fn) ? 'bool' : 'real';
    return { op: 'binary', fn, a, b, type, shape, span: a.span };
  },
  dot(a: TExpr, b: TExpr): TExpr {
    return { op: 'dot', a, b, type: 'real', shape: [], span: a.span };
  },
};
