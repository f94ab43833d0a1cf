/**
 * Target profiles are data: limits, features and dialect. Passes read these fields; no pass or
 * template tests a profile's name or a vendor.
 */
import type { PlanOptions } from '../passes/plan.ts';

export interface TargetProfile {
  name: string;
  /** Which backend prints kernels for this profile. */
  backend: 'wgsl' | 'cuda';
  description: string;
  limits: {
    /** Workgroup (shared) memory per workgroup, bytes. */
    sharedBytes: number;
    /** Invocations (threads) per workgroup. */
    threadsPerGroup: number;
    /** Storage buffers per shader stage (WebGPU); CUDA has no such limit. */
    storageBuffers: number;
    /** Workgroups per grid dimension. */
    groupsPerDim: number;
    /** Largest storage buffer binding, bytes. */
    bufferBindingBytes: number;
    /**
     * Workgroup memory up to which a workgroup leaves room for others on a compute unit, where a
     * driver keeps few workgroups per unit beyond it (NVIDIA's Vulkan driver:
     * `bench/webgpu --occupancy`, docs/benchmarks.md). Kernels whose tile size is free (the prepare
     * kernel's rows) stay within it.
     */
    residentSharedBytes?: number;
    /** Registers per thread (CUDA), for spill-aware tile choices. */
    registersPerThread: number;
    /**
     * Per compute unit (SM), CUDA: shared memory (bytes, with the 1 KiB the driver reserves per
     * block counted by the reader) and 32-bit registers. The CUDA backend asks ptxas to fit as many
     * blocks per SM as shared memory allows (`__launch_bounds__` minimum blocks), so a kernel's
     * register count does not halve its occupancy. Left out on cuda-sm80: there ptxas spills GLA's
     * state kernel and KDA's intra kernel at 128 registers (tests/cuda/compile.test.ts), and no A100
     * measurement says the extra block pays for it.
     */
    unit?: { sharedBytes: number; registers: number };
  };
  features: {
    /** f16 arithmetic and storage in shaders (WebGPU 'shader-f16'; always on CUDA). */
    f16: boolean;
    /** bf16 storage (CUDA). */
    bf16: boolean;
    /** Subgroup (warp) operations. */
    subgroups: boolean;
    subgroupSize: [number, number];
    /**
     * Subgroups are runs of consecutive invocations (local_invocation_index), in order — true of
     * every GPU measured but promised by neither WGSL nor Vulkan, so only a device check sets it
     * (`deviceProfile()` after `nodeGpu()`'s probe). The WGSL printer exchanges values between
     * lanes (row folds) only where it is set: a fixed profile's shaders never need 'subgroups'.
     */
    subgroupLanesLinear?: boolean;
    /** Tensor-core MMA shapes m×n×k for f16/bf16 operands. */
    mma: [number, number, number][];
    /** Tensor-core MMA with TF32 operands and f32 accumulation (mma.sync m16n8k8). */
    tf32: boolean;
    /** Asynchronous global→shared copies (cp.async). */
    asyncCopy: boolean;
  };
  /** WGSL dialect: Dawn (Chrome, the `webgpu` npm package) needs `enable subgroups;`, naga (wgpu) rejects it. */
  dialect: 'dawn' | 'naga' | 'cuda';
  /**
   * Compute units (SMs) of a typical device of this profile. Descriptive only: no pass reads it yet
   * (form selection goes by the update class and the limits; see docs/architecture.md).
   */
  computeUnits: number;
  /** CUDA architecture (80 = sm_80). */
  sm?: number;
  /**
   * Keep constant loop bounds opaque to the driver's shader compiler. Software adapters (WebGPU's
   * `isFallbackAdapter`: Mesa lavapipe, SwiftShader) unroll constant-trip loops before LLVM, which
   * costs 10–30 s per kernel; with an opaque bound (a zero from the params block added to it) the
   * same kernel compiles in under a second. GPUs keep the unrollable constant bounds.
   */
  opaqueLoopBounds?: boolean;
  /**
   * The chunk form's measured preferences on this target (docs/benchmarks.md), for specs whose
   * update allows both kernel shapes: `kernels` — the split form (intra-chunk kernel, then the
   * state kernel) or one fused kernel; `chunk` — the chunk size preferred when the spec asks for a
   * larger one; `valueTile` — the widest value tile the split form prefers (narrower tiles: less
   * shared memory per block, more blocks per SM); `threads` — the workgroup size of the chunk
   * form's kernels where the profile allows it (else 256); `outputKernel` — the split form's
   * outputs from a chunk-parallel output kernel (build-output.ts) where `splitOutputs` does not
   * keep them in the state kernel; `stateKeyTile` and `stateThreads` — with the output kernel
   * and an additive update, the state kernel's key rows per workgroup (the key tiles a grid
   * dimension) and its workgroup size. An explicit --chunk, --tiles, split, outputKernel,
   * stateKeyTile or threads option wins.
   */
  chunkPlan?: { kernels: 'split' | 'fused'; chunk: number; valueTile?: number; threads?: number; outputKernel?: boolean; stateKeyTile?: number; stateThreads?: number };
  /**
   * The workgroup size of the parallel (flash softmax) form's kernel where the profile allows it
   * (else 256); an explicit threads option wins.
   */
  parallelThreads?: number;
  /**
   * The workgroup size of the recurrent form's kernel (the decode step; else 256); an explicit
   * threads option wins.
   */
  recurrentThreads?: number;
  /**
   * The recurrent form's f32 initial state goes into shared memory by asynchronous copies
   * (Kernel.asyncState); an explicit asyncState option wins.
   */
  recurrentAsyncState?: boolean;
  /**
   * The recurrent form's register floor (Kernel.registerFloor: how low the CUDA launch bounds may
   * push ptxas for more blocks per SM; else occupancy.ts's 128). An explicit registerFloor option
   * wins.
   */
  recurrentRegisterFloor?: number;
  /**
   * The split chunk form's intra-chunk kernel's register floor where the gate is not a vector gate
   * (as recurrentRegisterFloor; an explicit registerFloor option wins).
   */
  intraRegisterFloor?: number;
  /**
   * A delta update's split chunk form in a 16-bit program, where one key slice covers K' (at most
   * 128) and there is no normalizer: three kernels, 16-bit tensor-core operands in all of them and
   * the state kernel's state in registers (PlanOptions outputKernel, halfOperands and
   * stateRegisters, each where the caller left it unset; pipeline.ts, splitOptions).
   */
  deltaRegisterState?: boolean;
  /**
   * Raw 32-bit registers a thread may hold for a chunk loop's loads issued one chunk ahead (the
   * CUDA printer's pipelinedLoop; unset: the printer's own bound, 25). An explicit prefetchWords
   * option wins.
   */
  pipelinedWords?: number;
  /**
   * Chunks a pipelined chunk loop keeps in flight by asynchronous copies into a shared ring
   * (Kernel.prefetchDepth; unset: one chunk ahead in registers). An explicit prefetchDepth wins.
   */
  pipelinedDepth?: number;
  /**
   * Row-owned register tiles (kernel IR space 'rows'), where the backend lays them out as
   * tensor-core accumulator fragments with the warps splitting the rows: each warp's rows in
   * multiples of `rows`, columns in multiples of `cols` (or a single column), at most `words`
   * words per thread per tile; `threads`, the flash kernel's workgroup where its tiles fit so.
   * Used only where the matmuls run on tensor cores.
   */
  rowTiles?: { rows: number; cols: number; words: number; threads?: number };
  /**
   * The flash kernel's key tile where its matmuls run on tensor cores and the spec asks for a
   * larger one (measured); an explicit --tiles BK wins.
   */
  parallelKeyTile?: number;
  /**
   * parallelKeyTile where the flash kernel's scores are plain under a causal mask
   * (build-softmax.ts's plainCausalScores): the lightest per-element work, which leaves the
   * registers for a larger tile (measured).
   */
  parallelPlainKeyTile?: number;
  /**
   * The flash kernel issues the next key tile's K right after this tile's scores (FlashAttention-2's
   * order; PlanOptions.earlyKeyLoads, which wins where given).
   */
  parallelEarlyKeyLoads?: boolean;
  /**
   * Matmuls into row-owned tiles (the flash kernel's) with 16-bit operands run as warpgroup MMA
   * (Kernel.warpgroupMma; PlanOptions.warpgroupMma wins where given). The program then needs the
   * architecture-specific target (CUDA: sm_90a).
   */
  warpgroupMma?: boolean;
  /**
   * Plans compiled beside the default one into the same program and taken at run time by the run's
   * shape, where a measured default serves some shapes badly (ShapePlan). In order: the first whose
   * bound the run's chains fit is taken.
   */
  shapePlans?: ShapePlan[];
}

