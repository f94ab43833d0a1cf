/**
 * `attnc bench FILE`: time a spec's WebGPU kernels on this machine's adapter — a thin wrapper over
 * the generated runtime. Two figures per shape, each the median of --repeats calls after --warmup:
 *   run     `run(tensors, dims)`: upload, dispatch, read back (what a simple caller sees);
 *   encode  `encode(encoder, buffers, dims)` + submit + onSubmittedWorkDone, buffers resident
 *           (the kernels alone, as a model that keeps its tensors on the GPU sees them).
 */
import { webgpuManifest } from '../../backends/wgsl/manifest.ts';
import { deviceProfile, nodeGpu } from '../../backends/wgsl/node-device.ts';
import { AttentionKernels, floatToHalf, padTo4 } from '../../backends/wgsl/runtime.ts';
import { randomInputs } from '../../compiler/interp/random.ts';
import { plan } from '../../compiler/passes/pipeline.ts';
import type { KernelForm } from '../../compiler/passes/plan.ts';
import { PROFILES } from '../../compiler/targets/profiles.ts';
import { diagnosticsJson, EXIT, printDiagnostics, printJson } from '../output.ts';
import { badChoice, DEFAULT_WEBGPU_PROFILE, FORMS, parseAssignments, parseChunk, parseDims, parseTiles, WEBGPU_DTYPES, WEBGPU_PROFILES } from '../options.ts';
import { loadIR, printWarnings } from '../load-ir.ts';

export interface BenchCmdOptions {
  shape?: string;
  dims?: string;
  repeats?: string;
  warmup?: string;
  dtype?: string;
  form?: string;
  chunk?: string;
  tiles?: string;
  profile?: string;
  spec?: string;
  json?: boolean;
}

const usage = (m: string) => {
  process.stderr.write(`attnc: ${m}\n`);
  return EXIT.usage;
};

