/**
 * Which tile loads and stores of a CUDA kernel can be 16-byte global accesses: patterns over the
 * kernel IR's scalar expressions (an index `X·M + (c + Y)` along a tile row, a load evaluated
 * unconditionally, a block-uniform condition) and the rewrite of an element's expression for the
 * k-th element of a vector. backends/cuda/emit.ts prints the accesses.
 */
import type { SExpr } from '../../compiler/kernel-ir/types.ts';

/** Visit every node of an expression. */
export function walkSExpr(e: SExpr, f: (e: SExpr) => void): void {
  f(e);
  switch (e.k) {
    case 'un':
      return walkSExpr(e.a, f);
    case 'bin':
      walkSExpr(e.a, f);
      return walkSExpr(e.b, f);
    case 'sel':
      walkSExpr(e.c, f);
      walkSExpr(e.a, f);
      return walkSExpr(e.b, f);
    case 'ld':
      return walkSExpr(e.idx, f);
    case 'tile':
      walkSExpr(e.r, f);
      return walkSExpr(e.c, f);
    case 'fold':
      walkSExpr(e.from, f);
      walkSExpr(e.to, f);
      return walkSExpr(e.body, f);
    default:
  }
}

export function usesVar(e: SExpr, name: string): boolean {
  let found = false;
  walkSExpr(e, (x) => {
    if (x.k === 'var' && x.name === name) found = true;
  });
  return found;
}

/** Whether `target` is evaluated whenever `e` is (not under a select's branches or in a fold). */
export function unconditional(e: SExpr, target: SExpr): boolean {
  if (e === target) return true;
  switch (e.k) {
    case 'un':
      return unconditional(e.a, target);
    case 'bin':
      return unconditional(e.a, target) || unconditional(e.b, target);
    case 'sel':
      return unconditional(e.c, target);
    case 'ld':
      return unconditional(e.idx, target);
    case 'tile':
      return unconditional(e.r, target) || unconditional(e.c, target);
    default:
      return false;
  }
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

/** `e` for column c + k: the load `ld` replaced by the variable `value`, c by c + k. */
export function substitute(e: SExpr, ld: SExpr | undefined, value: string, k: number): SExpr {
  const go = (x: SExpr): SExpr => {
    if (ld && x === ld) return { k: 'var', name: value };
    switch (x.k) {
      case 'var':
        return x.name === 'c' && k ? { k: 'bin', fn: 'add', a: x, b: { k: 'const', v: k, t: 'i' } } : x;
      case 'un':
        return { ...x, a: go(x.a) };
      case 'bin':
        return { ...x, a: go(x.a), b: go(x.b) };
      case 'sel':
        return { ...x, c: go(x.c), a: go(x.a), b: go(x.b) };
      case 'ld':
        return { ...x, idx: go(x.idx) };
      case 'tile':
        return { ...x, r: go(x.r), c: go(x.c) };
      case 'fold':
        return { ...x, from: go(x.from), to: go(x.to), body: go(x.body) };
      default:
        return x;
    }
  };
  return go(e);
}
