/**
 * Rewrites of the kernel IR's scalar expressions that both printers use: an expression with a
 * subexpression replaced by a printed variable (a fold's combined value, a vector load's element).
 */
import { mapOperands, sameLoad } from '../../compiler/kernel-ir/analysis.ts';
import type { SExpr } from '../../compiler/kernel-ir/types.ts';

export { unconditional } from '../../compiler/kernel-ir/analysis.ts';

/** `e` for column c + k: the load `ld` replaced by the variable `value`, c by c + k. */
export function substitute(e: SExpr, ld: SExpr | undefined, value: string, k: number): SExpr {
  const go = (x: SExpr): SExpr => {
    if (ld && sameLoad(x, ld)) return { k: 'var', name: value };
    if (x.k === 'var') return x.name === 'c' && k ? { k: 'bin', fn: 'add', a: x, b: { k: 'const', v: k, t: 'i' } } : x;
    return mapOperands(x, go);
  };
  return go(e);
}