/**
 * A plan for runs of few chains (sequences × heads: N·H, the state recurrences that run side by
 * side), compiled beside the default plan of the specs it `replaces` and taken where N·H ≤
 * `maxChains` (the CUDA launchers pick it; backends/cuda/program.ts).
 */
export interface ShapePlan {
  /** A short name; the kernels of its program are `attnc_<tag>__<kernel>`. */
  tag: string;
  maxChains: number;
  /**
   * The default plans it stands beside: `additive-state-outputs`, the split form whose state kernel
   * reads the whole key dimension and computes the outputs itself (an additive update with a
   * scalar gate or none: RetNet, simple GLA, Lightning, Mamba-2, cosine attention);
   * `delta-register-state`, the three kernels of a delta update with a scalar gate or none whose
   * state kernel holds the state in registers (DeltaNet, Gated DeltaNet; deltaRegisterState).
   */
  replaces: 'additive-state-outputs' | 'delta-register-state';
  /** The plan options it compiles with (any the caller set explicitly drop the shape plan). */
  options: Pick<PlanOptions, 'chunk' | 'outputKernel' | 'stateKeyTile' | 'prefetchDepth' | 'halfOperands' | 'stateRegisters' | 'tiles'>;
  /** The measurement that chose it. */
  why: string;
}

