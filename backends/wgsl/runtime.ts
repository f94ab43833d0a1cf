/**
 * The WebGPU runtime of compiled attention kernels. Bring your own GPUDevice; pipelines are
 * created lazily with explicit bind-group layouts and cached; uniforms are packed per the WGSL
 * struct layout; dispatches past the per-dimension limit are split; buffer sizes are checked with
 * errors that name the tensor and the size it needs.
 *
 * This file is dependency-free (it only imports the host contract) so that generated packages
 * ship it as is. It runs in browsers and in Node through the `webgpu` package.
 */
import { evalSize, sequenceOffsets, tokenInfo, uniformParams, type RunDims } from '../../compiler/kernel-ir/host-contract.ts';
import type { BufferManifest, KernelManifest, WebGpuManifest } from './manifest.ts';

export type { RunDims, WebGpuManifest };

const USAGE_STORAGE = 0x0080;
const USAGE_COPY_SRC = 0x0004;
const USAGE_COPY_DST = 0x0008;
const USAGE_UNIFORM = 0x0040;
const USAGE_MAP_READ = 0x0001;
const MAP_READ = 0x0001;
const SHADER_COMPUTE = 0x4;

function bytesOf(dtype: string): number {
  return dtype === 'f16' || dtype === 'bf16' ? 2 : 4;
}

export class AttncError extends Error {
  override name = 'AttncError';
}

/** Host tensors for `run`: float data for real inputs and parameters, integers for `int` inputs. */
export type HostTensors = Record<string, Float32Array | Float64Array | Int32Array | number[]>;

export interface RunResult {
  /** [B, T, H, V'] as float32 (f16 outputs are widened). */
  output: Float32Array;
  finalState?: { S: Float32Array; z?: Float32Array; m?: Float32Array };
}

interface Resources {
  internal: Map<string, GPUBuffer>;
  uniforms: GPUBuffer[];
}

export interface AttentionKernelsOptions {
  /**
   * How many distinct shapes (RunDims) keep their internal buffers (sequence offsets, scratch,
   * packed bindings, uniforms) cached; the least recently used shape's buffers are destroyed
   * past it. Default 8. Work already submitted is unaffected (WebGPU frees a destroyed buffer
   * once the queue is done with it), but a command encoder must be submitted before more than
   * this many other shapes are encoded.
   */
  maxCachedShapes?: number;
}

export class AttentionKernels {
  private pipelines = new Map<string, { pipeline: GPUComputePipeline; layout: GPUBindGroupLayout }>();
  /** Per-shape resources, least recently used first (a Map keeps insertion order). */
  private resources = new Map<string, Resources>();
  readonly realInputs: string[];
  readonly maxCachedShapes: number;

  constructor(
    readonly device: GPUDevice,
    readonly manifest: WebGpuManifest,
    options: AttentionKernelsOptions = {},
  ) {
    const max = options.maxCachedShapes ?? 8;
    if (!Number.isInteger(max) || max < 1) throw new AttncError(`attnc: maxCachedShapes must be a positive integer (got ${max})`);
    this.maxCachedShapes = max;
    this.realInputs = manifest.inputs.filter((i) => i.type === 'real').map((i) => i.name);
    for (const f of manifest.requiredFeatures) {
      if (!device.features.has(f)) throw new AttncError(`attnc: ${manifest.spec} needs the device feature '${f}'; request it with requestDevice({ requiredFeatures: [...] })`);
    }
    for (const [name, value] of Object.entries(manifest.requiredLimits)) {
      const have = (device.limits as unknown as Record<string, number>)[name] ?? 0;
      if (have < value) throw new AttncError(`attnc: ${manifest.spec} needs the device limit ${name} ≥ ${value} (the device has ${have}); request it with requestDevice({ requiredLimits: { ${name}: ${value} } })`);
    }
  }

