/**
 * The WebGPU runtime caches internal buffers (sequence offsets, per-token info, scratch, packed
 * bindings, uniforms) per shape. The cache is a small LRU: a serving loop that calls with many
 * different shapes keeps at most `maxCachedShapes` of them, and the evicted shapes' buffers are
 * destroyed. A recording fake device counts buffers; a real Dawn device checks that results stay
 * right while shapes are evicted and made again.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { webgpuManifest } from '../../backends/wgsl/manifest.ts';
import { AttentionKernels } from '../../backends/wgsl/runtime.ts';
import { interpret } from '../../compiler/interp/interpret.ts';
import { randomInputs } from '../../compiler/interp/random.ts';
import { compareTensors } from '../../compiler/interp/tensor.ts';
import { plan } from '../../compiler/passes/pipeline.ts';
import { PROFILES } from '../../compiler/targets/profiles.ts';
import { deviceProfile } from '../../backends/wgsl/node-device.ts';
import { releaseGpu, scoped, testGpu } from '../helpers/gpu.ts';
import { stdlibIR } from '../helpers/ir.ts';

interface FakeBuffer {
  size: number;
  usage: number;
  label: string;
  destroyed: boolean;
  destroy(): void;
}

/** Just enough of GPUDevice for `encode`: it records the buffers it makes. */
function fakeDevice() {
  const buffers: FakeBuffer[] = [];
  const obj = () => ({});
  const pass = { setPipeline() {}, setBindGroup() {}, dispatchWorkgroups() {}, end() {} };
  const device = {
    features: new Set<string>(['shader-f16', 'subgroups']),
    limits: { maxComputeWorkgroupsPerDimension: 65535, maxComputeWorkgroupStorageSize: 1 << 16, maxComputeInvocationsPerWorkgroup: 1024, maxStorageBuffersPerShaderStage: 16 },
    queue: { writeBuffer() {}, submit() {} },
    createBuffer(d: { size: number; usage: number; label?: string }): FakeBuffer {
      const b: FakeBuffer = {
        size: d.size,
        usage: d.usage,
        label: d.label ?? '',
        destroyed: false,
        destroy() {
          b.destroyed = true;
        },
      };
      buffers.push(b);
      return b;
    },
    createShaderModule: obj,
    createBindGroupLayout: obj,
    createPipelineLayout: obj,
    createComputePipeline: obj,
    createBindGroup: obj,
    createCommandEncoder: () => ({ beginComputePass: () => pass, copyBufferToBuffer() {}, finish: obj }),
  };
  return { device: device as unknown as GPUDevice, buffers };
}

// Gated DeltaNet on webgpu-default: a prepare kernel (scratch), packed bindings, cu and tokinfo.
function manifest() {
  const ir = stdlibIR('gated_deltanet', { K: 16, V: 16 });
  const p = plan(ir, 'webgpu-default', { form: 'chunk' });
  assert.ok(p.program);
  return { ir, man: webgpuManifest(ir, p.program!, PROFILES['webgpu-default']!, 'f32') };
}

test('per-shape resources are an LRU of maxCachedShapes; evicted buffers are destroyed', () => {
  const { man } = manifest();
  const { device, buffers } = fakeDevice();
  const k = new AttentionKernels(device, man, { maxCachedShapes: 3 });
  /** The internal buffers each shape made, by T. */
  const made = new Map<number, FakeBuffer[]>();
  const encode = (T: number) => {
    const dims = { B: 1, T, H: 2 };
    const caller = Object.fromEntries(Object.entries(k.bufferSizes(dims)).map(([n, size]) => [n, device.createBuffer({ size: Math.max(4, size), usage: 0x80 | 0x8 | 0x4, label: `caller ${n}` })]));
    const before = buffers.length;
    k.encode(device.createCommandEncoder(), caller, dims);
    made.set(T, [...(made.get(T) ?? []), ...buffers.slice(before)]);
  };
  for (const T of [10, 11, 12]) encode(T);
  assert.is(k.cachedShapes, 3);
  assert.ok(made.get(10)!.length > 2, `shape T=10 made ${made.get(10)!.length} internal buffers`);
  assert.ok([...made.values()].flat().every((b) => !b.destroyed), 'nothing evicted within the bound');
  // T = 10 again: a cache hit (no new buffers) that makes it the most recently used.
  const n10 = made.get(10)!.length;
  encode(10);
  assert.is(made.get(10)!.length, n10, 'a cached shape makes no new buffers');
  // A fourth shape evicts the least recently used one: T = 11, not T = 10.
  encode(13);
  assert.is(k.cachedShapes, 3);
  assert.ok(made.get(11)!.every((b) => b.destroyed), 'the evicted shape (T=11) has its buffers destroyed');
  assert.ok([10, 12, 13].every((T) => made.get(T)!.every((b) => !b.destroyed)), 'the cached shapes keep theirs');
  // A serving loop over many lengths: the cache stays bounded, and so do the live buffers.
  for (let T = 20; T < 60; T++) {
    encode(T);
    assert.ok(k.cachedShapes <= 3, `${k.cachedShapes} shapes cached`);
  }
  const live = [...made.values()].flat().filter((b) => !b.destroyed);
  assert.is(live.length, [57, 58, 59].reduce((s, T) => s + made.get(T)!.length, 0), 'only the last three shapes hold buffers');
  // destroy() frees the rest; the object stays usable.
  k.destroy();
  assert.is(k.cachedShapes, 0);
  assert.ok([...made.values()].flat().every((b) => b.destroyed), 'destroy() frees every internal buffer');
  assert.ok(buffers.filter((b) => b.label.startsWith('caller')).every((b) => !b.destroyed), "the caller's buffers are left alone");
  encode(10);
  assert.is(k.cachedShapes, 1);
});

test('maxCachedShapes must be a positive integer (default 8)', () => {
  const { man } = manifest();
  const { device } = fakeDevice();
  assert.is(new AttentionKernels(device, man).maxCachedShapes, 8);
  assert.throws(() => new AttentionKernels(device, man, { maxCachedShapes: 0 }), /maxCachedShapes must be a positive integer/);
});

test('on Dawn: results stay right while shapes are evicted and made again', async () => {
  const gpu = await testGpu();
  const ir = stdlibIR('gated_deltanet', { K: 16, V: 16 });
  const p = plan(ir, 'webgpu-default', { form: 'chunk' });
  assert.ok(p.program);
  const man = webgpuManifest(ir, p.program!, deviceProfile(PROFILES['webgpu-default']!, gpu.device), 'f32');
  const k = new AttentionKernels(gpu.device, man, { maxCachedShapes: 2 });
  for (const T of [20, 33, 47, 20, 33]) {
    const inputs = randomInputs(ir, { B: 1, T, H: 2, seed: T });
    const tensors = Object.fromEntries(Object.entries(inputs.tensors).map(([n, t]) => [n, t.data]));
    const res = await scoped(gpu.device, () => k.run(tensors, { B: 1, T, H: 2 }));
    const ref = interpret(ir, inputs, { form: 'recurrent' });
    const e = compareTensors(Float64Array.from(res.output), ref.output!.data).relErr;
    assert.ok(e < 1e-4, `T=${T}: rel. error ${e}`);
    assert.ok(k.cachedShapes <= 2);
  }
  k.destroy();
});

test.after(async () => {
  await releaseGpu();
});

test.run();
