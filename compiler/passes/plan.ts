/** The state threaded through the lowering passes, from the attention IR to kernel IR. */
import type { Diagnostic } from '../diagnostics/diagnostic.ts';
import type { AttentionIR } from '../ir/attention-ir.ts';
import type { TExpr } from '../ir/expr.ts';
import type { Dtype, Program } from '../kernel-ir/types.ts';
import type { TargetProfile } from '../targets/profiles.ts';

export type KernelForm = 'chunk' | 'recurrent' | 'parallel';

/** Per-token quantities a kernel reads; each is computed in its load (fused) or by the prepare kernel. */
export type Quantity = 'q' | 'k' | 'v' | 'g' | 'beta' | 'scale' | 'logScale' | 'a' | 'b' | 'bonus' | RowScale;

/** The per-token factor of a row-scaled feature map (`qnorm`: 1/‖q‖ of l2norm(q)), a prepared scalar. */
export type RowScale = 'qnorm' | 'knorm' | 'vnorm';
export const rowScaleOf = (q: 'q' | 'k' | 'v'): RowScale => `${q}norm`;

export interface QuantityPlan {
  expr: TExpr;
  width: number;
  /** 'fused': evaluated where it is loaded; 'prepared': written by the prepare kernel to f_<name>. */
  how: 'fused' | 'prepared';
  why: string;
  /**
   * A fused feature map with one row norm in it (`l2norm(q) * K^-0.5`): `node` (the l2norm or
   * rmsnorm) is evaluated as `arg` times the prepared per-token scalar `scale` (1/‖q‖), so the
   * prepare kernel writes one value per token instead of the whole row, and the main kernel reads
   * the raw input once.
   */
  rowScale?: { node: TExpr; arg: TExpr; scale: RowScale };
}

export interface Tiling {
  /** Tokens per chunk (recurrent family) or query rows per tile (softmax). */
  C: number;
  /** Key-feature slice (recurrent family) or key rows per tile (softmax). */
  BK: number;
  /** Value columns per workgroup. */
  BV: number;
  threads: number;
  /**
   * Chunk form in two kernels: intra-chunk scores and WY factors for all chunks in parallel
   * (build-intra.ts), then the sequential state kernel; otherwise one fused kernel.
   */
  split?: boolean;
  /**
   * Split form in three kernels: the state kernel only stores the state before each chunk (`w_h`)
   * and updates it, and an output kernel computes every chunk's outputs in parallel
   * (build-output.ts); otherwise the state kernel computes the outputs too.
   */
  outputKernel?: boolean;
  /**
   * Three kernels with an additive update: key rows of the state per workgroup of the state kernel,
   * the key tiles being a grid dimension (the state's rows evolve independently), for more
   * workgroups where B × H is small. Unset: the whole key dimension per workgroup.
   */
  stateKeyTile?: number;
  /** Threads per workgroup of the state kernel with key tiles or the state in registers (default `threads`). */
  stateThreads?: number;
  /**
   * Three kernels with a delta update (one key slice, no normalizer): the
   * state kernel holds S in registers (on CUDA the tensor-core accumulators of its update) and
   * copies it once per chunk into a shared tile that the corrected values' product reads, with the
   * corrected values in registers too (build-chunk.ts, stateOnlyChunk). Unset: S in shared memory.
   */
  stateRegisters?: boolean;
  /**
   * Three kernels with an additive update: the sequence in segments of this many tokens (a
   * multiple of C), their states computed in parallel — each segment's own from a zero state
   * (`_segment` kernel), the states at the segments' starts by a short recurrence over segments
   * (`_combine`), then each segment again from its true start, storing the states before its
   * chunks (`_chunk`) — for more workgroups where B × H is small. Unset: one pass over the sequence.
   */
  segment?: number;
  /**
   * Segments whose length the run's shape sets (instead of `segment`): as many per sequence as
   * bring the state kernel's workgroups (N × H × its workgroups per head × segments) to this
   * number, one where N × H alone does (`segmentLength()` in buffers.ts).
   */
  segmentWorkgroups?: number;
  /** Token rows per workgroup of the prepare kernel. */
  prepareRows: number;
  sharedBytes: number;
  why: string;
}

/** Tile sizes a caller asks for (`--tiles BV=32,BK=64`); unset ones are the tiling pass's choice. */
export interface TileRequest {
  BV?: number;
  BK?: number;
}

