/** Source → attention IR in one call (front end + lowering), for the CLI, the API and the tests. */
import type { CheckOptions } from './check/checker.ts';
import { hasErrors, sortDiagnostics, type Diagnostic } from './diagnostics/diagnostic.ts';
import { parseAndCheckFile } from './frontend.ts';
import type { AttentionIR } from './ir/attention-ir.ts';
import { lower } from './ir/lower.ts';

export interface LoweredFile {
  irs: AttentionIR[];
  diagnostics: Diagnostic[];
  ok: boolean;
}

export function lowerSource(text: string, name: string, opts: CheckOptions = {}): LoweredFile {
  const fe = parseAndCheckFile(text, name, opts);
  const diagnostics = [...fe.diagnostics];
  const irs: AttentionIR[] = [];
  if (fe.ok) {
    for (const s of fe.specs) {
      const l = lower(s);
      diagnostics.push(...l.diagnostics);
      if (l.ir) irs.push(l.ir);
    }
  }
  const sorted = sortDiagnostics(diagnostics);
  return { irs, diagnostics: sorted, ok: !hasErrors(sorted) && irs.length === fe.specs.length && fe.ok };
}