const KiB = 1024;

/**
 * Measured on an H200 through Dawn/Vulkan (bench/webgpu --occupancy, 2026-12-04): workgroups
 * resident per SM by workgroup memory — 8 KiB: 6, 12: 4, 16: 3, 24: 2, 28 KiB and more: 1 (about
 * 56 KiB per SM, ~1 KiB reserved per workgroup). See residentSharedBytes.
 */
const RESIDENT_SHARED = 16 * KiB;

/**
 * Measured on an H100 through Dawn/Vulkan, B=4 T=4096 H=16 (2026-11-23): fused chunks of 16 beat
 * the split form for Gated DeltaNet (10.2 vs 12.7 ms), GLA (8.0 vs 12.1) and linear attention
 * (5.4 vs 8.6). Workgroups of 512 (an H200, 2026-12-04): NVIDIA's Vulkan driver keeps one
 * workgroup per SM once it holds about 28 KiB or more of workgroup memory (a copy kernel drops from
 * 3.9 to 1.0 TB/s at 32 KiB), so twice the threads per workgroup are twice the warps per SM: fused Gated
 * DeltaNet 9.77 → 8.42 ms, GLA 7.79 → 5.99, linear attention 5.06 → 4.06 (1024: 9.21, 6.62, 4.72).
 * Profiles that allow only 256 threads keep 256. Used by every WebGPU profile.
 */
const WEBGPU_CHUNK_PLAN: TargetProfile['chunkPlan'] = { kernels: 'fused', chunk: 16, threads: 512 };

/**
 * Measured on an H200 through Dawn/Vulkan, causal softmax B=4 T=4096 H=16 D=128, f32
 * (2026-12-04): query tiles of 32 and key tiles of 16 (35 KiB) take 72.4 ms with 256 threads,
 * 58.3 with 512, 51.3 with 1024; the 16 × 16 tiles that fit webgpu-large's 32 KiB 118.1, 85.0,
 * 79.0 — one workgroup per SM in every case (docs/benchmarks.md, run G).
 */
const WEBGPU_PARALLEL_THREADS = 1024;