export interface PlanOptions {
  /** Which form to build (default: chosen by the cost model). */
  form?: KernelForm;
  /** Override the chunk size (recurrent family) or query tile (softmax). */
  chunk?: number;
  /**
   * Requested tiles instead of the tiling pass's choice (measured on a GPU, say): BV the value tile
   * and BK the key slice of the recurrent family; BK the key tile of softmax (which takes no BV;
   * its query tile is `chunk`). Powers of two from 8 up to the next power of two of the dimension
   * they tile (K', V'; 256 for softmax key tiles); BV = V' when the epilogue needs whole rows.
   */
  tiles?: TileRequest;
  /** Storage type of inputs and outputs; state and arithmetic stay f32. */
  dtype?: Dtype;
  /** Chunk form: split into intra-chunk and state kernels (default where the update allows it) or one fused kernel. */
  split?: boolean;
  /** Split form: outputs from a chunk-parallel output kernel (default: the profile's `chunkPlan`). */
  outputKernel?: boolean;
  /**
   * Three kernels with an additive update: key rows of the state per workgroup of the state
   * kernel (Tiling.stateKeyTile), for measurements; 0 keeps the whole key dimension per
   * workgroup. Default: the profile's `chunkPlan.stateKeyTile`.
   */
  stateKeyTile?: number;
  /**
   * Three kernels with an additive update: chunks per segment of the sequence whose states are
   * computed in parallel (Tiling.segment), for measurements; default: one pass.
   */
  segmentChunks?: number;
  /**
   * Three kernels with an additive update: segments of a length chosen from the run's shape, so
   * that the state kernel has at least this many workgroups (Tiling.segmentWorkgroups); for
   * measurements, default: one pass. `segmentChunks` wins where both are given.
   */
  segmentWorkgroups?: number;
  /**
   * Three kernels with a delta update: the state kernel's state in registers (Tiling.stateRegisters);
   * ignored, with a note, where the plan does not allow it. Default: the profile's
   * deltaRegisterState (cuda-sm90's bf16/f16 delta rules; pipeline.ts, splitOptions), else off.
   */
  stateRegisters?: boolean;
  /** Threads per workgroup of the state kernel with the state in registers or key tiles (Tiling.stateThreads), for measurements. */
  stateThreads?: number;
  /**
   * Vector gates' intra-chunk scores in blocks of 16 rows, the pairs across blocks by tensor-core
   * matmuls (build-intra.ts); default true. False scores every pair per element, for measurements.
   */
  scoreBlocks?: boolean;
  /**
   * The flash kernel: the next key tile's K loads right after this tile's scores (its only reader),
   * so that the load has the softmax and P·V to land, as FlashAttention-2 orders it, instead of
   * after the softmax (V then has only the scores' product to land). Default: the profile's
   * parallelEarlyKeyLoads (on for cuda-sm90), else off.
   */
  earlyKeyLoads?: boolean;
  /**
   * The split form's row factors (1/‖q‖ of an l2norm feature map, …) computed by the intra-chunk
   * kernel from its chunk's rows and stored for the later kernels, with no prepare kernel for them;
   * default true. False computes them in the prepare kernel (the plan before 2026-12-08), for
   * measurements.
   */
  intraNorms?: boolean;
  /**
   * The flash kernel's two matmuls as warpgroup MMA (Kernel.warpgroupMma: sm_90a's wgmma, its
   * operands read from shared memory by descriptor instead of mma.sync's per-warp fragment loads).
   * Default: the profile's warpgroupMma.
   */
  warpgroupMma?: boolean;
  /**
   * 16-bit tensor-core operands (m16n8k16) in every kernel of a bf16 or f16 program, the chunk
   * form's intra and state kernels included: the states and weights those matmuls read are then
   * rounded to 16 bits, as FLA's Triton kernels round them. Default: on where the profile's
   * deltaRegisterState applies (splitOptions), else the flash and output kernels only.
   */
  halfOperands?: boolean;
  /**
   * The delta rules' split form: U and the corrected values (w_u) stored like the inputs — 16 bits
   * in a bf16/f16 program, as FLA stores u and v_new — instead of f32: half the bytes the three
   * kernels move through it, for measurements (not yet run on a GPU). Default off.
   */
  halfValues?: boolean;
  /**
   * Raw 32-bit words per thread that a CUDA chunk loop may hold to load the next chunk's tiles
   * while this one computes (Kernel.prefetchWords; default: the profile's `pipelinedWords` —
   * 48 on cuda-sm90, where it pipelines the delta rules' state kernels — else the CUDA printer's
   * bound), for measurements.
   */
  prefetchWords?: number;
  /**
   * Chunks a CUDA chunk loop's pipelined loads run ahead (Kernel.prefetchDepth): 2 or more copy
   * them by cp.async into a shared ring of that many slots, instead of holding one chunk's in
   * registers (default: the profile's `pipelinedDepth`, else 1), for measurements: asked for, the
   * ring keeps its slots even where they cost blocks per SM (the delta rules' state kernels).
   */
  prefetchDepth?: number;
  /**
   * f32 tiles copied unchanged from f32 buffers — the recurrent kernel's initial state — by
   * asynchronous copies where the target has them (Kernel.asyncState; CUDA cp.async, the tile's rows
   * unpadded); default: the profile's `recurrentAsyncState` for the recurrent form, else off.
   */
  asyncState?: boolean;
  /**
   * Registers per thread down to which the CUDA launch bounds may ask ptxas to go for more blocks
   * per SM (Kernel.registerFloor), for measurements. Default 128, where the chunk kernels stopped
   * spilling; for the recurrent form the profile's recurrentRegisterFloor (cuda-sm90: 88, where
   * Gated DeltaNet's decode kernel takes 77 registers, six blocks of 128 threads per SM), and for
   * the split form's intra-chunk kernel its intraRegisterFloor (cuda-sm90: 64).
   */
  registerFloor?: number;
  /**
   * Threads per workgroup of the kernels (default 256, capped by the profile), for measurements:
   * e.g. larger workgroups where a driver keeps one workgroup per compute unit.
   */
  threads?: number;
  /** Typical run shape, for the cost model (defaults: the standard benchmark shape). */
  shape?: { B: number; T: number; H: number };
}

export interface PlanState {
  ir: AttentionIR;
  target: TargetProfile;
  options: PlanOptions;
  form?: KernelForm;
  quantities?: Partial<Record<Quantity, QuantityPlan>>;
  tiling?: Tiling;
  program?: Program;
  diagnostics: Diagnostic[];
  notes: string[];
}
