/**
 * The CUDA backend: plan a spec for a CUDA profile and print its artefacts —
 *   NAME.cu              kernels (from the kernel IR, through the C-like printer) and host launchers
 *   NAME.h               the C ABI (args struct, status codes, functions)
 *   NAME.manifest.json   inputs, shapes, dtypes, params, form, kernels, launch bounds, workspace
 *   NAME_torch.py        a PyTorch loader (FLA conventions) over the C ABI
 */
import type { Diagnostic } from '../../compiler/diagnostics/diagnostic.ts';
import { diag } from '../../compiler/diagnostics/diagnostic.ts';
import type { AttentionIR } from '../../compiler/ir/attention-ir.ts';
import type { Dtype } from '../../compiler/kernel-ir/types.ts';
import { plan, type PlanResult } from '../../compiler/passes/pipeline.ts';
import type { KernelForm, PlanOptions, TileRequest } from '../../compiler/passes/plan.ts';
import { shapeCondition, shapeVariants } from '../../compiler/passes/shape-plans.ts';
import { PROFILES, type TargetProfile } from '../../compiler/targets/profiles.ts';
import { cudaProgram, type CudaProgram } from './program.ts';
import { torchLoader } from './torch.ts';

export { cudaProgram, hostExpr, STATUS } from './program.ts';
export { emitCudaKernel } from './emit.ts';

export interface CudaCompileOptions {
  /** A CUDA profile name (cuda-sm80, cuda-sm90) or object; default cuda-sm90. */
  profile?: string | TargetProfile;
  /** Storage type of inputs and outputs (default bf16). */
  dtype?: Dtype;
  form?: KernelForm;
  chunk?: number;
  /** Requested tiles instead of the tiling pass's choice (PlanOptions.tiles). */
  tiles?: TileRequest;
  /** The spec's file name, for comments. */
  source?: string;
  /**
   * The profile's shape plans (plans for some run shapes, compiled beside the default one and taken
   * by the launchers at run time; compiler/passes/shape-plans.ts): default true; false compiles the
   * default plan alone (measurements).
   */
  shapePlans?: boolean;
  /** Further plan options, for measurements (PlanOptions: segmentChunks, outputKernel, …). */
  plan?: Omit<PlanOptions, 'dtype' | 'form' | 'chunk' | 'tiles'>;
}

export interface CudaCompileResult {
  files: { path: string; contents: string }[];
  diagnostics: Diagnostic[];
  plan?: PlanResult;
  /** The shape plans compiled beside the default one (their plans). */
  shapePlans?: PlanResult[];
  program?: CudaProgram;
}

/** Files are named after the spec: NAME.cu, NAME.h, NAME.manifest.json, NAME_torch.py. */
export function compileCuda(ir: AttentionIR, o: CudaCompileOptions = {}): CudaCompileResult {
  const profName = o.profile ?? 'cuda-sm90';
  const prof = typeof profName === 'string' ? PROFILES[profName] : profName;
  const where = ir.source ? { source: ir.source } : {};
  if (!prof) {
    const cuda = Object.values(PROFILES).filter((p) => p.backend === 'cuda').map((p) => p.name);
    return { files: [], diagnostics: [diag('UnknownTarget', ir.span, [String(profName), cuda.join(', ')], where)] };
  }
  if (prof.backend !== 'cuda') return { files: [], diagnostics: [diag('FormUnsupported', ir.span, ['cuda', ir.name, `'${prof.name}' is a ${prof.backend} profile; use cuda-sm80 or cuda-sm90`], where)] };
  const dtype = o.dtype ?? 'bf16';
  const options: PlanOptions = { ...(o.plan ?? {}), dtype, ...(o.form ? { form: o.form } : {}), ...(o.chunk ? { chunk: o.chunk } : {}), ...(o.tiles ? { tiles: o.tiles } : {}) };
  const p = plan(ir, prof, options);
  if (!p.program) return { files: [], diagnostics: p.diagnostics, plan: p };
  const variants = o.shapePlans === false ? [] : shapeVariants(ir, prof, options, p);
  const alternates = variants.map((v) => ({ shape: v.shape, program: v.result.program! }));
  const prog = cudaProgram(ir, p.program, { profile: prof, dtype, alternates, ...(o.source ? { source: o.source } : {}) });
  // After the program is printed (its notes say the same with the kernels' names): for the CLI.
  for (const v of variants) p.notes.push(`shape plan ${v.shape.tag} for ${shapeCondition(v.shape)} (${v.shape.why}): ${v.result.tiling?.why ?? 'planned'}`);
  const torch = torchLoader(ir, { name: prog.name, fields: prog.fields, kernels: prog.kernels, profile: prof, dtype, arch: prog.manifest.arch });
  const files = [
    { path: `${ir.name}.cu`, contents: prog.cu },
    { path: `${ir.name}.h`, contents: prog.header },
    { path: `${ir.name}.manifest.json`, contents: JSON.stringify(prog.manifest, null, 2) + '\n' },
    { path: `${ir.name}_torch.py`, contents: torch },
  ];
  return { files, diagnostics: p.diagnostics, plan: p, shapePlans: variants.map((v) => v.result), program: prog };
}
