/** `attnc explain FILE`: the attention IR (and, with --target, the kernel plan). */
import { printIR } from '../../compiler/ir/print.ts';
import { diagnosticsJson, EXIT, printDiagnostics, printJson } from '../output.ts';
import { parseDims } from '../options.ts';
import { loadIR, printWarnings } from '../load-ir.ts';
import { printTExpr } from '../../compiler/ir/print.ts';

export interface ExplainCmdOptions {
  dims?: string;
  spec?: string;
  json?: boolean;
}

export function explainCommand(file: string, opts: ExplainCmdOptions): number {
  const dims = parseDims(opts.dims);
  if (typeof dims === 'string') {
    process.stderr.write(`attnc: ${dims}\n`);
    return EXIT.usage;
  }
  const l = loadIR(file, { ...(dims ? { dims } : {}), ...(opts.spec ? { spec: opts.spec } : {}) });
  if (l.usage) {
    process.stderr.write(`attnc: ${l.usage}\n`);
    return EXIT.usage;
  }
  if (!l.ir) {
    if (opts.json) printJson({ ok: false, diagnostics: diagnosticsJson(l.diagnostics) });
    else printDiagnostics(l.diagnostics);
    return EXIT.diagnostics;
  }
  const ir = l.ir;
  if (opts.json) {
    const u = ir.update;
    printJson({
      ok: true,
      name: ir.name,
      family: ir.family,
      dims: ir.dims,
      keyDim: ir.keyDim,
      valueDim: ir.valueDim,
      features: { q: printTExpr(ir.features.q), k: printTExpr(ir.features.k), v: printTExpr(ir.features.v) },
      gate: { class: ir.gate.cls, expr: ir.gate.expr ? printTExpr(ir.gate.expr) : null },
      update: u ? { class: u.cls } : null,
      read: ir.read.kind,
      normalizer: ir.normalizer,
      score: ir.score ? printTExpr(ir.score) : null,
      weight: ir.weight ?? null,
      mask: printTExpr(ir.mask),
      direction: ir.direction,
      chunk: ir.chunk,
      forms: ir.forms,
      unavailable: ir.unavailable,
      classification: ir.classification ?? null,
      diagnostics: diagnosticsJson(l.diagnostics),
    });
  } else {
    printWarnings(l.diagnostics);
    process.stdout.write(printIR(ir) + '\n');
  }
  return EXIT.ok;
}
