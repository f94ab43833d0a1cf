/**
 * Loop-invariant parts of an element expression. A map over a tile's elements prints its expression
 * once per element; the parts that do not depend on the element (`exp(b[L − 1])` in a decay, the
 * gate of a row when a vector of one row's elements is written) are printed once before the loop
 * (or the vector) instead. The C compilers cannot do it themselves: every shared tile is a slice
 * of one array, so each store in the loop may change what a tile read returns.
 */
import { operands } from '../../compiler/kernel-ir/analysis.ts';
import type { SExpr } from '../../compiler/kernel-ir/types.ts';

/** Math functions whose result is worth keeping (not the casts and sign changes). */
const CHEAP = new Set(['neg', 'not', 'int', 'float', 'abs']);

/** Structural key of an expression: equal keys, equal values (at the same point of a kernel). */
export function sexprKey(e: SExpr): string {
  return JSON.stringify(e);
}

/**
 * The largest subexpressions of `e` that are the same for every element of the loop and worth
 * computing once: they use none of the `variant` names (the element's row and column), read no
 * global buffer (a hoisted read would run where a guard skipped it), no tile in `excluded` (the
 * tile the loop writes; register tiles), hold no fold, and contain a tile read or a math function.
 * In a select's branches only subexpressions that read no tile are taken (pure arithmetic on
 * uniform values — an ALiBi slope — may run where the condition would have skipped it; a
 * hoisted tile read could fall outside the tile); the select as a whole may be taken too.
 */
export function invariantSubtrees(e: SExpr, variant: ReadonlySet<string>, excluded: ReadonlySet<string>): SExpr[] {
  const out: SExpr[] = [];
  const invariant = (x: SExpr): boolean => {
    if (x.k === 'var') return !variant.has(x.name);
    if (x.k === 'ld' || x.k === 'fold') return false;
    if (x.k === 'tile' && excluded.has(x.tile)) return false;
    return operands(x).every(invariant);
  };
  const worth = (x: SExpr): boolean => (x.k === 'tile' || (x.k === 'un' && !CHEAP.has(x.fn)) ? true : operands(x).some(worth));
  const readsTile = (x: SExpr): boolean => x.k === 'tile' || operands(x).some(readsTile);
  const visit = (x: SExpr, branch: boolean): void => {
    if (x.k !== 'var' && x.k !== 'const' && invariant(x) && worth(x) && !(branch && readsTile(x))) {
      out.push(x);
      return;
    }
    if (x.k === 'sel') {
      visit(x.c, branch);
      visit(x.a, true);
      visit(x.b, true);
    } else if (x.k !== 'fold') for (const o of operands(x)) visit(o, branch);
  };
  visit(e, false);
  return out;
}
