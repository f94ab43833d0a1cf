/**
 * `attnc run --backend webgpu`: compile the spec for the default adapter (the device's own limits
 * and features), run it through Dawn, and with --check compare it with the float64 reference.
 */
import { webgpuManifest } from '../../backends/wgsl/manifest.ts';
import { deviceProfile, nodeGpu } from '../../backends/wgsl/node-device.ts';
import { AttentionKernels } from '../../backends/wgsl/runtime.ts';
import type { AttentionIR } from '../../compiler/ir/attention-ir.ts';
import { interpret } from '../../compiler/interp/interpret.ts';
import { validateInputs, type RunInputs } from '../../compiler/interp/inputs.ts';
import { compareTensors } from '../../compiler/interp/tensor.ts';
import { plan } from '../../compiler/passes/pipeline.ts';
import type { KernelForm, TileRequest } from '../../compiler/passes/plan.ts';
import { PROFILES } from '../../compiler/targets/profiles.ts';
import { diagnosticsJson, EXIT, printDiagnostics, printJson } from '../output.ts';

export interface WebGpuRunOptions {
  form?: string;
  chunkSize?: number;
  /** Tiles instead of the planner's choice (--tiles, parsed). */
  tiles?: TileRequest;
  check?: boolean;
  json?: boolean;
  dtype?: string;
  profile?: string;
}

export async function runWebGpuCommand(ir: AttentionIR, run: RunInputs, opts: WebGpuRunOptions): Promise<number> {
  const v = validateInputs(ir, run);
  if (!v.shape) {
    if (opts.json) printJson({ ok: false, diagnostics: diagnosticsJson(v.diagnostics) });
    else printDiagnostics(v.diagnostics);
    return EXIT.diagnostics;
  }
  const shape = v.shape;
  let gpu;
  try {
    gpu = await nodeGpu();
  } catch (e) {
    if (opts.json) printJson({ ok: false, backend: 'webgpu', error: (e as Error).message });
    else process.stderr.write(`attnc: ${(e as Error).message}\n`);
    return EXIT.diagnostics;
  }
  try {
    const base = PROFILES[opts.profile ?? 'webgpu-large']!;
    const profile = deviceProfile(base, gpu.device);
    const dtype = (opts.dtype ?? 'f32') as 'f32' | 'f16';
    const form = opts.form as KernelForm | undefined;
    // Plan against the device's own limits and features.
    const p = plan(ir, profile, { ...(form ? { form } : {}), ...(opts.chunkSize ? { chunk: opts.chunkSize } : {}), ...(opts.tiles ? { tiles: opts.tiles } : {}), dtype, shape: { B: shape.B, T: shape.T, H: shape.H } });
    if (!p.program) {
      if (opts.json) printJson({ ok: false, spec: ir.name, backend: 'webgpu', adapter: gpu.description, diagnostics: diagnosticsJson(p.diagnostics) });
      else printDiagnostics(p.diagnostics);
      return EXIT.diagnostics;
    }
    const kernels = new AttentionKernels(gpu.device, webgpuManifest(ir, p.program, profile, dtype));
    const messages = await kernels.compilationMessages();
    const tensors = Object.fromEntries(Object.entries(run.tensors).map(([n, t]) => [n, t.data]));
    const dims = { B: shape.B, T: shape.T, H: shape.H, heads: shape.heads, ...(run.cuSeqlens ? { cuSeqlens: run.cuSeqlens } : {}) };
    const init = run.initialState ? { S: run.initialState.S.data, ...(run.initialState.z ? { z: run.initialState.z.data } : {}), ...(run.initialState.m ? { m: run.initialState.m.data } : {}) } : undefined;
    gpu.device.pushErrorScope('validation');
    await kernels.run(tensors, dims, init); // warm-up: pipelines
    const t0 = performance.now();
    const res = await kernels.run(tensors, dims, init);
    const ms = performance.now() - t0;
    const err = await gpu.device.popErrorScope();
    kernels.destroy();
    if (err) {
      if (opts.json) printJson({ ok: false, spec: ir.name, backend: 'webgpu', adapter: gpu.description, error: `WebGPU validation error: ${err.message}` });
      else process.stderr.write(`attnc: WebGPU validation error: ${err.message}\n`);
      return EXIT.diagnostics;
    }
    let check: { relErr: number; maxAbs: number; tolerance: number; ok: boolean } | undefined;
    if (opts.check) {
      const ref = interpret(ir, run, { form: 'recurrent' });
      const c = compareTensors(Float64Array.from(res.output), ref.output!.data);
      const tolerance = dtype === 'f32' ? 1e-4 : 5e-3;
      check = { ...c, tolerance, ok: c.relErr <= tolerance };
    }
    const ok = messages.length === 0 && (!check || check.ok) && res.output.every(Number.isFinite);
    if (opts.json) {
      printJson({ ok, spec: ir.name, backend: 'webgpu', adapter: gpu.description, form: p.form, dtype, tiling: p.tiling, shape: { B: shape.B, T: shape.T, H: shape.H }, ms, check: check ?? null, compilationMessages: messages, notes: p.notes });
    } else {
      const o = process.stdout;
      o.write(`${ir.name}: webgpu backend on ${gpu.description}\n`);
      o.write(`  ${p.form} form, ${dtype}, B=${shape.B} T=${shape.T} H=${shape.H}; ${p.tiling!.why}\n`);
      o.write(`  ${p.program.kernels.length} kernel${p.program.kernels.length === 1 ? '' : 's'}: ${p.program.kernels.map((k) => k.name).join(', ')}\n`);
      o.write(`  time ${ms.toFixed(2)} ms per call (upload, run and read back)\n`);
      for (const m of messages) o.write(`  shader message (${m.kernel}): ${m.type} ${m.message}\n`);
      if (check) o.write(`  vs the float64 reference: relative error ${check.relErr.toExponential(2)} (tolerance ${check.tolerance}), max abs ${check.maxAbs.toExponential(2)} — ${check.ok ? 'ok' : 'FAILED'}\n`);
    }
    return ok ? EXIT.ok : EXIT.diagnostics;
  } finally {
    gpu.destroy();
  }
}
