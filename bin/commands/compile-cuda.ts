/** CUDA artefacts for `attnc compile --target cuda` (the CUDA backend fills this in). */
import type { Artifact } from '../../compiler/compile.ts';
import type { Diagnostic } from '../../compiler/diagnostics/diagnostic.ts';
import { diag } from '../../compiler/diagnostics/diagnostic.ts';
import type { AttentionIR } from '../../compiler/ir/attention-ir.ts';

export function cudaArtifacts(ir: AttentionIR, _o: object): { artifacts: Artifact[]; diagnostics: Diagnostic[] } {
  return { artifacts: [], diagnostics: [diag('FormUnsupported', ir.span, ['cuda', ir.name, 'the CUDA backend is not built yet'], ir.source ? { source: ir.source } : {})] };
}
