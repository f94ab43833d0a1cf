/**
 * WebGPU benchmark: milliseconds per call and tokens per second of the generated kernels, run
 * through Dawn on the default adapter (a real GPU through its Vulkan driver, or Mesa lavapipe).
 *
 *   node --import tsx bench/webgpu/run.ts [--shape B=4,T=4096,H=16] [--sweep] [--reps 7] [--json FILE]
 *   npm run bench:webgpu
 *
 * Cases: the chunk and recurrent forms of linear attention, GLA and Gated DeltaNet, the parallel
 * (flash) form of causal softmax, and the token-sequential baseline for Gated DeltaNet (one
 * workgroup per head, state column in registers, tokens in a loop: bench/webgpu/token-sequential.ts).
 * --sweep adds Gated DeltaNet chunk vs the baseline at B=16 T=1024, B=4 T=4096 and B=1 T=16384.
 * --per-kernel times each kernel of a multi-kernel program alone (prepare, intra, chunk).
 * --explore times the chunk form's variants (split or fused, chunks of 16/32/64, value tiles of 16/32,
 * workgroups of 256/512/1024 threads), each checked against the default program; --explore-specs a,b
 * limits it to those specs, --explore-threads to the default and the larger workgroups, --explore-tiles
 * to the fused kernel's value tiles and key slices; --explore-softmax times the flash kernel's query
 * and key tiles at 256/512/1024 threads; --ablate times the chunk kernel with each kind of statement
 * of its sequence loop dropped in turn (Gated DeltaNet, or the --explore-specs); --skip-main
 * leaves out the main table's cases. --occupancy N (N compute units: 132 on an H100/H200) adds a
 * probe of how many workgroups the driver keeps resident per unit by workgroup memory and size.
 *
 * Timing: after ≥ 300 ms of warm-up work, each measurement records `inner` calls into one command
 * encoder (inner chosen so that a submission takes ≥ 50 ms), submits, and waits for the queue;
 * ms per call = wall time ÷ inner.
 * The table shows the median of --reps measurements after a warm-up call. Launch and bind-group
 * creation are included, as a user of the bindings pays them.
 *
 * Before timing, every generated case is checked: chunk vs recurrent output at the bench shape
 * (max relative error column), and the baseline against the float64 reference interpreter at a
 * small shape. Inputs are f32 random normals (the spec's dims: K = V = 128, softmax D = 128).
 *
 * This is a benchmark, not a test: it prints a Markdown table and exits 0 (1 if a check fails).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { webgpuManifest } from '../../backends/wgsl/manifest.ts';
import { deviceProfile, nodeGpu, type NodeGpu } from '../../backends/wgsl/node-device.ts';
import { AttentionKernels } from '../../backends/wgsl/runtime.ts';
import type { AttentionIR } from '../../compiler/ir/attention-ir.ts';
import { interpret } from '../../compiler/interp/interpret.ts';
import { randomInputs } from '../../compiler/interp/random.ts';
import { compareTensors } from '../../compiler/interp/tensor.ts';
import type { RunDims } from '../../compiler/kernel-ir/host-contract.ts';
import type { Program, Stmt } from '../../compiler/kernel-ir/types.ts';
import { plan } from '../../compiler/passes/pipeline.ts';
import type { KernelForm } from '../../compiler/passes/plan.ts';
import { lowerSource } from '../../compiler/pipeline.ts';
import { PROFILES, type TargetProfile } from '../../compiler/targets/profiles.ts';
import { TokenSequential, TOKEN_SEQUENTIAL_SPEC } from './token-sequential.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const STORAGE = 0x80;
const COPY_DST = 0x08;
const COPY_SRC = 0x04;
const MAP_READ = 0x01;

interface Shape {
  B: number;
  T: number;
  H: number;
}

interface Row {
  spec: string;
  form: string;
  shape: Shape;
  ms: number;
  tokensPerSecond: number;
  /** Relative error against the other form (or the reference, for the baseline). */
  check: string;
  kernels: string;
}

function usage(msg: string): never {
  process.stderr.write(`bench/webgpu: ${msg}\n`);
  process.exit(2);
}

function parseShape(s: string): Shape {
  const m: Record<string, number> = {};
  for (const part of s.split(',')) {
    const [k, v] = part.split('=');
    if (!k || !v || !Number.isInteger(Number(v)) || Number(v) < 1) usage(`bad shape '${s}' (write B=4,T=4096,H=16)`);
    m[k.trim()] = Number(v);
  }
  if (!m['B'] || !m['T'] || !m['H']) usage(`shape '${s}' needs B, T and H`);
  return { B: m['B'], T: m['T'], H: m['H'] };
}

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? undefined : (process.argv[i + 1] ?? usage(`--${name} needs a value`));
}

