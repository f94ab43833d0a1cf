/** One WebGPU device per test process (Dawn over the machine's Vulkan driver), destroyed at the end. */
import { nodeGpu, type NodeGpu } from '../../backends/wgsl/node-device.ts';

let gpu: Promise<NodeGpu> | undefined;

export function testGpu(): Promise<NodeGpu> {
  gpu ??= nodeGpu();
  return gpu;
}

export async function releaseGpu(): Promise<void> {
  if (!gpu) return;
  const g = await gpu;
  g.destroy();
  gpu = undefined;
}

/** Run `fn` inside validation and out-of-memory error scopes; any error fails. */
export async function scoped<T>(device: GPUDevice, fn: () => Promise<T>): Promise<T> {
  device.pushErrorScope('out-of-memory');
  device.pushErrorScope('validation');
  const out = await fn();
  const v = await device.popErrorScope();
  const m = await device.popErrorScope();
  if (v) throw new Error(`WebGPU validation error: ${v.message}`);
  if (m) throw new Error(`WebGPU out-of-memory error: ${m.message}`);
  return out;
}
