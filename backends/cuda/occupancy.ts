/**
 * Occupancy of the CUDA kernels: the minimum blocks per SM that `__launch_bounds__` asks ptxas
 * to fit (the profile's `limits.unit` describes an SM).
 */

/**
 * Registers per thread below which the launch bounds never push ptxas (at 80–96 the chunk kernels
 * spilled); a kernel's `registerFloor` (PlanOptions.registerFloor, for measurements) replaces it.
 */
export const REGISTER_FLOOR = 128;
/** Shared memory the driver reserves per block on sm_80/sm_90. */
const BLOCK_RESERVED_SHARED = 1024;

/**
 * Registers a kernel with row-owned tiles needs beyond their words: buffer pointers, indices, the
 * tensor-core fragments and the element ops' temporaries. At 128 registers (two 256-thread blocks
 * per SM) ptxas fitted the bf16 flash kernel with key tiles of 32 (86 words of tiles) for plain
 * softmax and spilled for ALiBi (2026-12-06): such kernels keep one block per SM.
 */
const ROW_TILE_RESERVE = 48;

/**
 * Minimum blocks per SM for `__launch_bounds__`: as many as the block's shared memory lets an SM
 * hold, but never so many that a thread gets fewer than REGISTER_FLOOR registers (or, with
 * `rowTileWords` of row-owned register tiles per thread, those and ROW_TILE_RESERVE). Without it ptxas
 * may take 137 registers for a 256-thread block (Gated DeltaNet's state kernel), which leaves room
 * for one block per SM where shared memory has room for two: half the occupancy, and at B=4
 * T=4096 (256 blocks on 132 SMs) two waves.
 */
export function minBlocksPerUnit(threads: number, sharedBytes: number, unit?: { sharedBytes: number; registers: number }, rowTileWords = 0, floor = REGISTER_FLOOR): number {
  if (!unit) return 1;
  const bySharedMemory = Math.floor(unit.sharedBytes / (sharedBytes + BLOCK_RESERVED_SHARED));
  const need = Math.max(floor, rowTileWords ? rowTileWords + ROW_TILE_RESERVE : 0);
  const byRegisters = Math.floor(unit.registers / (threads * need));
  return Math.max(1, Math.min(bySharedMemory, byRegisters));
}