function loadSpec(file: string): AttentionIR {
  const text = readFileSync(join(REPO, file), 'utf8');
  const l = lowerSource(text, file);
  if (!l.ok) usage(`${file} does not compile`);
  return l.irs[0]!;
}

/** Deterministic normals (Box–Muller over a 32-bit LCG), fast enough for 100 MiB tensors. */
function normals(n: number, seed: number, scale = 1): Float32Array<ArrayBuffer> {
  const out = new Float32Array(n);
  let s = (seed * 2654435761) >>> 0 || 1;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s + 0.5) / 4294967296;
  };
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(next())) * scale;
    const a = 2 * Math.PI * next();
    out[i] = r * Math.cos(a);
    if (i + 1 < n) out[i + 1] = r * Math.sin(a);
  }
  return out;
}

function rate(perSecond: number): string {
  return perSecond >= 1e6 ? `${(perSecond / 1e6).toFixed(2)} M` : `${(perSecond / 1e3).toFixed(1)} k`;
}

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Median ms per call of `record` (which records one call into the encoder). */
async function time(device: GPUDevice, record: (enc: GPUCommandEncoder) => void, reps: number): Promise<number> {
  const submit = async (inner: number) => {
    const enc = device.createCommandEncoder();
    for (let i = 0; i < inner; i++) record(enc);
    const t0 = performance.now();
    device.queue.submit([enc.finish()]);
    await device.queue.onSubmittedWorkDone();
    return performance.now() - t0;
  };
  // Warm-up: pipelines, caches, and ≥ 300 ms of GPU work so the clocks are up before timing
  // (without it the first rows of a run measured up to 3× slower on an H100).
  let one = await submit(1);
  for (let spent = one; spent < 300; ) {
    const n = Math.max(1, Math.min(100, Math.ceil(100 / Math.max(one, 0.01))));
    const t = await submit(n);
    one = t / n;
    spent += t;
  }
  const inner = Math.max(1, Math.min(100, Math.ceil(50 / Math.max(one, 0.01))));
  const times: number[] = [];
  for (let r = 0; r < reps; r++) times.push((await submit(inner)) / inner);
  return median(times);
}

async function readBuffer(device: GPUDevice, src: GPUBuffer, bytes: number): Promise<Float32Array> {
  const dst = device.createBuffer({ size: bytes, usage: MAP_READ | COPY_DST });
  const enc = device.createCommandEncoder();
  enc.copyBufferToBuffer(src, 0, dst, 0, bytes);
  device.queue.submit([enc.finish()]);
  await dst.mapAsync(MAP_READ);
  const out = new Float32Array(dst.getMappedRange().slice(0));
  dst.unmap();
  dst.destroy();
  return out;
}

/** A generated program with GPU-resident random inputs at one shape. */
class GeneratedCase {
  kernels: AttentionKernels;
  buffers: Record<string, GPUBuffer> = {};
  dims: RunDims;
  description: string;
  /** Threads per workgroup the plan chose (the explore rows name it). */
  threads: number;
  constructor(
    private gpu: NodeGpu,
    profile: TargetProfile,
    ir: AttentionIR,
    form: KernelForm,
    shape: Shape,
    extra: { split?: boolean; chunk?: number; tiles?: { BV?: number; BK?: number }; threads?: number } = {},
    /** Rewrites the planned program before it is printed (--ablate). */
    transform?: (p: Program) => void,
  ) {
    const p = plan(ir, profile, { form, dtype: 'f32', shape, ...extra });
    if (!p.program) {
      for (const d of p.diagnostics) process.stderr.write(`${d.message}\n`);
      throw new Error(`${ir.name}: no ${form} program for ${profile.name}`);
    }
    transform?.(p.program);
    this.threads = p.tiling?.threads ?? 0;
    this.description = `${p.program.kernels.map((k) => k.name.replace(`${ir.name}_`, '')).join('+')}; ${p.tiling?.why ?? ''}`;
    this.kernels = new AttentionKernels(gpu.device, webgpuManifest(ir, p.program, profile, 'f32'));
    this.dims = { ...shape };
    const sizes = this.kernels.bufferSizes(this.dims);
    let seed = 1;
    for (const b of this.kernels.manifest.buffers) {
      if (b.role !== 'input' && b.role !== 'param' && b.role !== 'output') continue;
      const name = b.name.replace(/^(in|p)_/, '');
      const bytes = sizes[name]!;
      const buf = gpu.device.createBuffer({ size: Math.max(4, bytes), usage: STORAGE | COPY_DST | COPY_SRC, label: name });
      if (b.role !== 'output') gpu.device.queue.writeBuffer(buf, 0, normals(bytes / 4, seed++, b.role === 'param' ? 0.5 : 1));
      this.buffers[name] = buf;
    }
  }
  record = (enc: GPUCommandEncoder) => this.kernels.encode(enc, this.buffers, this.dims);
  /**
   * Each kernel of the program alone (a manifest holding only that kernel, on the same input
   * buffers; its scratch inputs are the runtime's own zeroed buffers, which costs the same work),
   * for a per-kernel breakdown of the time.
   */
  kernelAlone(): { name: string; record: (enc: GPUCommandEncoder) => void; destroy: () => void }[] {
    const m = this.kernels.manifest;
    if (m.kernels.length < 2) return [];
    return m.kernels.map((k) => {
      const alone = new AttentionKernels(this.gpu.device, { ...m, kernels: [k] });
      return { name: k.name, record: (enc: GPUCommandEncoder) => alone.encode(enc, this.buffers, this.dims), destroy: () => alone.destroy() };
    });
  }
  async output(): Promise<Float32Array> {
    const enc = this.gpu.device.createCommandEncoder();
    this.record(enc);
    this.gpu.device.queue.submit([enc.finish()]);
    return readBuffer(this.gpu.device, this.buffers['out']!, this.buffers['out']!.size);
  }
  destroy(): void {
    this.kernels.destroy();
    for (const b of Object.values(this.buffers)) b.destroy();
  }
}

