/** A WebGPU device in Node through the `webgpu` package (Dawn): for tests, the CLI and benchmarks. */
import type { TargetProfile } from '../../compiler/targets/profiles.ts';

export interface NodeGpu {
  adapter: GPUAdapter;
  device: GPUDevice;
  /** A short description of the adapter (vendor, architecture, driver). */
  description: string;
  destroy(): void;
}

let instance: GPU | undefined;

/**
 * Request the default adapter and a device with the features and limits a profile may use (those
 * the adapter has). One instance per process; call `destroy()` on the device when done.
 */
export async function nodeGpu(opts: { features?: string[]; limits?: Record<string, number> } = {}): Promise<NodeGpu> {
  const { create, globals } = await import('webgpu');
  Object.assign(globalThis, globals);
  // ATTNC_DAWN_TOGGLES: Dawn toggles to enable, comma-separated (benchmark experiments, e.g.
  // disable_robustness); never needed for correct results.
  const toggles = process.env['ATTNC_DAWN_TOGGLES'];
  instance ??= create(toggles ? [`enable-dawn-features=${toggles}`] : []);
  const adapter = await instance.requestAdapter();
  if (!adapter) throw new Error('no WebGPU adapter: install a Vulkan driver (scripts/setup-system.sh installs Mesa lavapipe)');
  const want = opts.features ?? ['shader-f16', 'subgroups'];
  const requiredFeatures = want.filter((f) => adapter.features.has(f)) as GPUFeatureName[];
  const al = adapter.limits as unknown as Record<string, number>;
  const requiredLimits: Record<string, number> = {};
  for (const name of ['maxComputeWorkgroupStorageSize', 'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupSizeX', 'maxStorageBuffersPerShaderStage', 'maxStorageBufferBindingSize', 'maxBufferSize']) {
    const want2 = opts.limits?.[name] ?? al[name];
    if (want2 !== undefined) requiredLimits[name] = Math.min(want2, al[name] ?? want2);
  }
  const device = await adapter.requestDevice({ requiredFeatures, requiredLimits });
  const info = adapter.info as GPUAdapterInfo & { description?: string };
  const description = [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' ') || 'unknown adapter';
  return { adapter, device, description, destroy: () => device.destroy() };
}

/** The profile that fits a device: its limits and features, keeping the others of `base`. */
export function deviceProfile(base: TargetProfile, device: GPUDevice): TargetProfile {
  const l = device.limits;
  return {
    ...base,
    name: `${base.name}@device`,
    limits: {
      ...base.limits,
      sharedBytes: l.maxComputeWorkgroupStorageSize,
      // The ceiling; the planner picks 256, or the profile's chunkPlan.threads, or PlanOptions.threads below it.
      threadsPerGroup: Math.min(l.maxComputeInvocationsPerWorkgroup, l.maxComputeWorkgroupSizeX),
      storageBuffers: l.maxStorageBuffersPerShaderStage,
      bufferBindingBytes: l.maxStorageBufferBindingSize,
    },
    features: { ...base.features, f16: device.features.has('shader-f16'), subgroups: device.features.has('subgroups'), subgroupSize: subgroupSizes(device, base.features.subgroupSize) },
    ...(isSoftwareAdapter(device) ? { opaqueLoopBounds: true } : {}),
  };
}

/** The adapter's smallest and largest subgroup sizes (GPUAdapterInfo), else the profile's. */
function subgroupSizes(device: GPUDevice, fallback: [number, number]): [number, number] {
  const info = (device as GPUDevice & { adapterInfo?: { subgroupMinSize?: number; subgroupMaxSize?: number } }).adapterInfo;
  const lo = info?.subgroupMinSize;
  const hi = info?.subgroupMaxSize;
  return lo && hi && lo <= hi ? [lo, hi] : fallback;
}

/** A software (CPU) adapter, by WebGPU's own flag. */
export function isSoftwareAdapter(device: GPUDevice): boolean {
  const info = (device as GPUDevice & { adapterInfo?: GPUAdapterInfo & { isFallbackAdapter?: boolean } }).adapterInfo;
  return info?.isFallbackAdapter === true;
}
