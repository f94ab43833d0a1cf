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
  if (device.features.has('subgroups')) linearSubgroups.set(device, await probeSubgroupLayout(device));
  const info = adapter.info as GPUAdapterInfo & { description?: string };
  const description = [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' ') || 'unknown adapter';
  return { adapter, device, description, destroy: () => device.destroy() };
}

/** Devices whose subgroups were checked to be runs of consecutive invocations (probeSubgroupLayout). */
const linearSubgroups = new WeakMap<GPUDevice, boolean>();

/**
 * Whether the device's subgroups are runs of consecutive invocations, in order (lane =
 * local_invocation_index mod subgroup size), in a workgroup of 256: what row folds over
 * subgroupShuffleXor assume. Neither WGSL nor Vulkan promises it, so it is checked once per device.
 */
export async function probeSubgroupLayout(device: GPUDevice): Promise<boolean> {
  const code = `enable subgroups;
@group(0) @binding(0) var<storage, read_write> o: array<u32>;
@compute @workgroup_size(256) fn main(@builtin(local_invocation_index) l: u32, @builtin(subgroup_invocation_id) s: u32, @builtin(subgroup_size) n: u32) {
  let x = subgroupShuffleXor(l, 1u);
  o[l] = select(0u, 1u, s == l % n && x == (l ^ 1u));
}`;
  const out = device.createBuffer({ size: 1024, usage: 0x80 | 0x04 });
  const read = device.createBuffer({ size: 1024, usage: 0x01 | 0x08 });
  device.pushErrorScope('validation');
  let submitted = false;
  try {
    const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module: device.createShaderModule({ code }), entryPoint: 'main' } });
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: out } }] }));
    pass.dispatchWorkgroups(1);
    pass.end();
    enc.copyBufferToBuffer(out, 0, read, 0, 1024);
    device.queue.submit([enc.finish()]);
    submitted = true;
  } catch {
    // A device that cannot compile the probe: no lane exchanges.
  }
  const invalid = await device.popErrorScope();
  let ok = false;
  if (submitted && !invalid) {
    await read.mapAsync(0x01);
    ok = new Uint32Array(read.getMappedRange()).every((x) => x === 1);
    read.unmap();
  }
  out.destroy();
  read.destroy();
  return ok;
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
    features: { ...base.features, f16: device.features.has('shader-f16'), subgroups: device.features.has('subgroups'), subgroupSize: subgroupSizes(device, base.features.subgroupSize), subgroupLanesLinear: linearSubgroups.get(device) === true },
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
