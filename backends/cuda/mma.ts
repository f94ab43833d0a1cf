/**
 * Tensor-core tile matmuls of the CUDA backend (mma.sync m16n8k8, TF32 operands): how the warps
 * of a block cover an output, and how the operand tiles' rows are padded against bank conflicts.
 * backends/cuda/emit.ts prints the fragment loads and the mma instructions.
 */
import type { Stmt } from '../../compiler/kernel-ir/types.ts';

/**
 * How the warps of a block cover an m × n matmul output of 16 × 8 tensor-core tiles: a wm × wn grid
 * of warps, each computing ma × nb tiles (at most 16: 64 accumulators per thread). Uses as many
 * warps as the tiles allow, then the fewest fragment loads per mma; none when 16 × 8 does not
 * divide the output or the warps cannot split the tiles evenly.
 */
export interface WarpGrid {
  wm: number;
  wn: number;
  ma: number;
  nb: number;
}
export function warpGrid(m: number, n: number, warps: number): WarpGrid | undefined {
  if (m % 16 || n % 8) return undefined;
  const mt = m / 16;
  const nt = n / 8;
  let best: (WarpGrid & { cost: number }) | undefined;
  for (let wm = 1; wm <= warps; wm++) {
    for (let wn = 1; wm * wn <= warps; wn++) {
      if (mt % wm || nt % wn) continue;
      const ma = mt / wm;
      const nb = nt / wn;
      if (ma * nb > 16) continue;
      const cost = ma * nb * 100 + (4 * ma + 2 * nb) / (ma * nb);
      if (!best || cost < best.cost) best = { wm, wn, ma, nb, cost };
    }
  }
  return best && { wm: best.wm, wn: best.wn, ma: best.ma, nb: best.nb };
}

/**
 * Row padding (words, for rows of 32·n words) of the operands of tensor-core matmuls. A thread
 * reads fragment element (g + 8i, t + 4j) of A and (t + 4j, g + 8i) of B (g = lane / 4, t = lane % 4).
 * Where the tile's rows run along g (A, or a transposed B) a stride of 4 mod 32 words puts the 32
 * lanes on 32 banks; where they run along t (B, or a transposed A: the state S, X, Kᵀ) it takes 8
 * mod 32 (with 4, lanes t and g + 4 met on one bank: two-way conflicts). A tile read both ways
 * keeps 4.
 */
export function fragmentPads(
  matmuls: Extract<Stmt, { op: 'matmul' }>[],
  aInRegisters: (m: Extract<Stmt, { op: 'matmul' }>) => boolean = () => false,
  halfOperands: (m: Extract<Stmt, { op: 'matmul' }>) => boolean = () => false,
): Map<string, number> {
  const pads = new Map<string, number>();
  const want = (tile: string, rowsAlongT: boolean) => {
    const p = rowsAlongT ? 8 : 4;
    pads.set(tile, pads.has(tile) && pads.get(tile) !== p ? 4 : p);
  };
  for (const m of matmuls) {
    const regs = aInRegisters(m);
    if (halfOperands(m)) {
      // 16-bit operands (m16n8k16) read pairs along k: where k runs along a tile's rows (A, or a
      // transposed B) as one 8-byte load per lane — a half-warp's 16 lanes (g < 4, t) at
      // g·stride + 2t take 32 banks at a stride of 8 mod 32, two-way conflicts at 4; where k runs
      // down the rows (B, or a transposed A) as two loads 2t·stride apart — 4 keeps them apart.
      if (!regs) want(m.a.tile, !m.transA);
      want(m.b.tile, m.transB);
      continue;
    }
    if (!regs) want(m.a.tile, m.transA);
    // With A in registers the reduction index is permuted (B's rows 2t and 2t + 1 of each 8): rows
    // 2t·stride apart meet on one bank at 8 mod 32 (t and t + 2), not at 4.
    want(m.b.tile, !m.transB && !regs);
  }
  return pads;
}
