/**
 * The terms of the chunk algorithm that the fused chunk kernel (build-chunk.ts) and the split
 * form's intra-chunk kernel (build-intra.ts) both write, in one place: the cumulative log-gate of
 * a tile row, the decayed dot product of vector gates, and the intra-chunk output weights.
 */
import { isVectorGate, type AttentionIR } from '../ir/attention-ir.ts';
import * as b from '../kernel-ir/build.ts';
import type { SExpr } from '../kernel-ir/types.ts';

const { R, C: Cv } = b;

export interface ChunkTiles {
  /** Cumulative scalar log-gate [C, 1] (scalar gates). */
  Bc?: string;
  /** Cumulative vector log-gate of the key slice [C, BK] (vector gates). */
  Bs?: string;
  /** Write strength per token [C, 1] (specs with a scale). */
  Sc?: string;
}

/** Whether an index expression is ≥ 0 by construction: an element's row or column, non-negative constants, and their sums, products, quotients, minima and maxima. */
function nonNegative(e: SExpr): boolean {
  switch (e.k) {
    case 'const':
      return e.v >= 0;
    case 'var':
      return e.name === 'r' || e.name === 'c';
    case 'bin':
      return ['add', 'mul', 'idiv', 'min', 'max'].includes(e.fn) && nonNegative(e.a) && nonNegative(e.b);
    default:
      return false;
  }
}

export function chunkTerms(ir: AttentionIR, BK: number, t: ChunkTiles) {
  const vecGate = isVectorGate(ir.gate.cls);
  const hasGate = ir.gate.cls !== 'none';
  const exclusive = ir.read.kind === 'exclusive';
  /**
   * Cumulative log-gate at tile row `row` (0 before the chunk), key column `d` of the current
   * slice. The select only where the row may be −1 (an exclusive read's row before the chunk):
   * in the decayed dot products it was two selects per term.
   */
  const bAt = (row: SExpr, d: SExpr): SExpr => {
    if (!hasGate) return b.f(0);
    const val = vecGate ? b.tile(t.Bs!, row, d) : b.tile(t.Bc!, row, b.i(0));
    return nonNegative(row) ? val : b.sel(b.ge(row, b.i(0)), val, b.f(0));
  };
  /** The state row a query row reads: its own, or the one before (exclusive reads). */
  const readRow = (r: SExpr) => (exclusive ? b.sub(r, b.i(1)) : r);
  /** The write strength of a token row (1 without a scale). */
  const sOf = (row: SExpr) => (t.Sc ? b.tile(t.Sc, row, b.i(0)) : b.f(1));
  /** Σ_d x[r][d] y[rowY][d] e^{b(rowX, d) − b(rowY, d)} over the slice, rowY = c unless given (vector gates: exact in log space). */
  const decayedDot = (x: string, y: string, rowX: SExpr, rowY: SExpr = Cv) =>
    b.fold('sum', 'd', b.i(0), b.i(BK), b.mul(b.mul(b.tile(x, R, b.v('d')), b.tile(y, rowY, b.v('d'))), b.exp(b.sub(bAt(rowX, b.v('d')), bAt(rowY, b.v('d'))))));
  /**
   * Intra-chunk output weights from the score tile A (q̃·k̃, already decayed for vector gates):
   * the decay for scalar gates, the causal mask, the write strength, and the bonus
   * u·(q̃ ⊙ k̃) per token [C, 1] on the diagonal (exclusive reads: the tile `Bn`).
   */
  const outputWeights = (A: string, Bn?: string): SExpr => {
    let w: SExpr = b.tile(A, R, Cv);
    if (!vecGate) {
      if (hasGate) w = b.mul(w, b.exp(b.sub(bAt(readRow(R), b.i(0)), bAt(Cv, b.i(0)))));
      w = b.sel(b.le(Cv, readRow(R)), w, b.f(0));
    }
    w = b.mul(w, sOf(Cv));
    if (Bn) w = b.sel(b.bin('eq', Cv, R), b.mul(b.tile(Bn, R, b.i(0)), sOf(R)), w);
    return w;
  };
  return { vecGate, hasGate, exclusive, bAt, readRow, sOf, decayedDot, outputWeights };
}
