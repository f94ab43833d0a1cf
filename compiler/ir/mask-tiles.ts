/**
 * Tile classification of a mask predicate: for query rows i ∈ [i0, i1] and key columns
 * j ∈ [j0, j1], interval evaluation decides whether the predicate is false everywhere (the tile is
 * skipped), true everywhere (no per-element mask), or mixed (masked per element). Data-dependent
 * parts (segment ids) make a tile mixed. The interpreter's tiled softmax form and the kernels'
 * tile skipping both use this, so the equivalence tests check that skipping is sound.
 */
import { binaryInterval, unaryInterval, type Interval } from '../check/interval.ts';
import type { IndexVar, TExpr } from './expr.ts';
import * as kb from '../kernel-ir/build.ts';
import type { SExpr } from '../kernel-ir/types.ts';

export type TileClass = 'empty' | 'full' | 'partial';

export type IndexRanges = Partial<Record<IndexVar, Interval>>;

interface Tri {
  canTrue: boolean;
  canFalse: boolean;
}

const ANY: Interval = { lo: -Infinity, hi: Infinity };

function num(e: TExpr, r: IndexRanges): Interval {
  switch (e.op) {
    case 'const':
      return { lo: e.value, hi: e.value };
    case 'index':
      return r[e.name] ?? (e.name === 'T' || e.name === 'H' ? { lo: 1, hi: Infinity } : { lo: 0, hi: Infinity });
    case 'unary':
      return unaryInterval(e.fn, num(e.a, r));
    case 'binary': {
      const b = num(e.b, r);
      return binaryInterval(e.fn, num(e.a, r), b, b.lo === b.hi ? b.lo : undefined);
    }
    default:
      return ANY;
  }
}

function tri(e: TExpr, r: IndexRanges): Tri {
  if (e.op === 'const') return { canTrue: e.value !== 0, canFalse: e.value === 0 };
  if (e.op === 'unary' && e.fn === 'not') {
    const a = tri(e.a, r);
    return { canTrue: a.canFalse, canFalse: a.canTrue };
  }
  if (e.op === 'binary') {
    if (e.fn === 'and' || e.fn === 'or') {
      const a = tri(e.a, r);
      const b = tri(e.b, r);
      return e.fn === 'and' ? { canTrue: a.canTrue && b.canTrue, canFalse: a.canFalse || b.canFalse } : { canTrue: a.canTrue || b.canTrue, canFalse: a.canFalse && b.canFalse };
    }
    const a = num(e.a, r);
    const b = num(e.b, r);
    switch (e.fn) {
      case 'lt':
        return { canTrue: a.lo < b.hi, canFalse: a.hi >= b.lo };
      case 'le':
        return { canTrue: a.lo <= b.hi, canFalse: a.hi > b.lo };
      case 'gt':
        return { canTrue: a.hi > b.lo, canFalse: a.lo <= b.hi };
      case 'ge':
        return { canTrue: a.hi >= b.lo, canFalse: a.lo < b.hi };
      case 'eq': {
        const overlap = a.lo <= b.hi && b.lo <= a.hi;
        const point = a.lo === a.hi && b.lo === b.hi && a.lo === b.lo;
        return { canTrue: overlap, canFalse: !point };
      }
      case 'ne': {
        const overlap = a.lo <= b.hi && b.lo <= a.hi;
        const point = a.lo === a.hi && b.lo === b.hi && a.lo === b.lo;
        return { canTrue: !point, canFalse: overlap };
      }
    }
  }
  return { canTrue: true, canFalse: true };
}

export function classifyTile(mask: TExpr, ranges: IndexRanges): TileClass {
  const t = tri(mask, ranges);
  if (!t.canTrue) return 'empty';
  if (!t.canFalse) return 'full';
  return 'partial';
}

// ── the same test as kernel code ──────────────────────────────────────────────

export interface SRange {
  lo: SExpr;
  hi: SExpr;
}

/** Interval bounds of a numeric mask sub-expression, as kernel expressions; undefined when unknown. */
export function srange(e: TExpr, r: Partial<Record<IndexVar, SRange>>): SRange | undefined {
  switch (e.op) {
    case 'const':
      return { lo: kb.f(e.value), hi: kb.f(e.value) };
    case 'index':
      return r[e.name];
    case 'unary': {
      const a = srange(e.a, r);
      if (!a) return undefined;
      if (e.fn === 'neg') return { lo: kb.un('neg', a.hi), hi: kb.un('neg', a.lo) };
      if (e.fn === 'floor') return { lo: kb.un('floor', a.lo), hi: kb.un('floor', a.hi) };
      return undefined;
    }
    case 'binary': {
      const a = srange(e.a, r);
      const c = srange(e.b, r);
      if (!a || !c) return undefined;
      switch (e.fn) {
        case 'add':
          return { lo: kb.add(a.lo, c.lo), hi: kb.add(a.hi, c.hi) };
        case 'sub':
          return { lo: kb.sub(a.lo, c.hi), hi: kb.sub(a.hi, c.lo) };
        case 'mul':
        case 'div': {
          // Only by a positive constant (monotone).
          if (e.b.op !== 'const' || e.b.value <= 0) return undefined;
          return { lo: kb.bin(e.fn, a.lo, c.lo), hi: kb.bin(e.fn, a.hi, c.hi) };
        }
        case 'min':
          return { lo: kb.min(a.lo, c.lo), hi: kb.min(a.hi, c.hi) };
        case 'max':
          return { lo: kb.max(a.lo, c.lo), hi: kb.max(a.hi, c.hi) };
        default:
          return undefined;
      }
    }
    default:
      return undefined;
  }
}

/**
 * The tile test of a mask as a kernel expression over i ∈ [i0, i1], j ∈ [j0, j1]: 'some' is false
 * only when the mask is false on the whole tile (the tile may be skipped); 'all' is true only when
 * it is true on the whole tile (its elements need no per-element mask). Parts the interval logic
 * cannot bound (data-dependent masks) count as "may be true" and "may be false".
 */
function tileTest(mask: TExpr, ranges: Partial<Record<IndexVar, SRange>>, want: 'some' | 'all'): SExpr {
  const some = want === 'some';
  const go = (e: TExpr): SExpr => {
    if (e.op === 'const') return kb.bool(e.value !== 0);
    if (e.op === 'binary' && e.fn === 'and') return kb.and(go(e.a), go(e.b));
    if (e.op === 'binary' && e.fn === 'or') return kb.bin('or', go(e.a), go(e.b));
    if (e.op === 'binary' && ['lt', 'le', 'gt', 'ge'].includes(e.fn)) {
      const a = srange(e.a, ranges);
      const c = srange(e.b, ranges);
      if (!a || !c) return kb.bool(some);
      // a < c somewhere: a.lo < c.hi; everywhere: a.hi < c.lo (and likewise for the others).
      const below = e.fn === 'lt' || e.fn === 'le';
      const [x, y] = below === some ? [a.lo, c.hi] : [a.hi, c.lo];
      return kb.bin(e.fn as 'lt' | 'le' | 'gt' | 'ge', x, y);
    }
    return kb.bool(some);
  };
  return go(mask);
}

/** False only when the mask is false on the whole tile: the tile may then be skipped. */
export function tileMaySee(mask: TExpr, ranges: Partial<Record<IndexVar, SRange>>): SExpr {
  return tileTest(mask, ranges, 'some');
}

/** True only when the mask is true on the whole tile: its elements then need no per-element mask. */
export function tileSeesAll(mask: TExpr, ranges: Partial<Record<IndexVar, SRange>>): SExpr {
  return tileTest(mask, ranges, 'all');
}
