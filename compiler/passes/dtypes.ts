/**
 * Storage types and matmul precision of a plan: which type inputs and outputs are stored in on its
 * target, and whether its tile matmuls run on tensor cores (which decides, before the kernels are
 * built, whether the flash kernel may keep its scores in row-owned registers).
 */
import type { BufferDecl, Dtype } from '../kernel-ir/types.ts';
import type { PlanState } from './plan.ts';

/** The storage type of inputs and outputs on this target: the requested one, or f32 where it has none. */
export function storageDtype(st: PlanState): Dtype {
  const want = st.options.dtype ?? 'f32';
  const prof = st.target;
  if (prof.backend === 'wgsl' && (want === 'bf16' || (want === 'f16' && !prof.features.f16))) return 'f32';
  return want;
}

/** The storage type of one buffer when inputs and outputs are stored as `use`. */
export function storedDtype(x: BufferDecl, use: Dtype): Dtype {
  return (x.role === 'input' || x.role === 'output' || x.ioDtype) && x.dtype !== 'i32' ? use : x.dtype;
}

/**
 * Whether the plan's tile matmuls run on tensor cores (TF32 operands, f32 accumulation): inputs
 * already rounded to 8 (bf16) or 11 (f16) significant bits lose little more when the operands are
 * rounded to TF32's 11; f32 programs keep f32 matmuls.
 */
export function tensorCoreMatmuls(st: PlanState): boolean {
  return st.target.features.tf32 && storageDtype(st) !== 'f32';
}

/**
 * Whether `threads` threads can hold tiles of `rows` rows and each of `cols` columns as row-owned
 * register tiles on this plan's target (its profile's `rowTiles`, under tensor cores): the warps
 * split the rows evenly in multiples of the layout's row quantum, every tile's columns are a
 * multiple of its column quantum (or one column), and no tile takes a thread more than its words.
 */
export function rowTilesFit(st: PlanState, threads: number, rows: number, cols: number[]): boolean {
  const rt = st.target.rowTiles;
  const lanes = st.target.features.subgroupSize[0];
  if (!rt || !tensorCoreMatmuls(st) || threads % lanes) return false;
  const warps = threads / lanes;
  if (rows % (rt.rows * warps)) return false;
  return cols.every((c) => c === 1 || (c % rt.cols === 0 && (rows * c) / threads <= rt.words));
}

/**
 * Whether a register tile [rows, cols] that a tensor-core matmul writes can be laid out as the
 * accumulator fragments of a block of `threads` (the profile's rowTiles shape, rows × cols a
 * fragment tile): a grid of warps that splits the fragment tiles evenly, at most `words` a thread.
 * Otherwise the backend lays the tile out element by element, and its products leave the tensor cores.
 */
export function fragmentTileFits(st: PlanState, threads: number, rows: number, cols: number, words: number): boolean {
  const rt = st.target.rowTiles;
  const lanes = st.target.features.subgroupSize[0];
  if (!rt || !tensorCoreMatmuls(st) || threads % lanes || rows % rt.rows || cols % rt.cols || (rows * cols) / threads > words) return false;
  const warps = threads / lanes;
  const [mt, nt] = [rows / rt.rows, cols / rt.cols];
  for (let wm = 1; wm <= warps; wm++) if (warps % wm === 0 && mt % wm === 0 && nt % (warps / wm) === 0) return true;
  return false;
}