/**
 * --ablate: what a statement of the chunk loop costs. Each statement inside the sequence loop of a
 * program's last kernel gets a key (its op and destination tile: `matmul X ← Ks·S`, `map Vc`,
 * `barrier`, …); a variant drops every statement of one key. The variant computes garbage — its
 * time minus the whole kernel's is the share of that statement kind (WebGPU has no profiler).
 */
function ablationKey(s: Stmt): string | undefined {
  switch (s.op) {
    case 'matmul':
      return `matmul ${s.dst.tile} ${s.acc === 'set' ? '=' : s.acc === 'add' ? '+=' : '-='} ${s.a.tile}${s.transA ? 'ᵀ' : ''}·${s.b.tile}${s.transB ? 'ᵀ' : ''}`;
    case 'map':
      return `map ${s.dst.tile}`;
    case 'store':
      return `store ${s.dst.buf}`;
    case 'cumsum':
    case 'trisolve':
    case 'barrier':
      return s.op;
    case 'reduce':
      return `reduce ${s.dst}`;
    default:
      return undefined;
  }
}

function chunkLoop(p: Program): Stmt & { op: 'for' } {
  const k = p.kernels[p.kernels.length - 1]!;
  const loop = k.body.find((s): s is Stmt & { op: 'for' } => s.op === 'for');
  if (!loop) throw new Error(`${k.name}: no sequence loop to ablate`);
  return loop;
}

function ablationKeys(body: Stmt[], into = new Set<string>()): Set<string> {
  for (const s of body) {
    const key = ablationKey(s);
    if (key) into.add(key);
    if (s.op === 'for') ablationKeys(s.body, into);
    if (s.op === 'if') ablationKeys([...s.then, ...s.else], into);
  }
  return into;
}

function dropStatements(body: Stmt[], drop: (key: string) => boolean): Stmt[] {
  const out: Stmt[] = [];
  for (const s of body) {
    const key = ablationKey(s);
    if (key && drop(key)) continue;
    if (s.op === 'for') out.push({ ...s, body: dropStatements(s.body, drop) });
    else if (s.op === 'if') out.push({ ...s, then: dropStatements(s.then, drop), else: dropStatements(s.else, drop) });
    else out.push(s);
  }
  return out;
}

function relErr(a: Float32Array, b: Float32Array): number {
  return compareTensors(Float64Array.from(a), Float64Array.from(b)).relErr;
}

/** Check the baseline against the reference interpreter at a small shape; returns the rel. error. */
async function checkBaseline(gpu: NodeGpu, base: TokenSequential): Promise<number> {
  const ir = lowerSource(TOKEN_SEQUENTIAL_SPEC, 'token-sequential.attn').irs[0]!;
  const B = 2;
  const T = 33;
  const H = 3;
  const run = randomInputs(ir, { B, T, H, seed: 7 });
  // The baseline takes normalised q, k as the stdlib spec's feature maps would give them.
  const bufs = base.makeBuffers(B, T, H);
  const f32 = (name: string): Float32Array<ArrayBuffer> => Float32Array.from(run.tensors[name]!.data);
  const q = f32('q');
  const k = f32('k');
  for (const x of [q, k]) {
    for (let r = 0; r < x.length; r += 128) {
      let n = 0;
      for (let i = 0; i < 128; i++) n += x[r + i]! ** 2;
      for (let i = 0; i < 128; i++) x[r + i]! /= Math.sqrt(n);
    }
  }
  run.tensors['q']!.data.set(q);
  run.tensors['k']!.data.set(k);
  const q2 = gpu.device.queue;
  q2.writeBuffer(bufs.q, 0, q);
  q2.writeBuffer(bufs.k, 0, k);
  q2.writeBuffer(bufs.v, 0, f32('v'));
  q2.writeBuffer(bufs.g, 0, TokenSequential.gateFromArgument(f32('g')));
  q2.writeBuffer(bufs.beta, 0, f32('beta'));
  const enc = gpu.device.createCommandEncoder();
  base.encode(enc, bufs, B, T, H);
  q2.submit([enc.finish()]);
  const out = await readBuffer(gpu.device, bufs.o, bufs.o.size);
  for (const b of Object.values(bufs)) b.destroy();
  const ref = interpret(ir, run, { form: 'recurrent' });
  return compareTensors(Float64Array.from(out), ref.output!.data).relErr;
}