/**
 * Measured on an H100 (sm_90), bf16, Gated DeltaNet (2026-11-23): chunk 32 and value tiles of 32
 * (74 KiB blocks, three per SM) 3.9 ms at B=4 T=4096 against 4.5 ms for chunk 64 and value tiles
 * of 64 (164 KiB, one per SM: ncu measured 12.5 % occupancy, stalls on global loads); 11.2 against
 * 12.3 ms at B=1 T=16384. sm_80 takes it too: it has the same one-block-per-SM limit at 160 KiB.
 * Outputs from the chunk-parallel output kernel (H100, bf16, 2026-12-06, against the state kernel
 * computing them): linear attention 1.35 → 1.09 ms at B=4 T=4096 and 3.95 → 2.44 at B=1 T=16384,
 * GLA 4.18 → 3.27, RWKV-6 4.30 → 3.30, KDA 6.13 → 5.02 at B=1 T=16384, level at B=4 T=4096;
 * `splitOutputs` keeps the one-key-slice scalar-gate state kernels, which were faster as they are.
 * State kernels of key tiles of 32 with 128 threads (H100, bf16, 2026-12-06, ms at B=16 T=1024 /
 * B=4 T=4096 / B=1 T=16384, against the whole key dimension per 256-thread workgroup): GLA
 * 1.523 / 1.535 / 2.935 → 1.452 / 1.471 / 1.796, RWKV-6 1.521 / 1.539 / 2.944 → 1.466 / 1.474 /
 * 1.808, linear attention 0.758 / 0.768 / 1.482 → 0.795 / 0.806 / 0.970 (four times the
 * workgroups: 256 instead of 64 at B=1). Key tiles of 64, or 256 threads, were slower at two of
 * the three shapes.
 */
const CUDA_CHUNK_PLAN: TargetProfile['chunkPlan'] = { kernels: 'split', chunk: 32, valueTile: 32, outputKernel: true, stateKeyTile: 32, stateThreads: 128 };

/**
 * Measured on an H200 (2026-12-06, docs/benchmarks.md, CUDA flash kernel runs), bf16 causal
 * softmax, H=16 D=128, query tiles of 128 with row-owned scores in 256 threads: key tiles of 32
 * (two blocks per SM) took 0.942 / 2.974 / 11.189 ms at B=16 T=1024, B=4 T=4096, B=1 T=16384
 * against 1.199 / 3.539 / 12.678 with 64 (the spec's; one block per SM, 254 registers).
 */
const CUDA_PARALLEL_KEY_TILE = 32;

/**
 * sm_90, plain causal scores (causal softmax): key tiles of 64 with query tiles of 128 in 128
 * threads (two blocks per SM), since the key walk's end bounds the keys in the loop without a
 * spill (ptxas, CUDA 13). Measured on an H100 (bf16, H=16 D=128, 2026-12-07, the kernel alone,
 * torch.profiler, two calls): 1.044 / 1.036 ms at B=4 T=4096 and 3.618 / 3.628 at B=1 T=16384,
 * against 1.187 / 1.194 and 4.091 / 4.081 with 32. ALiBi, forgetting attention, gated softmax (an
 * output gate) and the sliding window with sinks spill at 64 (12–228 bytes) and keep 32.
 */
const SM90_PARALLEL_PLAIN_KEY_TILE = 64;

/**
 * sm_90: the flash kernel's next K issued right after the scores (parallelEarlyKeyLoads). Measured on
 * an H100 (bf16, H=16 D=128, 2026-12-07, the kernel alone, torch.profiler, mean of 10, the
 * `*_early` plan variants beside the defaults in one call), B=4 T=4096 / B=1 T=16384, ms: ALiBi
 * 1.255 → 1.198 and 4.493 → 4.201, sliding window 512 with sinks 0.523 → 0.506 and 0.536 → 0.522,
 * causal softmax 1.042 → 1.042 and 3.589 → 3.580. ptxas: 255 / 248 / 232 registers (softmax,
 * sliding window, ALiBi), no spill. Forgetting attention and gated softmax take it unmeasured.
 */
const SM90_PARALLEL_EARLY_KEY_LOADS = true;

/**
 * sm_90 (255 registers a thread, two blocks of 256 per SM at 128): the delta rules' state kernels
 * issue their chunk loads (48 words a thread) one chunk ahead — 110 registers, no spill (ptxas,
 * CUDA 13); sm_80 spilled at this bound and keeps the printer's 25. Measured on an H200 (bf16,
 * H=16, K=V=128, 2026-12-07, the bound at 48 compiled at e3746fa against 2c0c576's default in one
 * call): DeltaNet 1.140 → 1.073 ms at B=4 T=4096 and 2.238 → 1.938 at B=1 T=16384, Gated
 * DeltaNet 1.249 → 1.161 and 2.411 → 2.164. No other stdlib program changes.
 */
const SM90_PIPELINED_WORDS = 48;

