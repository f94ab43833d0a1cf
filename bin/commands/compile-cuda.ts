/** CUDA artefacts for `attnc compile --target cuda` (backends/cuda): NAME.cu, NAME.h, NAME.manifest.json, NAME_torch.py under NAME/cuda/. */
import { compileCuda } from '../../backends/cuda/index.ts';
import type { Artifact } from '../../compiler/compile.ts';
import type { Diagnostic } from '../../compiler/diagnostics/diagnostic.ts';
import type { AttentionIR } from '../../compiler/ir/attention-ir.ts';
import type { Dtype } from '../../compiler/kernel-ir/types.ts';
import type { KernelForm } from '../../compiler/passes/plan.ts';

export interface CudaArtifactOptions {
  /** cuda-sm80 or cuda-sm90 (default). */
  profile?: string;
  form?: KernelForm;
  chunk?: number;
  /** Storage type of inputs and outputs (default bf16). */
  dtype?: Dtype;
  specText?: string;
  /** The spec's file name, for comments. */
  source?: string;
}

export function cudaArtifacts(ir: AttentionIR, o: CudaArtifactOptions): { artifacts: Artifact[]; diagnostics: Diagnostic[] } {
  const r = compileCuda(ir, {
    profile: o.profile ?? 'cuda-sm90',
    dtype: o.dtype ?? 'bf16',
    ...(o.form ? { form: o.form } : {}),
    ...(o.chunk ? { chunk: o.chunk } : {}),
    ...(o.source ? { source: o.source } : {}),
  });
  return { artifacts: r.files.map((f) => ({ path: `${ir.name}/cuda/${f.path}`, contents: f.contents })), diagnostics: r.diagnostics };
}