async function benchBaseline(gpu: NodeGpu, base: TokenSequential, shape: Shape, reps: number, checkErr: number): Promise<Row> {
  const { B, T, H } = shape;
  const bufs = base.makeBuffers(B, T, H);
  const NT = B * T;
  const q = gpu.device.queue;
  q.writeBuffer(bufs.q, 0, normals(NT * H * 128, 11, 1 / Math.sqrt(128)));
  q.writeBuffer(bufs.k, 0, normals(NT * H * 128, 12, 1 / Math.sqrt(128)));
  q.writeBuffer(bufs.v, 0, normals(NT * H * 128, 13));
  q.writeBuffer(bufs.g, 0, TokenSequential.gateFromArgument(normals(NT * H, 14)));
  q.writeBuffer(bufs.beta, 0, normals(NT * H, 15).map((x) => 1 / (1 + Math.exp(-x))));
  const ms = await time(gpu.device, (enc) => base.encode(enc, bufs, B, T, H), reps);
  for (const b of Object.values(bufs)) b.destroy();
  return { spec: 'gated_deltanet', form: 'token-sequential baseline', shape, ms, tokensPerSecond: (NT / ms) * 1000, check: `${checkErr.toExponential(1)} vs ref (small shape)`, kernels: `1 workgroup of 128 per (head, sequence), ${T} steps` };
}

/**
 * What plain memory traffic achieves through this adapter: a copy kernel (out = 2·in) over
 * `bytes` of f32, scalar and vec4 per invocation, and vec4 with 8–46 KiB of workgroup memory per
 * workgroup (a probe of how many workgroups the driver keeps on an SM), timed like the generated
 * kernels. GB/s counts the bytes read and written.
 */
async function bandwidth(gpu: NodeGpu, bytes: number, reps: number): Promise<{ kernel: string; ms: number; gbs: number }[]> {
  const dev = gpu.device;
  const a = dev.createBuffer({ size: bytes, usage: STORAGE | COPY_DST });
  const o = dev.createBuffer({ size: bytes, usage: STORAGE });
  const rows: { kernel: string; ms: number; gbs: number }[] = [];
  // The last variants also hold workgroup memory they barely use: if the driver fits fewer
  // workgroups per SM when each holds more of it, their bandwidth falls.
  const variants: [string, string, number, number, number][] = [
    ['copy, f32 per invocation', 'f32', 1, 0, 256],
    ['copy, vec4<f32> per invocation', 'vec4<f32>', 4, 0, 256],
    ['copy, vec4, 8 KiB workgroup memory', 'vec4<f32>', 4, 8, 256],
    ['copy, vec4, 16 KiB workgroup memory', 'vec4<f32>', 4, 16, 256],
    ['copy, vec4, 32 KiB workgroup memory', 'vec4<f32>', 4, 32, 256],
    ['copy, vec4, 46 KiB workgroup memory', 'vec4<f32>', 4, 46, 256],
    ['copy, vec4, 46 KiB workgroup memory, 1024 invocations', 'vec4<f32>', 4, 46, 1024],
  ];
  for (const [kernel, type, width, kib, threads] of variants) {
    if (kib * 1024 > dev.limits.maxComputeWorkgroupStorageSize || threads > dev.limits.maxComputeInvocationsPerWorkgroup) continue;
    const n = bytes / 4 / width;
    const words = (kib * 1024) / 4;
    const pad = kib ? `var<workgroup> pad: array<f32, ${words}>;\n` : '';
    const per = Math.floor(words / threads);
    const use = kib ? `pad[l * ${per}u] = f32(l);\n  workgroupBarrier();\n  let p = pad[(l * ${per}u + ${per}u) % ${words}u];` : 'let p = 0.0;';
    const code = `@group(0) @binding(0) var<storage, read> a: array<${type}>;
@group(0) @binding(1) var<storage, read_write> o: array<${type}>;
${pad}@compute @workgroup_size(${threads}) fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(local_invocation_index) l: u32, @builtin(num_workgroups) nw: vec3<u32>) {
  ${use}
  let i = g.x + g.y * nw.x * ${threads}u;
  if (i < ${n}u) { o[i] = a[i] * 2.0 + p; }
}`;
    const pipeline = dev.createComputePipeline({ layout: 'auto', compute: { module: dev.createShaderModule({ code }), entryPoint: 'main' } });
    const bind = dev.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: a } }, { binding: 1, resource: { buffer: o } }] });
    const groups = Math.ceil(n / threads);
    const gx = Math.min(groups, 32768);
    const ms = await time(dev, (enc) => {
      const pass = enc.beginComputePass();
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bind);
      pass.dispatchWorkgroups(gx, Math.ceil(groups / gx));
      pass.end();
    }, reps);
    rows.push({ kernel, ms, gbs: (2 * bytes) / ms / 1e6 });
    process.stderr.write(`  bandwidth ${kernel}: ${ms.toFixed(3)} ms\n`);
  }
  a.destroy();
  o.destroy();
  return rows;
}

