/**
 * Tile classification of a mask predicate: for query rows i ∈ [i0, i1] and key columns
 * j ∈ [j0, j1], interval evaluation decides whether the predicate is false everywhere (the tile is
 * skipped), true everywhere (no per-element mask), or mixed (masked per element). Data-dependent
 * parts (segment ids) make a tile mixed. The interpreter's tiled softmax form and the kernels'
 * tile skipping both use this, so the equivalence tests check that skipping is sound.
 */
import { binaryInterval, unaryInterval, type Interval } from '../check/interval.ts';
import type { IndexVar, TExpr } from './expr.ts';

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
