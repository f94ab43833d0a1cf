/** Reading a planned per-token quantity (fused expression or prepared buffer) for the rows of a tile. */
import { walk, type TExpr } from '../ir/expr.ts';
import * as b from '../kernel-ir/build.ts';
import type { SExpr } from '../kernel-ir/types.ts';
import { featBuf, P, tokenLeaves, type RowTokens } from './buffers.ts';
import type { KernelBuilder } from './kernel-builder.ts';
import { ExprLowering, Unsupported, type Elem } from './lower-expr.ts';
import type { PlanState, Quantity, RowScale } from './plan.ts';

export class Sources {
  readonly uses = { tokinfo: false };
  constructor(private st: PlanState) {}

  has(q: Quantity): boolean {
    return this.st.quantities?.[q] !== undefined;
  }

  width(q: Quantity): number {
    return this.st.quantities![q]!.width;
  }

  /** The prepared per-token factor of a row-scaled quantity (plan.ts, rowScale), if q is one. */
  rowScale(q: Quantity): RowScale | undefined {
    return this.st.quantities?.[q]?.rowScale?.scale;
  }

  /**
   * A column tile (`Qn`, `Kn`, `Vn`: rows × 1) for each row-scaled quantity among `names`, for a
   * kernel that loads the factors of its rows once (with its other per-row inputs) and reads them
   * from there: then a feature row is one buffer load times a tile value (a CUDA 16-byte load, a
   * WGSL stage of one load).
   */
  scaleTiles(kb: KernelBuilder, rows: number, names: readonly ('q' | 'k' | 'v')[]): Map<Quantity, string> {
    const out = new Map<Quantity, string>();
    for (const q of names) if (this.has(q) && this.rowScale(q)) out.set(q, kb.tile(`${q.toUpperCase()}n`, rows, 1));
    return out;
  }

  /**
   * Whether row-scaled quantity q is its factor times the rest (`l2norm(q) * K^-0.5`: products,
   * quotients and negations of the norm by values free of it), so a kernel may leave the factor
   * out of the rows it loads and scale a product's rows instead (elem with scaleTile null).
   */
  linearInScale(q: Quantity): boolean {
    const rs = this.st.quantities?.[q]?.rowScale;
    if (!rs) return false;
    const free = (e: TExpr): boolean => {
      let ok = true;
      walk(e, (x) => void (x === rs.node && (ok = false)));
      return ok;
    };
    const linear = (e: TExpr): boolean => {
      if (e === rs.node) return true;
      if (e.op === 'unary') return e.fn === 'neg' && linear(e.a);
      if (e.op !== 'binary') return false;
      if (e.fn === 'mul') return (linear(e.a) && free(e.b)) || (free(e.a) && linear(e.b));
      return e.fn === 'div' && linear(e.a) && free(e.b);
    };
    return linear(this.st.quantities![q]!.expr);
  }

  /**
   * A row-scaled quantity that is its norm times a constant (`l2norm(q) * K^-0.5`: g = K^-0.5), as
   * the factor of a row whose loaded values (x·g, the factor left out) have the sum of squares ss:
   * rsqrt(ss / (g²·n) + ε), n the width for an rmsnorm, 1 for an l2norm. Undefined otherwise.
   */
  normOf(q: Quantity): ((ss: SExpr) => SExpr) | undefined {
    const qp = this.st.quantities?.[q];
    const rs = qp?.rowScale;
    if (!rs || rs.node.op !== 'vecfn') return undefined;
    const e = qp!.expr;
    const g = e === rs.node ? 1 : e.op === 'binary' && e.fn === 'mul' && ((e.a === rs.node && e.b.op === 'const') || (e.b === rs.node && e.a.op === 'const')) ? ((e.a.op === 'const' ? e.a : e.b) as { value: number }).value : undefined;
    if (g === undefined || g === 0) return undefined;
    const div = g * g * (rs.node.fn === 'rmsnorm' ? qp!.width : 1);
    const eps = rs.node.eps;
    return (ss) => b.un('rsqrt', b.add(b.div(ss, b.f(div)), b.f(eps)));
  }

  /**
   * Whether the split delta form folds k's row factor into the intra-chunk kernel's results: with
   * k̃ = diag(f)·k, S += k̃ᵀX = kᵀ(diag(f)X), so the intra-chunk kernel writes diag(f)·W, diag(f)·U
   * and the weights' columns ÷ f (their product with X is unchanged), the state kernel carries
   * X' = diag(f)X = U' − W'S and updates with the raw k — it never loads or applies the factor.
   */
  foldsKeyScale(): boolean {
    return this.st.tiling?.split === true && this.st.ir.update?.cls === 'delta' && this.linearInScale('k');
  }

  /**
   * Prepared quantity q as its own lowering computes it for the `rows` rows of `rt` (the first
   * `bound` valid), its statements into `kb`: what the prepare kernel writes to f_<q>, and what a
   * kernel that runs before q's readers may compute and store instead (the intra-chunk kernel's
   * row factors).
   */
  computed(kb: KernelBuilder, q: Quantity, rows: number, rt: RowTokens, bound: SExpr): Elem {
    const l = new ExprLowering(rows, tokenLeaves(this.st.ir, rt, this.uses), `T${q}_`, bound);
    const e = l.lower(this.st.quantities![q]!.expr);
    kb.absorb(l);
    return e;
  }

  /**
   * Element (r, c) of quantity q for the tile rows `rt`. A row-scaled quantity reads its factor
   * from column tile `scaleTile` (scaleTiles), leaves it out where `scaleTile` is null (the caller
   * scales by it: linearInScale), or else reads it from its buffer.
   */
  elem(q: Quantity, rt: RowTokens, scaleTile?: string | null): Elem {
    const qp = this.st.quantities?.[q];
    if (!qp) throw new Unsupported(`quantity ${q} is not planned`);
    const w = qp.width;
    if (qp.how === 'prepared') {
      const base = (r: SExpr) => b.mul(b.add(b.mul(rt.tok(r), P.H), rt.head), b.i(Math.max(1, w)));
      return { width: w, at: (r, c) => b.ld(featBuf(q), w ? b.add(base(r), c) : base(r)) };
    }
    const l = new ExprLowering(1, tokenLeaves(this.st.ir, rt, this.uses), `_${q}`);
    const rs = qp.rowScale;
    if (rs) {
      const x = l.lower(rs.arg);
      if (scaleTile === null) {
        if (!this.linearInScale(q)) throw new Error(`internal: ${q} is not linear in its row factor`);
        l.bind(rs.node, x);
      } else {
        const f = scaleTile ? (r: SExpr) => b.tile(scaleTile, r, b.i(0)) : (r: SExpr) => this.elem(rs.scale, rt).at(r, b.i(0));
        // As the norm is lowered (lower-expr.ts): x · rsqrt(…), the factor per row.
        l.bind(rs.node, { width: x.width, at: (r, c) => b.mul(x.at(r, c), f(r)) });
      }
    }
    const e = l.lower(qp.expr);
    if (l.stmts.length) throw new Unsupported(`quantity ${q} was planned as fused but needs tiles`);
    return e;
  }
}
