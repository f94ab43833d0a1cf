/**
 * Which tile loads and stores of a CUDA kernel can be 16-byte global accesses: patterns over the
 * kernel IR's scalar expressions (an index `X·M + (c + Y)` along a tile row, a block-uniform
 * condition); whether a load is evaluated unconditionally and the rewrite of an element's
 * expression for the k-th element of a vector are in backends/clike/rewrite.ts.
 * backends/cuda/emit.ts prints the accesses.
 */
import { usesVar, walkSExpr } from '../../compiler/kernel-ir/analysis.ts';
import type { Dtype, SExpr } from '../../compiler/kernel-ir/types.ts';

/** Elements per 16-byte access of a buffer of this dtype; 0 where none is printed. */
export function vectorWidth(d: Dtype): number {
  return d === 'f32' ? 4 : d === 'bf16' || d === 'f16' ? 8 : 0;
}

/**
 * Whether a rows × cols guard keeps or drops whole groups of `width` columns: the bounds do not
 * depend on the element's column (nor the column bound on its row), and a constant column bound
 * is a multiple of the width (a computed one is checked when the kernel runs).
 */
export function guardKeepsVectors(g: { rows: SExpr; cols: SExpr } | undefined, width: number): boolean {
  if (!g) return true;
  if (usesVar(g.rows, 'c') || usesVar(g.cols, 'c') || usesVar(g.cols, 'r')) return false;
  return g.cols.k !== 'const' || g.cols.v % width === 0;
}

/** `idx` as X·M + (c + Y), M a multiple of `width`, X free of c, Y free of r and c; or undefined. */
export function columnIndex(idx: SExpr, width: number): { y?: SExpr } | undefined {
  if (idx.k !== 'bin' || idx.fn !== 'add') return undefined;
  const [xm, cy] = isColumn(idx.b) ? [idx.a, idx.b] : isColumn(idx.a) ? [idx.b, idx.a] : [];
  if (!xm || !cy || xm.k !== 'bin' || xm.fn !== 'mul' || usesVar(xm, 'c')) return undefined;
  const m = xm.b.k === 'const' ? xm.b.v : xm.a.k === 'const' ? xm.a.v : 0;
  if (!m || m % width) return undefined;
  const y = cy.k === 'var' ? undefined : cy.k === 'bin' ? (cy.a.k === 'var' && cy.a.name === 'c' ? cy.b : cy.a) : undefined;
  if (y && (usesVar(y, 'r') || usesVar(y, 'c'))) return undefined;
  return y ? { y } : {};
}

/** An expression every thread of a block evaluates alike: params, lets and loop variables only. */
export function blockUniform(e: SExpr): boolean {
  let ok = true;
  walkSExpr(e, (x) => {
    if (x.k === 'ld' || x.k === 'tile' || x.k === 'fold' || (x.k === 'var' && ['r', 'c', 'lid'].includes(x.name))) ok = false;
  });
  return ok;
}

/** `c` or `c + Y` / `Y + c`. */

function isColumn(e: SExpr): boolean {
  if (e.k === 'var') return e.name === 'c';
  return e.k === 'bin' && e.fn === 'add' && ((e.a.k === 'var' && e.a.name === 'c') || (e.b.k === 'var' && e.b.name === 'c'));
}