/**
 * cuda-sm90's recurrent (decode) kernel in blocks of 128 threads: a block holds its state slice
 * [128, 64] in 35 KB of shared memory at ~100 registers a thread, so 5 blocks fit an SM where 256
 * threads fit 2, and the state streams with 2.5× the loads in flight. Measured on an H100 (Gated
 * DeltaNet, B=64, one token, H=16, K=V=128, bf16 inputs, f32 state; 2026-12-07, torch.profiler):
 * the recurrent kernel 0.066 ms at 256 threads, 0.038 ms at 128 (value tiles of 32: 0.127 / 0.070;
 * of 16: 0.241 / 0.130). Not measured on sm_80, which keeps 256.
 */
const SM90_RECURRENT_THREADS = 128;

/**
 * cuda-sm90's recurrent kernel loads its initial state by cp.async (all of a block's 32 KB slice in
 * flight at once). Measured on an H100 (Gated DeltaNet, B=64, one token, H=16, K=V=128, bf16, the
 * state in and out; 2026-12-07, torch.profiler, mean of 30): 0.081 ms with loads through
 * registers, 0.074 ms by cp.async. Not measured on sm_80.
 */
const SM90_RECURRENT_ASYNC_STATE = true;

/**
 * cuda-sm90's recurrent kernel may go down to 88 registers a thread for more blocks per SM. Gated
 * DeltaNet's decode kernel then takes 77 registers without a spill (six blocks of 128 threads fit
 * an SM), where the floor of 128 left it at 102 (four blocks; ncu: 25 % occupancy, 42 % of DRAM
 * peak). Measured on an H100 with the same 77-register build (B=64, one token, H=16, K=V=128,
 * bf16, the state in and out; 2026-12-07, torch.profiler, two rounds in one call): the recurrent
 * kernel 0.074 → 0.067 ms. A floor of 80 made RWKV-6's and RWKV-7's decode kernels spill; at 88
 * every stdlib spec's compiles for sm_90 without one (tests/cuda/compile.test.ts). Not measured on
 * sm_80, which keeps 128.
 */
const SM90_RECURRENT_REGISTER_FLOOR = 88;

/**
 * cuda-sm90's intra-chunk kernel may go down to 64 registers a thread: the delta rules' (chunks of
 * 32, 256 threads) then fit four blocks per SM instead of two, without a spill (95 registers at the
 * floor of 128). Measured on an H100 (bf16, H=16, K=V=128, 2026-12-07, torch.profiler, the
 * `*_rf64` plan variants beside the defaults in one call): Gated DeltaNet's intra kernel 0.433 →
 * 0.301 ms at B=1 T=16384, DeltaNet's 0.383 → 0.272. Vector gates keep 128: at 64 RWKV-6's
 * intra kernel spilled 92 bytes, and KDA's and GLA's intra kernels did not get faster (0.737 →
 * 0.739, 0.299 → 0.303 ms). The other stdlib specs' intra kernels compile for sm_90 without a
 * spill at this floor (tests/cuda/compile.test.ts).
 */
const SM90_INTRA_REGISTER_FLOOR = 64;

/**
 * cuda-sm90's pipelined chunk loops keep 2 chunks' loads in flight by cp.async (a shared ring of 2
 * slots; the CUDA printer's ringDepth() leaves out kernels whose tiles fill the SM). Measured on an
 * H200 (2026-12-07, bf16, H=16, K=V=128, B=4 T=4096 / B=1 T=16384, torch.profiler): GLA's state
 * kernel 0.515 / 0.822 ms in registers one chunk ahead, 0.465 / 0.677 with 2 slots, 0.467 / 0.722
 * with 3; linear attention's 0.415 / 0.561, 0.384 / 0.517 with 3 slots.
 */
const SM90_PIPELINED_DEPTH = 2;

/**
 * cuda-sm90, the delta rules in bf16/f16 programs (deltaRegisterState): three kernels, 16-bit
 * operands and the state kernel's state in registers (FLA's layout of its state kernel), chunks of
 * 32 as before. Measured on an H100 (2026-12-07, bf16, H=16, K=V=128, torch.profiler, kernels
 * only, ms; the `*_k3hr` / `kda_hr` plan variants beside the defaults in one call; docs/benchmarks.md):
 * Gated DeltaNet 1.016 → 0.980 at B=4 T=4096 and 1.973 → 1.565 at B=1 T=16384 (the state kernel
 * 0.645 with the outputs → 0.408 and an output kernel of 0.197; at B=1 1.598 → 0.982 + 0.207);
 * KDA 1.570 → 1.450 and 2.349 → 2.046 (its state kernel 0.501 → 0.391 and 1.277 → 0.968).
 */
