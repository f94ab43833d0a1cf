/** Load one spec file to attention IRs for the commands that need the IR (explain, run, compile). */
import type { AttentionIR } from '../compiler/ir/attention-ir.ts';
import { lowerSource } from '../compiler/pipeline.ts';
import { readText } from './io.ts';
import { printDiagnostics } from './output.ts';
import type { Diagnostic } from '../compiler/diagnostics/diagnostic.ts';

export interface LoadedIR {
  ir?: AttentionIR;
  diagnostics: Diagnostic[];
  /** A message for a usage problem (exit 2). */
  usage?: string;
}

export function loadIR(path: string, opts: { dims?: Record<string, number>; spec?: string }): LoadedIR {
  const r = readText(path);
  if (r.diagnostic) return { diagnostics: [r.diagnostic] };
  const l = lowerSource(r.text!, path, opts.dims ? { dims: opts.dims } : {});
  if (!l.ok) return { diagnostics: l.diagnostics };
  const ir = opts.spec ? l.irs.find((i) => i.name === opts.spec) : l.irs[0];
  if (!ir) return { diagnostics: l.diagnostics, usage: `no spec named '${opts.spec}' in ${path} (it has: ${l.irs.map((i) => i.name).join(', ')})` };
  return { ir, diagnostics: l.diagnostics };
}

/** Print warnings that came with a successful load. */
export function printWarnings(ds: Diagnostic[]): void {
  const w = ds.filter((d) => d.severity !== 'error');
  if (w.length) printDiagnostics(w);
}
