/**
 * Rewrites of the kernel IR's scalar expressions that both printers use: whether a subexpression
 * is always evaluated with its expression, and an expression with a subexpression replaced by a
 * printed variable (a fold's combined value, a vector load's element).
 */
import { operands } from '../../compiler/kernel-ir/analysis.ts';
import type { SExpr } from '../../compiler/kernel-ir/types.ts';

/**
 * Whether `target` is evaluated whenever `e` is: not under a select's branches, in a fold, or in
 * the second operand of && / || (which C++ may skip).
 */
export function unconditional(e: SExpr, target: SExpr): boolean {
  if (e === target) return true;
  const always = e.k === 'sel' ? [e.c] : e.k === 'fold' ? [] : e.k === 'bin' && (e.fn === 'and' || e.fn === 'or') ? [e.a] : operands(e);
  return always.some((x) => unconditional(x, target));
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