const SM90_DELTA_REGISTER_STATE = true;

/**
 * cuda-sm90 at few chains (N·H ≤ 16), measured on an H100 (2026-12-07, bf16, H=16, K=V=128,
 * B=1 T=16384, torch.profiler, kernels only, ms; docs/benchmarks.md):
 * - RetNet and simple GLA: the default two kernels (the state kernel computes the outputs, one
 *   workgroup per value tile × head × sequence: 64 workgroups at N·H = 16) against three kernels
 *   with chunks of 64, state key tiles of 32 (256 workgroups) and 16-bit operands: RetNet 1.170 →
 *   0.847 ms whole call with TF32 operands and a ring of 3 (2026-12-07, earlier), kernels 0.787 →
 *   0.654 with 16-bit operands and the profile's ring of 2 (simple GLA 0.791 → 0.656); at B=2
 *   T=8192 (N·H = 32) the TF32 plan took 0.638 against the default's 0.668 whole call, at B=4
 *   T=4096 0.545 against 0.553. So the bound is 16 chains. Lightning, Mamba-2 (V = 64) and cosine
 *   attention take it by the same class of plan, and f16/f32 programs too (f32 without the 16-bit
 *   operands), unmeasured.
 * - Gated DeltaNet: chunks of 64 and value tiles of 16 (512 state workgroups at N·H = 16) with a
 *   ring of 2 chunk loads, against the register-state default (chunks of 32, value tiles of 32):
 *   kernels 1.565 → 1.256 (the state kernel 0.982 → 0.449, the intra kernel 0.301 → 0.550); at
 *   B=4 T=4096 (N·H = 64) 1.252 against 0.980. DeltaNet takes it by the same class, measured only
 *   with value tiles of 32: 1.818 → 1.394 (its shared-state default).
 */
const SM90_SHAPE_PLANS: ShapePlan[] = [
  { tag: 'few', maxChains: 16, replaces: 'additive-state-outputs', options: { outputKernel: true, chunk: 64, stateKeyTile: 32, halfOperands: true }, why: 'RetNet on an H100, B=1 T=16384 H=16: kernels 0.787 → 0.654 ms; slower from N·H = 32 on' },
  { tag: 'few', maxChains: 16, replaces: 'delta-register-state', options: { chunk: 64, tiles: { BV: 16 }, prefetchDepth: 2 }, why: 'Gated DeltaNet on an H100, B=1 T=16384 H=16: kernels 1.565 → 1.256 ms; slower at N·H = 64' },
];

/**
 * mma.sync m16n8 accumulator fragments: 16 rows and 8 columns a tile, 4 words a thread each, at
 * most 32 tiles of a warp per tile (128 words). The flash kernel's workgroup of 128 threads gives
 * each warp 32 rows (two 16-row tiles: a B fragment feeds two mma), two blocks per SM at 250–254
 * registers: on an H100 (2026-12-06) 0.947 / 2.762 / 9.735 ms for causal softmax at B=16 T=1024,
 * B=4 T=4096, B=1 T=16384 against 0.946 / 2.937 / 10.678 with 256 threads (16 rows a warp, two
 * blocks) and 1.221 / 3.550 / 12.896 (one block).
 */
const CUDA_ROW_TILES: TargetProfile['rowTiles'] = { rows: 16, cols: 8, words: 128, threads: 128 };

