/**
 * Typed expressions → kernel IR. A per-token expression is computed for a tile of R token rows:
 * elementwise parts become one element expression (value at row r, column c), reading inputs and
 * parameters straight from their buffers; reductions, norms, softmaxes, dot products and
 * parameter matrix products materialise into tiles with `map`/`reduce` ops first. The same
 * machinery computes feature maps (prepare kernel), loads fused with a feature map, epilogues, and
 * softmax score modifications (rows = queries, columns = keys).
 */
import type { IndexVar, Ref, TExpr } from '../ir/expr.ts';
import * as b from '../kernel-ir/build.ts';
import type { SExpr, Stmt, TileDecl } from '../kernel-ir/types.ts';

/** The value of an expression at element (r, c); `width` 0 for one scalar per row. */
export interface Elem {
  width: number;
  at: (r: SExpr, c: SExpr) => SExpr;
}

export class Unsupported extends Error {
  override name = 'Unsupported';
}

export interface LeafEnv {
  /** Element (r, c) of a referenced value (c is ignored for scalars). */
  ref(ref: Ref, shape: readonly number[]): Elem;
  index(name: IndexVar): (r: SExpr, c: SExpr) => SExpr;
  /** Element (r, c) of a parameter slice for the current head (`p[h]`). */
  paramAt(name: string, shape: readonly number[]): Elem;
  /** Tile read for `dot(q̃_i, k̃_j)` in a score, if this context has one. */
  qkDot?: (r: SExpr, c: SExpr) => SExpr;
}

const UNARY: Record<string, import('../kernel-ir/types.ts').UnFn> = {
  neg: 'neg',
  not: 'not',
  exp: 'exp',
  exp2: 'exp2',
  log: 'log',
  log2: 'log2',
  sqrt: 'sqrt',
  rsqrt: 'rsqrt',
  abs: 'abs',
  sigmoid: 'sigmoid',
  logsigmoid: 'logsigmoid',
  softplus: 'softplus',
  silu: 'silu',
  elu: 'elu',
  relu: 'relu',
  tanh: 'tanh',
  sin: 'sin',
  cos: 'cos',
  floor: 'floor',
};

export class ExprLowering {
  stmts: Stmt[] = [];
  tiles: TileDecl[] = [];
  private count = 0;
  private memo = new Map<TExpr, Elem>();

  /**
   * @param rows tile rows (tokens, or queries)
   * @param guardRows rows that hold real tokens: materialising maps skip the others (no reads past the end)
   */
  constructor(
    readonly rows: number,
    private env: LeafEnv,
    private prefix: string,
    private guardRows?: SExpr,
  ) {}

  private newTile(cols: number): string {
    const name = `${this.prefix}${this.count++}`;
    this.tiles.push({ name, rows: this.rows, cols: Math.max(1, cols), space: 'shared' });
    return name;
  }

  /** Materialise an element function into a tile [rows, width] (one column for scalars). */
  materialize(e: Elem): { tile: string; elem: Elem } {
    const t = this.newTile(e.width);
    this.stmts.push({ op: 'map', dst: { tile: t }, expr: e.at(b.R, b.C), ...(this.guardRows ? { guard: { rows: this.guardRows, cols: b.i(Math.max(1, e.width)), fill: 0 } } : {}) });
    this.stmts.push({ op: 'barrier' });
    const w = e.width;
    return { tile: t, elem: { width: w, at: (r, c) => b.tile(t, r, w ? c : b.i(0)) } };
  }

  /**
   * Σ or max of a row of `e`, into a column tile: one map whose value folds the row, so `e` is
   * never materialised (no tile for it, no barrier before the fold) and a backend may spread the
   * fold of a row over several threads (the printers' parallel folds).
   */
  private reduceRows(e: Elem, fn: 'sum' | 'max'): Elem {
    const dst = this.newTile(0);
    const j = `${this.prefix}j${this.count++}`;
    const body = b.fold(fn, j, b.i(0), b.i(Math.max(1, e.width)), e.at(b.R, e.width ? b.v(j) : b.i(0)));
    this.stmts.push({ op: 'map', dst: { tile: dst }, expr: body, ...(this.guardRows ? { guard: { rows: this.guardRows, cols: b.i(1), fill: 0 } } : {}) });
    this.stmts.push({ op: 'barrier' });
    return { width: 0, at: (r) => b.tile(dst, r, b.i(0)) };
  }