  /**
   * Bytes each caller buffer needs for these dims (inputs, parameters, out, states): whole 4-byte
   * words, as storage bindings and buffer copies take them (an odd count of f16 values is padded).
   */
  bufferSizes(dims: RunDims): Record<string, number> {
    const e = this.bufferElements(dims);
    const user = new Set(['input', 'param', 'output', 'state-in', 'state-out']);
    return Object.fromEntries(this.manifest.buffers.filter((b) => user.has(b.role)).map((b) => [tensorName(b.name), align4(e[b.name]! * bytesOf(b.dtype))]));
  }

  /** The expected element count of each buffer for these dims. */
  bufferElements(dims: RunDims): Record<string, number> {
    const params = uniformParams(dims, this.realInputs);
    return Object.fromEntries(this.manifest.buffers.map((b) => [b.name, evalSize(b.elems, params)]));
  }

  private pipeline(k: KernelManifest): { pipeline: GPUComputePipeline; layout: GPUBindGroupLayout } {
    const hit = this.pipelines.get(k.name);
    if (hit) return hit;
    const module = this.device.createShaderModule({ code: k.code, label: k.name });
    const entries: GPUBindGroupLayoutEntry[] = k.bindings.map((b) => ({ binding: b.binding, visibility: SHADER_COMPUTE, buffer: { type: b.access === 'read' ? 'read-only-storage' : 'storage' } }));
    entries.push({ binding: k.paramsBinding, visibility: SHADER_COMPUTE, buffer: { type: 'uniform' } });
    const layout = this.device.createBindGroupLayout({ entries, label: `${k.name} bindings` });
    const pipeline = this.device.createComputePipeline({ layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout] }), compute: { module, entryPoint: 'main' }, label: k.name });
    const p = { pipeline, layout };
    this.pipelines.set(k.name, p);
    return p;
  }

  /** Compile every pipeline now (optional: pipelines are otherwise created on first use). */
  async warmup(): Promise<void> {
    for (const k of this.manifest.kernels) this.pipeline(k);
  }

  /** Shader compilation messages of every kernel (for tests: generated shaders must compile cleanly). */
  async compilationMessages(): Promise<{ kernel: string; type: string; message: string }[]> {
    const out: { kernel: string; type: string; message: string }[] = [];
    for (const k of this.manifest.kernels) {
      const m = this.device.createShaderModule({ code: k.code, label: k.name });
      const info = await m.getCompilationInfo();
      for (const msg of info.messages) out.push({ kernel: k.name, type: msg.type, message: `${msg.lineNum}:${msg.linePos} ${msg.message}` });
    }
    return out;
  }

  /** Shapes whose internal buffers are cached now (for tests and memory accounting). */
  get cachedShapes(): number {
    return this.resources.size;
  }

  private resourcesFor(dims: RunDims): Resources {
    const key = JSON.stringify(dims);
    let r = this.resources.get(key);
    if (r) {
      // Most recently used: move to the end.
      this.resources.delete(key);
      this.resources.set(key, r);
      return r;
    }
    while (this.resources.size >= this.maxCachedShapes) {
      const [oldest, old] = this.resources.entries().next().value as [string, Resources];
      this.resources.delete(oldest);
      freeResources(old);
    }
    r = { internal: new Map(), uniforms: [] };
    this.resources.set(key, r);
    return r;
  }

  /**
   * Record the kernels into `encoder` (one compute pass), reading and writing the caller's
   * buffers: every input and parameter by name, `out`, `initial_state` (and `initial_z`,
   * `initial_m` for normalizers) when dims.hasInitialState, `final_state` (`final_z`, `final_m`)
   * when dims.storeFinalState. Internal buffers (sequence offsets, scratch) are made and cached
   * per dims.
   */
  encode(target: GPUCommandEncoder | GPUComputePassEncoder, buffers: Record<string, GPUBuffer>, dims: RunDims): void {
    // A compute pass can take the dispatches only when nothing must be copied around them.
    const isPass = !('beginComputePass' in target);
    const encoder = target as GPUCommandEncoder;
    const m = this.manifest;
    const params = uniformParams(dims, this.realInputs);
    const res = this.resourcesFor(dims);
    const dev = this.device;
    const elems = this.bufferElements(dims);
    const user = new Set(['input', 'param', 'output', 'state-in', 'state-out']);
    const bound: Record<string, GPUBuffer> = {};
    // Caller buffers: present and large enough.
    for (const b of m.buffers) {
      if (!user.has(b.role)) continue;
      const need = align4(elems[b.name]! * bytesOf(b.dtype));
      const name = tensorName(b.name);
      let buf = buffers[name] ?? buffers[b.name];
      const wanted = b.role === 'state-in' ? dims.hasInitialState : b.role === 'state-out' ? dims.storeFinalState : true;
      if (!buf && !wanted) buf = this.internal(res, b, 4, true);
      if (!wanted) {
        bound[b.name] = buf!;
        continue;
      }
      if (!buf) throw new AttncError(`attnc: ${m.spec}: missing buffer '${name}' (${elems[b.name]} ${b.dtype} elements, ${need} bytes)`);
      if (buf.size < need) throw new AttncError(`attnc: ${m.spec}: buffer '${name}' has ${buf.size} bytes; shape ${shapeText(m, b, dims)} (${b.dtype}) needs ${need}`);
      bound[b.name] = buf;
    }
    // Internal buffers: offsets and per-token info, scratch.
    for (const b of m.buffers) {
      if (user.has(b.role)) continue;
      const need = Math.max(4, elems[b.name]! * bytesOf(b.dtype));
      const buf = this.internal(res, b, need, false);
      if (b.name === 'cu') dev.queue.writeBuffer(buf, 0, new Int32Array(sequenceOffsets(dims)));
      if (b.name === 'tokinfo') dev.queue.writeBuffer(buf, 0, tokenInfo(dims) as Int32Array<ArrayBuffer>);
      bound[b.name] = buf;
    }
    // Packed bindings: members are copied (caller buffers) or written (internal data) into place.
    const packs = new Map<string, BufferManifest[]>();
    /** Final states written into a pack, copied to the caller's buffers after the pass. */
    const copyOut: [GPUBuffer, number, GPUBuffer, number][] = [];
    for (const b of m.buffers) if (b.packedInto) packs.set(b.packedInto.buffer, [...(packs.get(b.packedInto.buffer) ?? []), b]);
    for (const [pack, members] of packs) {
      // A pack is 32-bit words (offsets count words); a member takes its bytes rounded up to a
      // word (f16 members: two elements per word).
      const bytes = (b: BufferManifest) => align4(elems[b.name]! * bytesOf(b.dtype));
      let total = 0;
      for (const b of members) total = Math.max(total, evalSize(b.packedInto!.offset, params) * 4 + bytes(b));
      const pbuf = this.internal(res, { name: pack, role: 'meta', dtype: 'u32', elems: { k: 'const', v: 0, t: 'i' } }, Math.max(16, total), false);
      for (const b of members) {
        const off = evalSize(b.packedInto!.offset, params) * 4;
        const size = bytes(b);
        if (size === 0) continue;
        if (b.name === 'cu') dev.queue.writeBuffer(pbuf, off, new Int32Array(sequenceOffsets(dims)));
        else if (b.name === 'tokinfo') dev.queue.writeBuffer(pbuf, off, tokenInfo(dims) as Int32Array<ArrayBuffer>);
        else if (b.role === 'state-out') {
          const dst = bound[b.name]!;
          if (dims.storeFinalState && !(dst.usage & USAGE_COPY_DST)) throw new AttncError(`attnc: ${m.spec}: buffer '${b.name}' needs GPUBufferUsage.COPY_DST (the final state is copied into it)`);
          copyOut.push([pbuf, off, dst, size]);
        }
        else if (b.role === 'state-in' && !dims.hasInitialState) continue;
        else if (b.role === 'input' || b.role === 'param' || b.role === 'state-in') {
          if (isPass) throw new AttncError(`attnc: ${m.spec}: this program packs '${tensorName(b.name)}' into a shared binding, which needs a copy: pass a GPUCommandEncoder, not a compute pass`);
          // Whole words (an odd count of f16 values: the caller's buffer is padded, checked above).
          encoder.copyBufferToBuffer(bound[b.name]!, 0, pbuf, off, size);
        }
      }
      bound[pack] = pbuf;
    }
    if (isPass && dims.storeFinalState && copyOut.length) throw new AttncError(`attnc: ${m.spec}: the final state is copied out of a shared binding: pass a GPUCommandEncoder, not a compute pass`);
    const pass = isPass ? (target as GPUComputePassEncoder) : encoder.beginComputePass({ label: `${m.spec}` });
    let u = 0;
    for (const k of m.kernels) {
      const { pipeline, layout } = this.pipeline(k);
      const grid = k.grid.map((g) => evalSize(g, params)) as [number, number, number];
      if (grid.some((g) => g === 0)) continue;
      const maxX = dev.limits.maxComputeWorkgroupsPerDimension;
      if (grid[1] > maxX || grid[2] > maxX) throw new AttncError(`attnc: ${m.spec}: kernel ${k.name} needs a grid of ${grid.join(' × ')} workgroups; the device allows ${maxX} per dimension`);
      for (let x0 = 0; x0 < grid[0]; x0 += maxX) {
        const ubuf = res.uniforms[u] ?? (res.uniforms[u] = dev.createBuffer({ size: 4 * (m.uniforms.length + 1 + 3), usage: USAGE_UNIFORM | USAGE_COPY_DST, label: `${k.name} params` }));
        u++;
        const words = new Uint32Array(m.uniforms.length + 4);
        m.uniforms.forEach((name, i) => (words[i] = params[name]!));
        words[m.uniforms.length] = x0;
        words[m.uniforms.length + 1] = 0; // ZERO: an opaque 0 that keeps loop bounds unknown to software compilers
        dev.queue.writeBuffer(ubuf, 0, words);
        const entries: GPUBindGroupEntry[] = k.bindings.map((b) => ({ binding: b.binding, resource: { buffer: bound[b.name]! } }));
        entries.push({ binding: k.paramsBinding, resource: { buffer: ubuf } });
        pass.setPipeline(pipeline);
        pass.setBindGroup(0, dev.createBindGroup({ layout, entries, label: k.name }));
        pass.dispatchWorkgroups(Math.min(maxX, grid[0] - x0), grid[1], grid[2]);
      }
    }
    if (isPass) return;
    pass.end();
    if (dims.storeFinalState) for (const [src, off, dst, size] of copyOut) encoder.copyBufferToBuffer(src, off, dst, 0, size);
  }

  private internal(res: Resources, b: BufferManifest, bytes: number, zero: boolean): GPUBuffer {
    const key = b.name;
    let buf = res.internal.get(key);
    if (buf && buf.size >= bytes) return buf;
    buf?.destroy();
    buf = this.device.createBuffer({ size: align4(bytes), usage: USAGE_STORAGE | USAGE_COPY_DST | USAGE_COPY_SRC, label: `attnc ${b.name}` });
    void zero;
    res.internal.set(key, buf);
    return buf;
  }

  /** Convenience: upload host tensors, run, and read the output (and final state) back. */
  async run(tensors: HostTensors, dims: RunDims, initialState?: { S: ArrayLike<number>; z?: ArrayLike<number>; m?: ArrayLike<number> }): Promise<RunResult> {
    const m = this.manifest;
    const dev = this.device;
    const elems = this.bufferElements(dims);
    const created: GPUBuffer[] = [];
    const make = (size: number, usage: number, label: string) => {
      const b = dev.createBuffer({ size: align4(Math.max(4, size)), usage, label });
      created.push(b);
      return b;
    };
    const upload = (b: BufferManifest, data: ArrayLike<number>, label: string) => {
      const n = elems[b.name]!;
      if (data.length !== n) throw new AttncError(`attnc: ${m.spec}: tensor '${label}' has ${data.length} values; shape ${shapeText(m, b, dims)} needs ${n}`);
      const buf = make(n * bytesOf(b.dtype), USAGE_STORAGE | USAGE_COPY_DST | USAGE_COPY_SRC, label);
      dev.queue.writeBuffer(buf, 0, padTo4(hostArray(b.dtype, data)) as BufferSource);
      return buf;
    };
    const buffers: Record<string, GPUBuffer> = {};
    for (const b of m.buffers) {
      if (b.role !== 'input' && b.role !== 'param') continue;
      const name = tensorName(b.name);
      const t = tensors[name];
      if (!t) throw new AttncError(`attnc: ${m.spec}: missing tensor '${name}' (shape ${shapeText(m, b, dims)})`);
      buffers[name] = upload(b, t, name);
    }
    for (const name of Object.keys(tensors)) if (!m.buffers.some((b) => tensorName(b.name) === name)) throw new AttncError(`attnc: ${m.spec}: unknown tensor '${name}' (it takes ${m.inputs.map((i) => i.name).concat(m.params.map((p) => p.name)).join(', ')})`);
    const outB = m.buffers.find((b) => b.name === 'out')!;
    buffers['out'] = make(elems['out']! * bytesOf(outB.dtype), USAGE_STORAGE | USAGE_COPY_SRC, 'out');
    const states = m.buffers.filter((b) => b.role === 'state-out');
    for (const b of m.buffers.filter((x) => x.role === 'state-in')) {
      const init = b.name === 'initial_state' ? initialState?.S : b.name === 'initial_z' ? initialState?.z : initialState?.m;
      if (initialState && !init) throw new AttncError(`attnc: ${m.spec}: the initial state needs '${b.name}' (shape ${shapeText(m, b, dims)})`);
      if (init) buffers[b.name] = upload(b, init, b.name);
    }
    for (const b of states) buffers[b.name] = make(elems[b.name]! * 4, USAGE_STORAGE | USAGE_COPY_SRC | USAGE_COPY_DST, b.name);
    const full = { ...dims, hasInitialState: initialState !== undefined, storeFinalState: states.length > 0 };
    const enc = dev.createCommandEncoder({ label: m.spec });
    this.encode(enc, buffers, full);
    const reads: [string, GPUBuffer, number, string][] = [['out', buffers['out'], elems['out']! * bytesOf(outB.dtype), outB.dtype]];
    for (const b of states) reads.push([b.name, buffers[b.name]!, elems[b.name]! * 4, 'f32']);
    const staging = reads.map(([name, src, size, dtype]) => {
      const dst = make(size, USAGE_MAP_READ | USAGE_COPY_DST, `${name} readback`);
      enc.copyBufferToBuffer(src, 0, dst, 0, align4(Math.max(4, size)));
      return { name, dst, size, dtype };
    });
    dev.queue.submit([enc.finish()]);
    const out: Record<string, Float32Array> = {};
    for (const s of staging) {
      await s.dst.mapAsync(MAP_READ);
      const raw = s.dst.getMappedRange().slice(0, s.size);
      out[s.name] = s.dtype === 'f16' ? halfToFloat(new Uint16Array(raw)) : new Float32Array(raw);
      s.dst.unmap();
    }
    for (const b of created) b.destroy();
    const result: RunResult = { output: out['out']! };
    if (states.length) {
      result.finalState = { S: out['final_state']! };
      if (out['final_z']) result.finalState.z = out['final_z'];
      if (out['final_m']) result.finalState.m = out['final_m'];
    }
    return result;
  }

  /**
   * Free every internal buffer (per-shape caches) and forget the pipelines. The object stays
   * usable: a later call makes what it needs again. Caller buffers are the caller's to destroy.
   */
  destroy(): void {
    for (const r of this.resources.values()) freeResources(r);
    this.resources.clear();
    this.pipelines.clear();
  }
}

