/** Evaluate the integer, float and boolean kernel expressions that mask and key-tile tests build. */
import type { SExpr } from '../../compiler/kernel-ir/types.ts';

export function evalS(e: SExpr, env: Record<string, number>): number {
  switch (e.k) {
    case 'const':
      return e.v;
    case 'var':
      if (!(e.name in env)) throw new Error(`unbound ${e.name}`);
      return env[e.name]!;
    case 'sel':
      return evalS(e.c, env) ? evalS(e.a, env) : evalS(e.b, env);
    case 'un': {
      const a = evalS(e.a, env);
      // int: a kernel's float → int conversion, undefined (C++) or saturating (WGSL) out of range.
      if (e.fn === 'int' && !(Math.abs(a) < 2 ** 31)) throw new Error(`int(${a}): outside the 32-bit range`);
      const f: Record<string, (x: number) => number> = { float: (x) => x, int: Math.trunc, neg: (x) => -x, floor: Math.floor, abs: Math.abs, not: (x) => +!x };
      if (!f[e.fn]) throw new Error(`unary ${e.fn}`);
      return f[e.fn]!(a);
    }
    case 'bin': {
      const a = evalS(e.a, env);
      const b = evalS(e.b, env);
      const ops: Record<string, (x: number, y: number) => number> = {
        add: (x, y) => x + y, sub: (x, y) => x - y, mul: (x, y) => x * y, div: (x, y) => x / y, idiv: (x, y) => Math.trunc(x / y), min: Math.min, max: Math.max,
        lt: (x, y) => +(x < y), le: (x, y) => +(x <= y), gt: (x, y) => +(x > y), ge: (x, y) => +(x >= y), eq: (x, y) => +(x === y),
        and: (x, y) => +(!!x && !!y), or: (x, y) => +(!!x || !!y),
      };
      if (!ops[e.fn]) throw new Error(`binary ${e.fn}`);
      return ops[e.fn]!(a, b);
    }
    default:
      throw new Error(`expression ${e.k}`);
  }
}
