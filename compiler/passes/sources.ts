/** Reading a planned per-token quantity (fused expression or prepared buffer) for the rows of a tile. */
import * as b from '../kernel-ir/build.ts';
import type { SExpr } from '../kernel-ir/types.ts';
import { featBuf, P, tokenLeaves, type RowTokens } from './buffers.ts';
import { ExprLowering, Unsupported, type Elem } from './lower-expr.ts';
import type { PlanState, Quantity } from './plan.ts';

export class Sources {
  readonly uses = { tokinfo: false };
  constructor(private st: PlanState) {}

  has(q: Quantity): boolean {
    return this.st.quantities?.[q] !== undefined;
  }

  width(q: Quantity): number {
    return this.st.quantities![q]!.width;
  }

  /** Element (r, c) of quantity q for the tile rows `rt`. */
  elem(q: Quantity, rt: RowTokens): Elem {
    const qp = this.st.quantities?.[q];
    if (!qp) throw new Unsupported(`quantity ${q} is not planned`);
    const w = qp.width;
    if (qp.how === 'prepared') {
      const base = (r: SExpr) => b.mul(b.add(b.mul(rt.tok(r), P.H), rt.head), b.i(Math.max(1, w)));
      return { width: w, at: (r, c) => b.ld(featBuf(q), w ? b.add(base(r), c) : base(r)) };
    }
    const l = new ExprLowering(1, tokenLeaves(this.st.ir, rt, this.uses), `_${q}`);
    const e = l.lower(qp.expr);
    if (l.stmts.length) throw new Unsupported(`quantity ${q} was planned as fused but needs tiles`);
    return e;
  }
}