function freeResources(r: Resources): void {
  for (const b of r.internal.values()) b.destroy();
  for (const b of r.uniforms) b.destroy();
  r.internal.clear();
  r.uniforms.length = 0;
}

/** Buffer names are in_<x> / p_<x> in the kernels; callers use the tensor names. */
function tensorName(buffer: string): string {
  if (buffer.startsWith('in_')) return buffer.slice(3);
  if (buffer.startsWith('p_')) return buffer.slice(2);
  return buffer;
}

function shapeText(m: WebGpuManifest, b: BufferManifest, d: RunDims): string {
  const name = tensorName(b.name);
  const inp = m.inputs.find((i) => i.name === name);
  if (inp) return inp.type === 'int' ? `[${d.B}, ${d.T}]` : `[${[d.B, d.T, d.heads?.[name] ?? d.H, ...inp.shape].join(', ')}]`;
  const p = m.params.find((x) => x.name === name);
  if (p) return `[${(p.perHead ? [d.H, ...p.shape] : p.shape).join(', ')}]`;
  if (b.name === 'out') return `[${d.B}, ${d.T}, ${d.H}, ${m.valueDim}]`;
  const N = sequenceOffsets(d).length - 1;
  if (b.name.endsWith('_state')) return `[${N}, ${d.H}, ${m.keyDim}, ${m.valueDim}]`;
  if (b.name.endsWith('_z')) return `[${N}, ${d.H}, ${m.keyDim}]`;
  if (b.name.endsWith('_m')) return `[${N}, ${d.H}]`;
  return b.name;
}