/**
 * How many workgroups the driver keeps on one compute unit, by the workgroup memory each holds:
 * workgroups of `threads` invocations each run a dependent chain of multiply-adds (a fixed time
 * per workgroup whatever else runs beside it) while holding `kib` KiB of workgroup memory. One
 * workgroup per compute unit (`units` of them: 132 on an H100/H200) takes t1; 64 per unit take
 * t64; workgroups resident at once per unit ≈ 64 · t1 / t64.
 */
async function occupancy(gpu: NodeGpu, reps: number, units: number): Promise<{ kib: number; threads: number; t1: number; t64: number; perUnit: number }[]> {
  const dev = gpu.device;
  const out = dev.createBuffer({ size: units * 64 * 4, usage: STORAGE });
  const rows: { kib: number; threads: number; t1: number; t64: number; perUnit: number }[] = [];
  const maxKib = dev.limits.maxComputeWorkgroupStorageSize / 1024;
  for (const threads of [32, 256, 512])
    for (const kib of [0, 2, 4, 6, 8, 10, 12, 14, 16, 20, 24, 28, 30, 31, 32, 36, 40, 48]) {
      if (kib > maxKib || threads > dev.limits.maxComputeInvocationsPerWorkgroup) continue;
      const words = (kib * 1024) / 4;
      const pad = kib ? `var<workgroup> pad: array<f32, ${words}>;\n` : '';
      const use = kib ? `pad[l % ${words}u] = f32(l);\n  workgroupBarrier();\n  var x = pad[(l + 1u) % ${words}u];` : 'var x = f32(l);';
      const code = `@group(0) @binding(0) var<storage, read_write> o: array<f32>;
${pad}@compute @workgroup_size(${threads}) fn main(@builtin(workgroup_id) w: vec3<u32>, @builtin(local_invocation_index) l: u32) {
  ${use}
  for (var i = 0u; i < 20000u; i = i + 1u) { x = x * 0.99993 + 0.5; }
  if (l == 0u) { o[w.x] = x; }
}`;
      const pipeline = dev.createComputePipeline({ layout: 'auto', compute: { module: dev.createShaderModule({ code }), entryPoint: 'main' } });
      const bind = dev.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: out } }] });
      const run = (groups: number) =>
        time(dev, (enc) => {
          const pass = enc.beginComputePass();
          pass.setPipeline(pipeline);
          pass.setBindGroup(0, bind);
          pass.dispatchWorkgroups(groups);
          pass.end();
        }, reps);
      const t1 = await run(units);
      const t64 = await run(units * 64);
      rows.push({ kib, threads, t1, t64, perUnit: (64 * t1) / t64 });
      process.stderr.write(`  occupancy ${kib} KiB × ${threads}: ${((64 * t1) / t64).toFixed(2)} per unit\n`);
    }
  out.destroy();
  return rows;
}

