/**
 * Compile an attention IR to artefacts for targets: WGSL kernels with their manifest, TypeScript
 * bindings, and CUDA sources (backends/cuda: NAME.cu, NAME.h, NAME.manifest.json, NAME_torch.py).
 * No Node-only imports: the programmatic API and the CLI both compile through here.
 */
import { webgpuManifest, type WebGpuManifest } from '../backends/wgsl/manifest.ts';
import { tsBindings } from '../backends/ts/bindings.ts';
import { compileCuda } from '../backends/cuda/index.ts';
import type { Diagnostic } from './diagnostics/diagnostic.ts';
import type { AttentionIR } from './ir/attention-ir.ts';
import type { Dtype } from './kernel-ir/types.ts';
import { plan, type PlanResult } from './passes/pipeline.ts';
import type { KernelForm, TileRequest } from './passes/plan.ts';
import { PROFILES, type TargetProfile } from './targets/profiles.ts';

export type TargetKind = 'wgsl' | 'ts' | 'cuda';

export interface CompileOptions {
  targets: TargetKind[];
  /** WebGPU profile (default webgpu-large) and CUDA profile (default cuda-sm90). */
  webgpuProfile?: string | TargetProfile;
  cudaProfile?: string | TargetProfile;
  form?: KernelForm;
  /** Storage type of inputs and outputs: default f32 for WebGPU (bf16 falls back to f32 there), bf16 for CUDA. */
  dtype?: Dtype;
  chunk?: number;
  /** Requested tiles (BV, BK) instead of the tiling pass's choice, for both plans. */
  tiles?: TileRequest;
  /** The spec's source text, embedded in bindings and packages. */
  specText?: string;
  source?: string;
}

export interface Artifact {
  /** File name relative to the output folder. */
  path: string;
  contents: string;
}

export interface CompileOutput {
  artifacts: Artifact[];
  diagnostics: Diagnostic[];
  manifest?: WebGpuManifest;
  /** The WebGPU plan (wgsl, ts targets), then the CUDA plan (cuda target); each names its `target`. */
  plans: PlanResult[];
}

/** The plans' notes; with several plans each note says which target profile it is about. */
export function planNotes(plans: readonly PlanResult[]): string[] {
  return plans.flatMap((p) => (plans.length > 1 ? p.notes.map((n) => `${p.target?.name ?? '?'}: ${n}`) : p.notes));
}

export function compileIR(ir: AttentionIR, o: CompileOptions): CompileOutput {
  const out: CompileOutput = { artifacts: [], diagnostics: [], plans: [] };
  const common = { ...(o.form ? { form: o.form } : {}), ...(o.chunk ? { chunk: o.chunk } : {}), ...(o.tiles ? { tiles: o.tiles } : {}), ...(o.dtype ? { dtype: o.dtype } : {}) };
  if (o.targets.includes('wgsl') || o.targets.includes('ts')) {
    const prof = o.webgpuProfile ?? 'webgpu-large';
    const p = plan(ir, prof, common);
    out.plans.push(p);
    out.diagnostics.push(...p.diagnostics);
    if (p.program) {
      const target = typeof prof === 'string' ? PROFILES[prof]! : prof;
      const m = webgpuManifest(ir, p.program, target, o.dtype === 'f16' && target.features.f16 ? 'f16' : 'f32');
      out.manifest = m;
      if (o.targets.includes('wgsl')) {
        for (const k of m.kernels) out.artifacts.push({ path: `${ir.name}/${k.name}.wgsl`, contents: k.code });
        out.artifacts.push({ path: `${ir.name}/${ir.name}.manifest.json`, contents: JSON.stringify(m, null, 2) + '\n' });
      }
      if (o.targets.includes('ts')) out.artifacts.push({ path: `${ir.name}/${ir.name}.ts`, contents: tsBindings({ manifest: m, specText: o.specText ?? '', ...(o.source ? { source: o.source } : {}) }) });
    }
  }
  if (o.targets.includes('cuda')) {
    const c = compileCuda(ir, {
      profile: o.cudaProfile ?? 'cuda-sm90',
      dtype: o.dtype ?? 'bf16',
      ...(o.form ? { form: o.form } : {}),
      ...(o.chunk ? { chunk: o.chunk } : {}),
      ...(o.tiles ? { tiles: o.tiles } : {}),
      ...(o.source ? { source: o.source } : {}),
    });
    if (c.plan) out.plans.push(c.plan);
    // Both plans report what the spec itself lacks (e.g. a form it has not): say it once.
    const seen = new Set(out.diagnostics.map(diagnosticKey));
    out.diagnostics.push(...c.diagnostics.filter((d) => !seen.has(diagnosticKey(d))));
    out.artifacts.push(...c.files.map((f) => ({ path: `${ir.name}/cuda/${f.path}`, contents: f.contents })));
  }
  return out;
}

const diagnosticKey = (d: Diagnostic) => `${d.code} ${d.span.start} ${d.span.end} ${d.message}`;