const USAGE_STORAGE = 0x0080;
const USAGE_COPY_SRC = 0x0004;
const USAGE_COPY_DST = 0x0008;

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export async function benchCommand(file: string, o: BenchCmdOptions): Promise<number> {
  const dims = parseDims(o.dims);
  if (typeof dims === 'string') return usage(dims);
  const shape = parseAssignments(o.shape ?? 'B=1,T=256,H=2', '--shape');
  if (typeof shape === 'string') return usage(shape);
  for (const k of Object.keys(shape)) if (!['B', 'T', 'H'].includes(k)) return usage(`--shape takes B, T and H, found '${k}'`);
  const B = shape['B'] ?? 1;
  const T = shape['T'] ?? 256;
  const H = shape['H'] ?? 2;
  if (!(B > 0 && T > 0 && H > 0)) return usage('--shape: B, T and H must be positive');
  const repeats = Number(o.repeats ?? 10);
  const warmup = Number(o.warmup ?? 2);
  if (!(Number.isInteger(repeats) && repeats > 0)) return usage('--repeats takes a positive integer');
  if (!(Number.isInteger(warmup) && warmup >= 0)) return usage('--warmup takes a non-negative integer');
  const bad = badChoice('--dtype', o.dtype, WEBGPU_DTYPES, ' on WebGPU') ?? badChoice('--form', o.form, FORMS) ?? badChoice('--profile', o.profile, WEBGPU_PROFILES, ' (a WebGPU profile)');
  if (bad) return usage(bad);
  const chunk = parseChunk(o.chunk);
  if (typeof chunk === 'string') return usage(chunk);
  const tiles = parseTiles(o.tiles);
  if (typeof tiles === 'string') return usage(tiles);
  const base = PROFILES[o.profile ?? DEFAULT_WEBGPU_PROFILE]!;

  const l = loadIR(file, { ...(dims ? { dims } : {}), ...(o.spec ? { spec: o.spec } : {}) });
  if (l.usage) return usage(l.usage);
  if (!l.ir) return fail(l.diagnostics, o);
  if (!o.json) printWarnings(l.diagnostics);
  const ir = l.ir;

  let gpu;
  try {
    gpu = await nodeGpu();
  } catch (e) {
    if (o.json) printJson({ ok: false, error: (e as Error).message });
    else process.stderr.write(`attnc: ${(e as Error).message}\n`);
    return EXIT.diagnostics;
  }
  try {
    const dev = gpu.device;
    const profile = deviceProfile(base, dev);
    const dtype = (o.dtype ?? 'f32') as 'f32' | 'f16';
    const p = plan(ir, profile, { ...(o.form ? { form: o.form as KernelForm } : {}), ...(chunk ? { chunk } : {}), ...(tiles ? { tiles } : {}), dtype, shape: { B, T, H } });
    if (!p.program) return fail(p.diagnostics, o);
    const manifest = webgpuManifest(ir, p.program, profile, dtype);
    const kernels = new AttentionKernels(dev, manifest);
    const inputs = randomInputs(ir, { B, T, H, seed: 0 });
    const tensors = Object.fromEntries(Object.entries(inputs.tensors).map(([n, t]) => [n, Float32Array.from(t.data)]));
    const runDims = { B, T, H };
    dev.pushErrorScope('validation');
    dev.pushErrorScope('out-of-memory');

    // run(): upload, dispatch, read back.
    for (let i = 0; i < warmup; i++) await kernels.run(tensors, runDims);
    const runMs: number[] = [];
    for (let i = 0; i < repeats; i++) {
      const t0 = performance.now();
      await kernels.run(tensors, runDims);
      runMs.push(performance.now() - t0);
    }

    // encode(): resident buffers, the kernels alone.
    const sizes = kernels.bufferSizes(runDims);
    const buffers: Record<string, GPUBuffer> = {};
    for (const [name, bytes] of Object.entries(sizes)) {
      if (name.startsWith('initial_') || name.startsWith('final_')) continue;
      const buf = dev.createBuffer({ size: Math.max(4, Math.ceil(bytes / 4) * 4), usage: USAGE_STORAGE | USAGE_COPY_DST | USAGE_COPY_SRC, label: name });
      const data = tensors[name];
      if (data) {
        const b = manifest.buffers.find((x) => x.name === `in_${name}` || x.name === `p_${name}`);
        const host = b?.dtype === 'i32' ? Int32Array.from(data) : b?.dtype === 'f16' ? floatToHalf(data) : data;
        // writeBuffer takes whole 4-byte words (an odd count of f16 values is padded).
        dev.queue.writeBuffer(buf, 0, padTo4(host as ArrayBufferView) as unknown as GPUAllowSharedBufferSource);
      }
      buffers[name] = buf;
    }
    const once = async () => {
      const enc = dev.createCommandEncoder();
      kernels.encode(enc, buffers, runDims);
      dev.queue.submit([enc.finish()]);
      await dev.queue.onSubmittedWorkDone();
    };
    for (let i = 0; i < warmup; i++) await once();
    const encMs: number[] = [];
    for (let i = 0; i < repeats; i++) {
      const t0 = performance.now();
      await once();
      encMs.push(performance.now() - t0);
    }
    const oom = await dev.popErrorScope();
    const invalid = await dev.popErrorScope();
    for (const b of Object.values(buffers)) b.destroy();
    kernels.destroy();
    if (oom || invalid) {
      const message = `WebGPU ${invalid ? 'validation' : 'out-of-memory'} error: ${(invalid ?? oom)!.message}`;
      if (o.json) printJson({ ok: false, spec: ir.name, adapter: gpu.description, error: message });
      else process.stderr.write(`attnc: ${message}\n`);
      return EXIT.diagnostics;
    }
    const tokens = B * T;
    const run = { msPerCall: median(runMs), tokensPerSecond: tokens / (median(runMs) / 1000), samplesMs: runMs };
    const encode = { msPerCall: median(encMs), tokensPerSecond: tokens / (median(encMs) / 1000), samplesMs: encMs };
    if (o.json) {
      printJson({ ok: true, spec: ir.name, adapter: gpu.description, form: p.form, dtype, tiling: p.tiling, kernels: manifest.kernels.map((k) => k.name), shape: { B, T, H, K: ir.keyDim, V: ir.valueDim }, repeats, warmup, run, encode });
    } else {
      const out = process.stdout;
      out.write(`${ir.name}: ${p.form} form, ${dtype}, B=${B} T=${T} H=${H} K=${ir.keyDim} V=${ir.valueDim} on ${gpu.description}\n`);
      out.write(`  ${manifest.kernels.length} kernel${manifest.kernels.length === 1 ? '' : 's'}: ${manifest.kernels.map((k) => k.name).join(', ')}\n`);
      out.write(`  tiling: ${p.tiling!.why}\n`);
      out.write(`  median of ${repeats} after ${warmup} warm-up call${warmup === 1 ? '' : 's'}:\n`);
      out.write(`  run     (upload, dispatch, read back)  ${run.msPerCall.toFixed(3).padStart(10)} ms/call  ${fmtRate(run.tokensPerSecond)} tokens/s\n`);
      out.write(`  encode  (resident buffers, kernels)    ${encode.msPerCall.toFixed(3).padStart(10)} ms/call  ${fmtRate(encode.tokensPerSecond)} tokens/s\n`);
    }
    return EXIT.ok;
  } finally {
    gpu.destroy();
  }
}

function fmtRate(x: number): string {
  return x >= 1e6 ? `${(x / 1e6).toFixed(2)}M` : x >= 1e3 ? `${(x / 1e3).toFixed(1)}k` : x.toFixed(0);
}

function fail(ds: Parameters<typeof printDiagnostics>[0], o: BenchCmdOptions): number {
  if (o.json) printJson({ ok: false, diagnostics: diagnosticsJson(ds) });
  else printDiagnostics(ds);
  return EXIT.diagnostics;
}
