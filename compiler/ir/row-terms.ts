/**
 * Softmax weights do not change when a score row gains a constant: softmax_j(s_ij + c_i) =
 * softmax_j(s_ij). So the flash kernel may change a score by any amount that depends on the query
 * row alone. Of the score's additive terms (through +, − and negation):
 *  - a term that reads no key (j, inputs or features at j, q·k) depends on the row alone: dropped;
 *  - a term affine in i with a coefficient that reads neither side (ALiBi's −m_h·(i − j)) is taken
 *    at one row of the query tile, i0: it changes by m_h·(i − i0), the same for the whole row. Its
 *    i − j is then a column term, so a row costs a multiply-add per element, and the term keeps
 *    the size of a relative position (unlike splitting off −m_h·i, which would leave m_h·j growing
 *    with the sequence and cancelling in float);
 *  - every other term is computed as written.
 * The mask still reads the true i. Sigmoid and relu weights are not shift-invariant: not for them.
 */
import { walk, mk, type TExpr } from './expr.ts';

export interface SplitScore {
  /** Terms computed as written; undefined if none. */
  pair: TExpr | undefined;
  /** Terms affine in i, to be computed with i at the query tile's first row; undefined if none. */
  atTileRow: TExpr | undefined;
}

interface Term {
  e: TExpr;
  sign: 1 | -1;
}

/** What an expression reads: the key side (j, inputs or features at j, q·k, state), the query row (i, t, inputs at i or t). */
function reads(e: TExpr): { key: boolean; row: boolean } {
  const r = { key: false, row: false };
  walk(e, (n) => {
    if (n.op === 'index' && n.name === 'j') r.key = true;
    if (n.op === 'index' && (n.name === 'i' || n.name === 't')) r.row = true;
    if (n.op === 'ref') {
      if (n.ref.kind === 'input') {
        if (n.ref.at === 'j') r.key = true;
        else r.row = true;
      } else if (n.ref.kind !== 'param') r.key = true;
    }
  });
  return r;
}

/** Reads neither the row nor the key: constants, parameters, h, H, T. */
function uniform(e: TExpr): boolean {
  const r = reads(e);
  return !r.key && !r.row;
}

/**
 * e is a·i + rest with a reading neither side and rest not reading the row: the row enters only as
 * the index i, through sums and products with uniform factors.
 */
function affineInI(e: TExpr): boolean {
  if (e.op === 'index' && e.name === 'i') return true;
  if (!reads(e).row) return true;
  if (e.op === 'binary' && (e.fn === 'add' || e.fn === 'sub')) return affineInI(e.a) && affineInI(e.b);
  if (e.op === 'unary' && e.fn === 'neg') return affineInI(e.a);
  if (e.op === 'binary' && e.fn === 'mul') return (uniform(e.a) && affineInI(e.b)) || (uniform(e.b) && affineInI(e.a));
  if (e.op === 'binary' && e.fn === 'div') return uniform(e.b) && affineInI(e.a);
  return false;
}

/** The additive terms of e, through +, − and negation. */
function terms(e: TExpr, sign: 1 | -1): Term[] {
  if (e.op === 'binary' && e.shape.length === 0 && (e.fn === 'add' || e.fn === 'sub')) return [...terms(e.a, sign), ...terms(e.b, e.fn === 'add' ? sign : (-sign as 1 | -1))];
  if (e.op === 'unary' && e.fn === 'neg' && e.shape.length === 0) return terms(e.a, -sign as 1 | -1);
  return [{ e, sign }];
}

/** The sum of signed terms; undefined for none. */
function sum(ts: Term[]): TExpr | undefined {
  let out: TExpr | undefined;
  for (const t of ts) {
    if (!out) out = t.sign > 0 ? t.e : mk.unary('neg', t.e);
    else out = mk.binary(t.sign > 0 ? 'add' : 'sub', out, t.e);
  }
  return out;
}

/**
 * The score split for softmax weights, or undefined where no term is dropped or moved (the caller
 * keeps the score as written).
 */
export function splitRowTerms(score: TExpr): SplitScore | undefined {
  const kept: Term[] = [];
  const moved: Term[] = [];
  let dropped = false;
  for (const t of terms(score, 1)) {
    const r = reads(t.e);
    if (!r.key) dropped = true;
    else if (r.row && affineInI(t.e)) moved.push(t);
    else kept.push(t);
  }
  if (!dropped && !moved.length) return undefined;
  return { pair: sum(kept), atTileRow: sum(moved) };
}
