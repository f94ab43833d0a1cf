/**
 * Target profiles are data: limits, features and dialect. Passes read these fields; no pass or
 * template tests a profile's name or a vendor.
 */
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
    /** Registers per thread (CUDA), for spill-aware tile choices. */
    registersPerThread: number;
  };
  features: {
    /** f16 arithmetic and storage in shaders (WebGPU 'shader-f16'; always on CUDA). */
    f16: boolean;
    /** bf16 storage (CUDA). */
    bf16: boolean;
    /** Subgroup (warp) operations. */
    subgroups: boolean;
    subgroupSize: [number, number];
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
   * The chunk size the split chunk form prefers on this target when the spec asks for a larger
   * one (an explicit --chunk still wins). Measured: on WebGPU (Dawn over an H100's Vulkan driver)
   * Gated DeltaNet's split form at B=4 T=4096 H=16 took 10.1 ms with chunks of 16 and 14.7 ms with
   * chunks of 32 — the state kernel is latency bound, and smaller chunks shorten its per-chunk chain.
   */
  splitChunk?: number;
}

const KiB = 1024;

export const PROFILES: Record<string, TargetProfile> = {
  'webgpu-default': {
    name: 'webgpu-default',
    backend: 'wgsl',
    description: "the limits every WebGPU adapter guarantees (W3C defaults), no optional features",
    limits: { sharedBytes: 16 * KiB, threadsPerGroup: 256, storageBuffers: 8, groupsPerDim: 65535, bufferBindingBytes: 128 * 1024 * KiB, registersPerThread: 64 },
    features: { f16: false, bf16: false, subgroups: false, subgroupSize: [4, 128], mma: [], tf32: false, asyncCopy: false },
    dialect: 'dawn',
    computeUnits: 16,
    splitChunk: 16,
  },
  'webgpu-large': {
    name: 'webgpu-large',
    backend: 'wgsl',
    description: 'limits a desktop adapter grants when asked (32 KiB workgroup memory, 1 GiB bindings), with shader-f16 and subgroups',
    limits: { sharedBytes: 32 * KiB, threadsPerGroup: 256, storageBuffers: 10, groupsPerDim: 65535, bufferBindingBytes: 1024 * 1024 * KiB, registersPerThread: 128 },
    features: { f16: true, bf16: false, subgroups: true, subgroupSize: [4, 128], mma: [], tf32: false, asyncCopy: false },
    dialect: 'dawn',
    computeUnits: 64,
    splitChunk: 16,
  },
  'webgpu-naga': {
    name: 'webgpu-naga',
    backend: 'wgsl',
    description: 'wgpu/naga (Firefox, native wgpu): default limits; subgroup builtins without `enable subgroups;`',
    limits: { sharedBytes: 16 * KiB, threadsPerGroup: 256, storageBuffers: 8, groupsPerDim: 65535, bufferBindingBytes: 128 * 1024 * KiB, registersPerThread: 64 },
    features: { f16: true, bf16: false, subgroups: true, subgroupSize: [4, 128], mma: [], tf32: false, asyncCopy: false },
    dialect: 'naga',
    computeUnits: 16,
    splitChunk: 16,
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
  },
  'cuda-sm90': {
    name: 'cuda-sm90',
    backend: 'cuda',
    description: 'NVIDIA Hopper (H100): 227 KiB shared memory per block (opt-in), mma.sync m16n8k16, cp.async',
    limits: { sharedBytes: 227 * KiB, threadsPerGroup: 1024, storageBuffers: 1 << 20, groupsPerDim: 65535, bufferBindingBytes: Number.MAX_SAFE_INTEGER, registersPerThread: 255 },
    features: { f16: true, bf16: true, subgroups: true, subgroupSize: [32, 32], mma: [[16, 8, 16]], tf32: true, asyncCopy: true },
    dialect: 'cuda',
    computeUnits: 132,
    sm: 90,
  },
};

export const PROFILE_NAMES = Object.keys(PROFILES);

export function profile(name: string): TargetProfile | undefined {
  return PROFILES[name];
}
