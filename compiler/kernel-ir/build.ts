/** Constructors for kernel-IR expressions, with light constant folding so printed kernels stay readable. */
import type { BinFn, SExpr, UnFn } from './types.ts';

export const f = (v: number): SExpr => ({ k: 'const', v, t: 'f' });
export const i = (v: number): SExpr => ({ k: 'const', v, t: 'i' });
export const bool = (v: boolean): SExpr => ({ k: 'const', v: v ? 1 : 0, t: 'b' });
export const v = (name: string): SExpr => ({ k: 'var', name });
export const wg = (axis: 0 | 1 | 2): SExpr => ({ k: 'wg', axis });
export const R = v('r');
export const C = v('c');

function isConst(e: SExpr, x?: number): e is Extract<SExpr, { k: 'const' }> {
  return e.k === 'const' && (x === undefined || e.v === x);
}

export function un(fn: UnFn, a: SExpr): SExpr {
  if (a.k === 'const' && a.t !== 'b') {
    if (fn === 'neg') return { ...a, v: -a.v };
  }
  return { k: 'un', fn, a };
}

export function bin(fn: BinFn, a: SExpr, b: SExpr): SExpr {
  if (isConst(a) && isConst(b) && a.t === b.t && a.t !== 'b') {
    const r = foldConst(fn, a.v, b.v, a.t === 'i');
    if (r !== undefined) return { k: 'const', v: r, t: ['lt', 'le', 'gt', 'ge', 'eq', 'ne'].includes(fn) ? 'b' : a.t };
  }
  if (fn === 'add') {
    if (isConst(a, 0)) return b;
    if (isConst(b, 0)) return a;
  }
  if (fn === 'sub' && isConst(b, 0)) return a;
  if (fn === 'mul') {
    if (isConst(a, 1)) return b;
    if (isConst(b, 1)) return a;
    const intZero = (x: SExpr) => x.k === 'const' && x.v === 0 && x.t === 'i';
    if (intZero(a) || intZero(b)) return i(0);
  }
  if ((fn === 'div' || fn === 'idiv') && isConst(b, 1)) return a;
  return { k: 'bin', fn, a, b };
}

function foldConst(fn: BinFn, a: number, b: number, int: boolean): number | undefined {
  switch (fn) {
    case 'add':
      return a + b;
    case 'sub':
      return a - b;
    case 'mul':
      return a * b;
    case 'div':
      return int ? undefined : a / b;
    case 'idiv':
      return b === 0 ? undefined : Math.trunc(a / b);
    case 'mod':
      return b === 0 ? undefined : a % b;
    case 'min':
      return Math.min(a, b);
    case 'max':
      return Math.max(a, b);
    default:
      return undefined;
  }
}

export const add = (a: SExpr, b: SExpr) => bin('add', a, b);
export const sub = (a: SExpr, b: SExpr) => bin('sub', a, b);
export const mul = (a: SExpr, b: SExpr) => bin('mul', a, b);
export const div = (a: SExpr, b: SExpr) => bin('div', a, b);
export const idiv = (a: SExpr, b: SExpr) => bin('idiv', a, b);
export const mod = (a: SExpr, b: SExpr) => bin('mod', a, b);
export const min = (a: SExpr, b: SExpr) => bin('min', a, b);
export const max = (a: SExpr, b: SExpr) => bin('max', a, b);
export const lt = (a: SExpr, b: SExpr) => bin('lt', a, b);
export const le = (a: SExpr, b: SExpr) => bin('le', a, b);
export const ge = (a: SExpr, b: SExpr) => bin('ge', a, b);
export const and = (a: SExpr, b: SExpr) => bin('and', a, b);
export const exp = (a: SExpr) => un('exp', a);
export const sel = (c: SExpr, a: SExpr, b: SExpr): SExpr => ({ k: 'sel', c, a, b });
export const tile = (name: string, r: SExpr, c: SExpr): SExpr => ({ k: 'tile', tile: name, r, c });
export const ld = (buf: string, idx: SExpr): SExpr => ({ k: 'ld', buf, idx });
export const fold = (fn: 'sum' | 'max' | 'min', name: string, from: SExpr, to: SExpr, body: SExpr): SExpr => ({ k: 'fold', fn, v: name, from, to, body });
/** ceil(a / b) for non-negative integers. */
export const ceilDiv = (a: SExpr, b: SExpr) => idiv(add(a, sub(b, i(1))), b);