export const PROFILES: Record<string, TargetProfile> = {
  'webgpu-default': {
    name: 'webgpu-default',
    backend: 'wgsl',
    description: "the limits every WebGPU adapter guarantees (W3C defaults), no optional features",
    limits: { sharedBytes: 16 * KiB, threadsPerGroup: 256, storageBuffers: 8, groupsPerDim: 65535, bufferBindingBytes: 128 * 1024 * KiB, registersPerThread: 64 },
    features: { f16: false, bf16: false, subgroups: false, subgroupSize: [4, 128], mma: [], tf32: false, asyncCopy: false },
    dialect: 'dawn',
    computeUnits: 16,
    chunkPlan: WEBGPU_CHUNK_PLAN,
    parallelThreads: WEBGPU_PARALLEL_THREADS,
  },
  'webgpu-large': {
    name: 'webgpu-large',
    backend: 'wgsl',
    description: 'limits a desktop adapter grants when asked (32 KiB workgroup memory, 1024 invocations, 1 GiB bindings), with shader-f16 and subgroups',
    limits: { sharedBytes: 32 * KiB, threadsPerGroup: 1024, storageBuffers: 10, groupsPerDim: 65535, bufferBindingBytes: 1024 * 1024 * KiB, registersPerThread: 128, residentSharedBytes: RESIDENT_SHARED },
    features: { f16: true, bf16: false, subgroups: true, subgroupSize: [4, 128], mma: [], tf32: false, asyncCopy: false },
    dialect: 'dawn',
    computeUnits: 64,
    chunkPlan: WEBGPU_CHUNK_PLAN,
    parallelThreads: WEBGPU_PARALLEL_THREADS,
  },
  'webgpu-naga': {
    name: 'webgpu-naga',
    backend: 'wgsl',
    description: 'wgpu/naga (Firefox, native wgpu): default limits; subgroup builtins without `enable subgroups;`',
    limits: { sharedBytes: 16 * KiB, threadsPerGroup: 256, storageBuffers: 8, groupsPerDim: 65535, bufferBindingBytes: 128 * 1024 * KiB, registersPerThread: 64 },
    features: { f16: true, bf16: false, subgroups: true, subgroupSize: [4, 128], mma: [], tf32: false, asyncCopy: false },
    dialect: 'naga',
    computeUnits: 16,
    chunkPlan: WEBGPU_CHUNK_PLAN,
    parallelThreads: WEBGPU_PARALLEL_THREADS,
  },
  'cuda-sm80': {
    name: 'cuda-sm80',
    backend: 'cuda',
    description: 'NVIDIA Ampere (A100): 164 KiB shared memory per block (opt-in), mma.sync m16n8k16 for f16/bf16, cp.async',
    limits: { sharedBytes: 163 * KiB, threadsPerGroup: 1024, storageBuffers: 1 << 20, groupsPerDim: 65535, bufferBindingBytes: Number.MAX_SAFE_INTEGER, registersPerThread: 255 },
    features: { f16: true, bf16: true, subgroups: true, subgroupSize: [32, 32], mma: [[16, 8, 16]], tf32: true, asyncCopy: true },
    dialect: 'cuda',
    computeUnits: 108,
    sm: 80,
    chunkPlan: CUDA_CHUNK_PLAN,
    rowTiles: CUDA_ROW_TILES,
    parallelKeyTile: CUDA_PARALLEL_KEY_TILE,
  },
  'cuda-sm90': {
    name: 'cuda-sm90',
    backend: 'cuda',
    description: 'NVIDIA Hopper (H100): 227 KiB shared memory per block (opt-in), mma.sync m16n8k16, cp.async',
    limits: { sharedBytes: 227 * KiB, threadsPerGroup: 1024, storageBuffers: 1 << 20, groupsPerDim: 65535, bufferBindingBytes: Number.MAX_SAFE_INTEGER, registersPerThread: 255, unit: { sharedBytes: 228 * KiB, registers: 65536 } },
    features: { f16: true, bf16: true, subgroups: true, subgroupSize: [32, 32], mma: [[16, 8, 16]], tf32: true, asyncCopy: true },
    dialect: 'cuda',
    computeUnits: 132,
    sm: 90,
    chunkPlan: CUDA_CHUNK_PLAN,
    rowTiles: CUDA_ROW_TILES,
    parallelKeyTile: CUDA_PARALLEL_KEY_TILE,
    parallelPlainKeyTile: SM90_PARALLEL_PLAIN_KEY_TILE,
    parallelEarlyKeyLoads: SM90_PARALLEL_EARLY_KEY_LOADS,
    pipelinedWords: SM90_PIPELINED_WORDS,
    recurrentThreads: SM90_RECURRENT_THREADS,
    recurrentAsyncState: SM90_RECURRENT_ASYNC_STATE,
    recurrentRegisterFloor: SM90_RECURRENT_REGISTER_FLOOR,
    intraRegisterFloor: SM90_INTRA_REGISTER_FLOOR,
    pipelinedDepth: SM90_PIPELINED_DEPTH,
    shapePlans: SM90_SHAPE_PLANS,
    deltaRegisterState: SM90_DELTA_REGISTER_STATE,
  },
};

export const PROFILE_NAMES = Object.keys(PROFILES);

export function profile(name: string): TargetProfile | undefined {
  return PROFILES[name];
}