async function main(): Promise<void> {
  const reps = Number(argValue('reps') ?? 7);
  const jsonFile = argValue('json');
  const gpu = await nodeGpu();
  const info = gpu.adapter.info as GPUAdapterInfo & { type?: string };
  const cpu = /llvmpipe|lavapipe|swiftshader/i.test(gpu.description) || info.type === 'cpu';
  const shape = parseShape(argValue('shape') ?? (cpu ? 'B=1,T=512,H=2' : 'B=4,T=4096,H=16'));
  const sweep = process.argv.includes('--sweep');
  const perKernel = process.argv.includes('--per-kernel');
  const kernelRows: { spec: string; form: string; kernel: string; ms: number; share: number }[] = [];
  const profile = deviceProfile(PROFILES['webgpu-large']!, gpu.device);
  process.stderr.write(`adapter: ${gpu.description}; limits: ${profile.limits.sharedBytes} B workgroup memory, ${profile.limits.bufferBindingBytes} B bindings; subgroups ${profile.features.subgroups} (laid out along local_invocation_index: ${profile.features.subgroupLanesLinear === true}, sizes ${profile.features.subgroupSize.join("–")}), f16 ${profile.features.f16}\n`);
  const rows: Row[] = [];
  let failed = false;
  gpu.device.pushErrorScope('validation');
  const copyBytes = cpu ? 16 << 20 : 128 << 20;
  const bwRows = await bandwidth(gpu, copyBytes, reps);
  // --occupancy N: workgroups resident per compute unit (N units) by workgroup memory and size.
  const units = Number(argValue('occupancy') ?? 0);
  const occRows = units > 0 ? await occupancy(gpu, Math.min(reps, 3), units) : [];

  const cases: [string, KernelForm[]][] = [
    ['stdlib/linear_attention.attn', ['chunk', 'recurrent']],
    ['stdlib/gla.attn', ['chunk', 'recurrent']],
    ['stdlib/gated_deltanet.attn', ['chunk', 'recurrent']],
    ['stdlib/softmax.attn', ['parallel']],
  ];
  const base = new TokenSequential(gpu.device);
  const baseErr = await checkBaseline(gpu, base);
  if (!(baseErr <= 1e-4)) {
    process.stderr.write(`token-sequential baseline disagrees with the reference: ${baseErr}\n`);
    failed = true;
  }
  for (const [file, forms] of process.argv.includes('--skip-main') ? [] : cases) {
    const ir = loadSpec(file);
    const outs: Float32Array[] = [];
    const formRows: Row[] = [];
    for (const form of forms) {
      const c = new GeneratedCase(gpu, profile, ir, form, shape);
      outs.push(await c.output());
      const ms = await time(gpu.device, c.record, reps);
      formRows.push({ spec: ir.name, form, shape, ms, tokensPerSecond: ((shape.B * shape.T) / ms) * 1000, check: '', kernels: c.description });
      if (perKernel)
        for (const k of c.kernelAlone()) {
          const kms = await time(gpu.device, k.record, reps);
          k.destroy();
          kernelRows.push({ spec: ir.name, form, kernel: k.name, ms: kms, share: kms / ms });
          process.stderr.write(`    ${k.name} alone: ${kms.toFixed(3)} ms\n`);
        }
      c.destroy();
      process.stderr.write(`  ${ir.name} ${form}: ${ms.toFixed(3)} ms\n`);
    }
    const err = outs.length > 1 ? relErr(outs[0]!, outs[1]!) : NaN;
    const finite = outs.every((o) => o.every(Number.isFinite));
    if (!finite || err > 1e-3) failed = true;
    for (const r of formRows) r.check = !finite ? 'NON-FINITE' : outs.length > 1 ? `${err.toExponential(1)} chunk vs recurrent` : 'finite';
    rows.push(...formRows);
    if (ir.name === 'gated_deltanet') rows.push(await benchBaseline(gpu, base, shape, reps, baseErr));
  }
  const sweepRows: { shape: Shape; chunk: number; baseline: number }[] = [];
  if (sweep) {
    const ir = loadSpec('stdlib/gated_deltanet.attn');
    for (const s of [
      { B: 16, T: 1024, H: 16 },
      { B: 4, T: 4096, H: 16 },
      { B: 1, T: 16384, H: 16 },
    ]) {
      const c = new GeneratedCase(gpu, profile, ir, 'chunk', s);
      const chunk = await time(gpu.device, c.record, reps);
      c.destroy();
      const baseline = (await benchBaseline(gpu, base, s, reps, baseErr)).ms;
      sweepRows.push({ shape: s, chunk, baseline });
      process.stderr.write(`  sweep B=${s.B} T=${s.T}: chunk ${chunk.toFixed(3)} ms, baseline ${baseline.toFixed(3)} ms\n`);
    }
  }
  // --explore: the chunk form's variants (split or fused kernels, chunk sizes) side by side.
  const exploreRows: { spec: string; variant: string; ms: number; kernels: string }[] = [];
  /**
   * One explore row: a variant program checked against the default program's output and timed.
   * A requested size may be the plan's default (or be capped to it): each program (label) once.
   */
  const exploreVariant = async (spec: string, c: GeneratedCase, variant: string, refOut: Float32Array, seen: Set<string>) => {
    if (seen.has(variant)) return c.destroy();
    seen.add(variant);
    const err = relErr(await c.output(), refOut);
    if (!(err <= 1e-3)) failed = true;
    const ms = await time(gpu.device, c.record, reps);
    c.destroy();
    exploreRows.push({ spec, variant, ms, kernels: `${c.description}; ${err.toExponential(1)} vs the default` });
    process.stderr.write(`  explore ${spec} ${variant}: ${ms.toFixed(3)} ms (${err.toExponential(1)} vs the default)\n`);
  };
  if (process.argv.includes('--explore')) {
    const only = argValue('explore-specs')?.split(',');
    for (const file of ['stdlib/gated_deltanet.attn', 'stdlib/gla.attn', 'stdlib/linear_attention.attn']) {
      const ir = loadSpec(file);
      if (only && !only.includes(ir.name)) continue;
      const variants: { split: boolean; chunk: number; BV?: number; BK?: number; threads?: number }[] = [];
      for (const split of [true, false]) for (const chunk of [16, 32, 64]) variants.push({ split, chunk });
      // Narrower value tiles: more workgroups (and less workgroup memory each) for the same work.
      for (const BV of [16, 32]) variants.push({ split: false, chunk: 16, BV }, { split: true, chunk: 32, BV });
      // Larger workgroups: more warps per SM where the driver keeps one workgroup there.
      for (const threads of [256, 512, 1024]) variants.push({ split: false, chunk: 16, threads }, { split: true, chunk: 16, threads });
      // Key slices of the fused kernel (fewer slices: fewer phases per chunk; more: less memory).
      for (const BK of [16, 32, 64, 128]) for (const BV of [undefined, 32]) variants.push({ split: false, chunk: 16, BK, ...(BV ? { BV } : {}) });
      // --explore-threads: only the default and the larger workgroups; --explore-tiles: the fused kernel's tiles.
      if (process.argv.includes('--explore-threads')) variants.splice(0, variants.length, ...variants.filter((x) => x.threads || (x.chunk === 16 && !x.BV && !x.BK)));
      if (process.argv.includes('--explore-tiles')) variants.splice(0, variants.length, ...variants.filter((x) => !x.split && x.chunk === 16 && !x.threads));
      // The default program's output: every variant must agree with it.
      const ref = new GeneratedCase(gpu, profile, ir, 'chunk', shape);
      const refOut = await ref.output();
      ref.destroy();
      const seen = new Set<string>();
      for (const { split, chunk, BV, BK, threads } of variants) {
        let c: GeneratedCase;
        try {
          c = new GeneratedCase(gpu, profile, ir, 'chunk', shape, { split, chunk, ...(BV || BK ? { tiles: { ...(BV ? { BV } : {}), ...(BK ? { BK } : {}) } } : {}), ...(threads ? { threads } : {}) });
        } catch {
          continue;
        }
        await exploreVariant(ir.name, c, `${split ? 'split' : 'fused'}, chunk ${chunk}${BV ? `, value tile ${BV}` : ''}${BK ? `, key slice ${BK}` : ''}, ${c.threads} threads`, refOut, seen);
      }
    }
  }
  // --ablate: each kind of statement of the chunk loop dropped in turn (timing attribution).
  const ablateRows: { spec: string; dropped: string; ms: number; delta: number }[] = [];
  if (process.argv.includes('--ablate')) {
    const only = argValue('explore-specs')?.split(',') ?? ['gated_deltanet'];
    for (const file of ['stdlib/gated_deltanet.attn', 'stdlib/gla.attn', 'stdlib/linear_attention.attn']) {
      const ir = loadSpec(file);
      if (!only.includes(ir.name)) continue;
      let keys: string[] = [];
      const full = new GeneratedCase(gpu, profile, ir, 'chunk', shape, {}, (p) => void (keys = [...ablationKeys(chunkLoop(p).body)]));
      const base = await time(gpu.device, full.record, reps);
      full.destroy();
      const matmuls = keys.filter((k) => k.startsWith('matmul'));
      const variants: [string, (key: string) => boolean][] = [
        ...keys.map((k): [string, (key: string) => boolean] => [k, (key) => key === k]),
        ['every matmul', (key) => key.startsWith('matmul')],
        ['everything but barriers', (key) => key !== 'barrier'],
      ];
      for (const [name, drop] of variants) {
        if (name === 'every matmul' && matmuls.length < 2) continue;
        const c = new GeneratedCase(gpu, profile, ir, 'chunk', shape, {}, (p) => {
          const loop = chunkLoop(p);
          loop.body = dropStatements(loop.body, drop);
        });
        const ms = await time(gpu.device, c.record, reps);
        c.destroy();
        ablateRows.push({ spec: ir.name, dropped: name, ms, delta: base - ms });
        process.stderr.write(`  ablate ${ir.name} without ${name}: ${ms.toFixed(3)} ms (${(base - ms).toFixed(3)} less than ${base.toFixed(3)})\n`);
      }
      ablateRows.push({ spec: ir.name, dropped: '(nothing)', ms: base, delta: 0 });
    }
  }
  // --explore-softmax: the flash kernel's query and key tiles and workgroup sizes.
  if (process.argv.includes('--explore-softmax')) {
    const ir = loadSpec('stdlib/softmax.attn');
    const ref = new GeneratedCase(gpu, profile, ir, 'parallel', shape);
    const refOut = await ref.output();
    ref.destroy();
    const seen = new Set<string>();
    for (const threads of [256, 512, 1024])
      for (const chunk of [16, 32, 64])
        for (const BK of [16, 32, 64]) {
          let c: GeneratedCase;
          try {
            c = new GeneratedCase(gpu, profile, ir, 'parallel', shape, { chunk, tiles: { BK }, threads });
          } catch {
            continue;
          }
          await exploreVariant(ir.name, c, `${c.description.replace(/^[^;]*; /, '').replace(/ \(\d+ bytes.*$/, '')}, ${c.threads} threads`, refOut, seen);
        }
  }
  base.destroy();
  const err = await gpu.device.popErrorScope();
  if (err) {
    process.stderr.write(`WebGPU validation error: ${err.message}\n`);
    failed = true;
  }

  const o = process.stdout;
  o.write(`WebGPU benchmark — ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC — adapter: ${gpu.description}\n`);
  o.write(`shape B=${shape.B} T=${shape.T} H=${shape.H}, K=V=128 (softmax D=128), f32; median of ${reps}; ms per call (wall time of a batch of calls ÷ calls)\n\n`);
  o.write('| spec | form | ms/call | tokens/s | check | kernels |\n|---|---|---:|---:|---|---|\n');
  for (const r of rows) o.write(`| ${r.spec} | ${r.form} | ${r.ms.toFixed(3)} | ${rate(r.tokensPerSecond)} | ${r.check} | ${r.kernels} |\n`);
  o.write(`\nMemory traffic through this adapter: a copy kernel over ${copyBytes >> 20} MiB, with and without workgroup memory held per workgroup (GB/s = bytes read + written ÷ time)\n\n| kernel | ms/call | GB/s |\n|---|---:|---:|\n`);
  for (const r of bwRows) o.write(`| ${r.kernel} | ${r.ms.toFixed(3)} | ${r.gbs.toFixed(0)} |\n`);
  if (occRows.length) {
    o.write(`\nWorkgroups resident per compute unit (${units} units) by workgroup memory and workgroup size: 64 · t(1 per unit) ÷ t(64 per unit) for a fixed-length dependent chain\n\n| KiB | threads | ms, 1 per unit | ms, 64 per unit | resident per unit |\n|---:|---:|---:|---:|---:|\n`);
    for (const r of occRows) o.write(`| ${r.kib} | ${r.threads} | ${r.t1.toFixed(3)} | ${r.t64.toFixed(3)} | ${r.perUnit.toFixed(2)} |\n`);
  }
  if (kernelRows.length) {
    o.write('\nEach kernel alone (same shape; share = its time ÷ the whole program\'s)\n\n| spec | form | kernel | ms/call | share |\n|---|---|---|---:|---:|\n');
    for (const r of kernelRows) o.write(`| ${r.spec} | ${r.form} | ${r.kernel} | ${r.ms.toFixed(3)} | ${(100 * r.share).toFixed(0)} % |\n`);
  }
  if (sweepRows.length) {
    o.write('\nGated DeltaNet, H=16, K=V=128, f32: generated chunk kernel vs the token-sequential baseline\n\n');
    o.write('| shape | chunk ms | token-sequential ms | speed-up |\n|---|---:|---:|---:|\n');
    for (const s of sweepRows) o.write(`| B=${s.shape.B} T=${s.shape.T} | ${s.chunk.toFixed(3)} | ${s.baseline.toFixed(3)} | ${(s.baseline / s.chunk).toFixed(1)}× |\n`);
  }
  if (exploreRows.length) {
    o.write(`\nVariants of the chunk form (and of the flash softmax kernel, with --explore-softmax) at B=${shape.B} T=${shape.T} H=${shape.H}\n\n| spec | variant | ms/call | kernels |\n|---|---|---:|---|\n`);
    for (const r of exploreRows) o.write(`| ${r.spec} | ${r.variant} | ${r.ms.toFixed(3)} | ${r.kernels} |\n`);
  }
  if (ablateRows.length) {
    o.write(`\nThe chunk loop with one kind of statement dropped (garbage results; time saved = that statement's share) at B=${shape.B} T=${shape.T} H=${shape.H}\n\n| spec | dropped | ms/call | ms saved |\n|---|---|---:|---:|\n`);
    for (const r of ablateRows) o.write(`| ${r.spec} | ${r.dropped} | ${r.ms.toFixed(3)} | ${r.delta.toFixed(3)} |\n`);
  }
  if (jsonFile) writeFileSync(jsonFile, JSON.stringify({ date: new Date().toISOString(), adapter: gpu.description, shape, rows, bandwidth: bwRows, occupancy: occRows, kernels: kernelRows, sweep: sweepRows, explore: exploreRows, ablate: ablateRows }, null, 2));
  gpu.destroy();
  process.exit(failed ? 1 : 0);
}

await main();