  /** Take `elem` as the value of node `e` wherever it occurs (a value computed elsewhere). */
  bind(e: TExpr, elem: Elem): void {
    this.memo.set(e, elem);
  }

  lower(e: TExpr): Elem {
    const hit = this.memo.get(e);
    if (hit) return hit;
    const out = this.lowerNode(e);
    this.memo.set(e, out);
    return out;
  }

  private lowerNode(e: TExpr): Elem {
    const w = e.shape.length === 0 ? 0 : e.shape[0]!;
    switch (e.op) {
      case 'const':
        return { width: 0, at: () => (e.type === 'bool' ? b.bool(e.value !== 0) : b.f(e.value)) };
      case 'index': {
        const f = this.env.index(e.name);
        return { width: 0, at: f };
      }
      case 'ref':
        return this.env.ref(e.ref, e.shape);
      case 'get': {
        if (e.a.op !== 'ref' || e.a.ref.kind !== 'param') throw new Unsupported('indexing other than p[h]');
        return this.env.paramAt(e.a.ref.name, e.shape);
      }
      case 'unary': {
        const a = this.lower(e.a);
        const fn = UNARY[e.fn]!;
        return { width: a.width, at: (r, c) => b.un(fn, a.at(r, c)) };
      }
      case 'binary': {
        // elu(x) + 1 (linear attention's feature map) is x + 1 or eˣ: one exponential, where
        // elu's eˣ − 1 takes an expm1 (accurate near 0, some 25 instructions on a GPU).
        const one = (x: TExpr) => x.op === 'const' && x.value === 1;
        const elu = e.fn === 'add' ? [e.a, e.b].find((x) => x.op === 'unary' && x.fn === 'elu') : undefined;
        if (elu && elu.op === 'unary' && one(elu === e.a ? e.b : e.a)) {
          const x = this.lower(elu.a);
          // (x's three uses load one element: the printers count it as one load, loadsOf.)
          return {
            width: x.width,
            at: (r, c) => {
              const v = x.at(r, c);
              return b.sel(b.lt(b.f(0), v), b.add(v, b.f(1)), b.exp(v));
            },
          };
        }
        const a = this.lower(e.a);
        const c2 = this.lower(e.b);
        if (a.width && c2.width && a.width !== c2.width) throw new Unsupported('mismatched widths');
        return { width: Math.max(a.width, c2.width), at: (r, c) => b.bin(e.fn, a.at(r, c), c2.at(r, c)) };
      }
      case 'select': {
        const cond = this.lower(e.cond);
        const a = this.lower(e.a);
        const c2 = this.lower(e.b);
        return { width: Math.max(a.width, c2.width), at: (r, c) => b.sel(cond.at(r, c), a.at(r, c), c2.at(r, c)) };
      }
      case 'concat': {
        const parts = e.parts.map((p) => this.lower(p));
        return {
          width: w,
          at: (r, c) => {
            // Select the part whose column range holds c.
            let off = 0;
            const ranges = parts.map((p) => {
              const n = p.width || 1;
              const o = off;
              off += n;
              return { p, o, n };
            });
            let expr = ranges[ranges.length - 1]!.p.at(r, b.sub(c, b.i(ranges[ranges.length - 1]!.o)));
            for (let k = ranges.length - 2; k >= 0; k--) {
              const x = ranges[k]!;
              expr = b.sel(b.lt(c, b.i(x.o + x.n)), x.p.at(r, b.sub(c, b.i(x.o))), expr);
            }
            return expr;
          },
        };
      }
      case 'flatten': {
        if (e.a.op !== 'outer') throw new Unsupported('flatten of a matrix other than an outer product');
        const x = this.lower(e.a.a);
        const y = this.lower(e.a.b);
        const n = e.a.shape[1]!;
        return { width: w, at: (r, c) => b.mul(x.at(r, b.idiv(c, b.i(n))), y.at(r, b.mod(c, b.i(n)))) };
      }
      case 'reduce': {
        const a = this.lower(e.a);
        if (e.fn === 'sum' || e.fn === 'mean') {
          const s = this.reduceRows(a, 'sum');
          return e.fn === 'sum' ? s : { width: 0, at: (r, c) => b.div(s.at(r, c), b.f(e.a.shape[0]!)) };
        }
        if (e.fn === 'max') return this.reduceRows(a, 'max');
        const negMax = this.reduceRows({ width: a.width, at: (r, c) => b.un('neg', a.at(r, c)) }, 'max');
        return { width: 0, at: (r, c) => b.un('neg', negMax.at(r, c)) };
      }
      case 'dot': {
        if (this.env.qkDot && isQkDot(e)) return { width: 0, at: this.env.qkDot };
        const a = this.lower(e.a);
        const c2 = this.lower(e.b);
        return this.reduceRows({ width: a.width, at: (r, c) => b.mul(a.at(r, c), c2.at(r, c)) }, 'sum');
      }
      case 'vecfn': {
        const x = this.materialize(this.lower(e.a)).elem;
        const n = e.a.shape[0]!;
        switch (e.fn) {
          case 'l2norm': {
            const ss = this.reduceRows({ width: n, at: (r, c) => b.mul(x.at(r, c), x.at(r, c)) }, 'sum');
            return { width: n, at: (r, c) => b.mul(x.at(r, c), b.un('rsqrt', b.add(ss.at(r, c), b.f(e.eps)))) };
          }
          case 'rmsnorm': {
            const ss = this.reduceRows({ width: n, at: (r, c) => b.mul(x.at(r, c), x.at(r, c)) }, 'sum');
            return { width: n, at: (r, c) => b.mul(x.at(r, c), b.un('rsqrt', b.add(b.div(ss.at(r, c), b.f(n)), b.f(e.eps)))) };
          }
          case 'layernorm': {
            const mu = this.reduceRows(x, 'sum');
            const mean = (r: SExpr, c: SExpr) => b.div(mu.at(r, c), b.f(n));
            const vv = this.reduceRows({ width: n, at: (r, c) => { const d = b.sub(x.at(r, c), mean(r, c)); return b.mul(d, d); } }, 'sum');
            return { width: n, at: (r, c) => b.mul(b.sub(x.at(r, c), mean(r, c)), b.un('rsqrt', b.add(b.div(vv.at(r, c), b.f(n)), b.f(e.eps)))) };
          }
          case 'softmax': {
            const m = this.reduceRows(x, 'max');
            const ex = this.materialize({ width: n, at: (r, c) => b.exp(b.sub(x.at(r, c), m.at(r, c))) }).elem;
            const s = this.reduceRows(ex, 'sum');
            return { width: n, at: (r, c) => b.div(ex.at(r, c), s.at(r, c)) };
          }
        }
        break;
      }
      case 'matmul': {
        // A parameter matrix times a per-token vector: y[r][m] = Σ_k W[m][k] x[r][k].
        if (e.a.shape.length !== 2 || e.b.shape.length !== 1) throw new Unsupported('matrix products other than W @ x');
        const W = this.lower(e.a);
        const x = this.materialize(this.lower(e.b)).elem;
        const K = e.b.shape[0]!;
        const kv = `k${this.count++}`;
        // W's element (m, k) is flattened as m·K + k by the parameter leaves.
        return { width: w, at: (r, c) => b.fold('sum', kv, b.i(0), b.i(K), b.mul(W.at(r, b.add(b.mul(c, b.i(K)), b.v(kv))), x.at(r, b.v(kv)))) };
      }
      case 'transpose':
      case 'outer':
      case 'diag':
        throw new Unsupported(`${e.op} outside a state equation`);
    }
    throw new Unsupported((e as TExpr).op);
  }
}

function isQkDot(e: Extract<TExpr, { op: 'dot' }>): boolean {
  const isF = (x: TExpr, w: 'q' | 'k', at: string) => x.op === 'ref' && x.ref.kind === 'feature' && x.ref.which === w && x.ref.at === at;
  return (isF(e.a, 'q', 'i') && isF(e.b, 'k', 'j')) || (isF(e.a, 'k', 'j') && isF(e.b, 'q', 'i'));
}

/** True when an expression lowers to one element expression with no materialisation (a fusable map). */
export function isElementwise(e: TExpr, leaves?: ReadonlySet<TExpr>): boolean {
  if (leaves?.has(e)) return true;
  const each = (x: TExpr) => isElementwise(x, leaves);
  switch (e.op) {
    case 'const':
    case 'index':
    case 'ref':
    case 'get':
      return true;
    case 'unary':
      return each(e.a);
    case 'binary':
      return each(e.a) && each(e.b);
    case 'select':
      return each(e.cond) && each(e.a) && each(e.b);
    case 'concat':
      return e.parts.every(each);
    case 'flatten':
      return e.a.op === 'outer' && each(e.a.a) && each(e.a.b);
    default:
      return false;
  }
}