function align4(n: number): number {
  return Math.ceil(n / 4) * 4;
}

/** writeBuffer takes whole 4-byte words: an odd count of f16 values gets a zero half-word. */
export function padTo4(a: ArrayBufferView): ArrayBufferView {
  if (a.byteLength % 4 === 0) return a;
  const out = new Uint8Array(align4(a.byteLength));
  out.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  return out;
}

function hostArray(dtype: string, data: ArrayLike<number>): ArrayBufferView {
  if (dtype === 'i32') return Int32Array.from(data as ArrayLike<number>);
  if (dtype === 'f16') return floatToHalf(data);
  return Float32Array.from(data as ArrayLike<number>);
}

/** IEEE half precision, round to nearest even. */
export function floatToHalf(data: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(data.length);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  for (let i = 0; i < data.length; i++) {
    f[0] = data[i]!;
    const x = u[0]!;
    const sign = (x >>> 16) & 0x8000;
    let exp = ((x >>> 23) & 0xff) - 127 + 15;
    let mant = x & 0x7fffff;
    if (((x >>> 23) & 0xff) === 0xff) {
      out[i] = sign | 0x7c00 | (mant ? 0x200 : 0);
      continue;
    }
    if (exp >= 31) {
      out[i] = sign | 0x7c00;
      continue;
    }
    if (exp <= 0) {
      if (exp < -10) {
        out[i] = sign;
        continue;
      }
      mant = (mant | 0x800000) >>> (1 - exp);
      exp = 0;
      const round = mant & 0x1fff;
      let h = mant >>> 13;
      if (round > 0x1000 || (round === 0x1000 && h & 1)) h++;
      out[i] = sign | h;
      continue;
    }
    const round = mant & 0x1fff;
    let h = (exp << 10) | (mant >>> 13);
    if (round > 0x1000 || (round === 0x1000 && h & 1)) h++;
    out[i] = sign | h;
  }
  return out;
}

export function halfToFloat(h: Uint16Array): Float32Array {
  const out = new Float32Array(h.length);
  for (let i = 0; i < h.length; i++) {
    const x = h[i]!;
    const s = x & 0x8000 ? -1 : 1;
    const e = (x >> 10) & 0x1f;
    const m = x & 0x3ff;
    out[i] = e === 0 ? s * 2 ** -14 * (m / 1024) : e === 31 ? (m ? NaN : s * Infinity) : s * 2 ** (e - 15) * (1 + m / 1024);
  }
  return out;
}

export const BUFFER_USAGE = { USAGE_STORAGE, USAGE_COPY_SRC, USAGE_COPY_DST };
