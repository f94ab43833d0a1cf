/** `attnc explain FILE`: the attention IR (and, with --target, the kernel plan). */
import { printIR } from '../../compiler/ir/print.ts';
import { diagnosticsJson, EXIT, printDiagnostics, printJson } from '../output.ts';
import { badChoice, DTYPES, FORMS, parseChunk, parseDims, parseTiles } from '../options.ts';
import { loadIR, printWarnings } from '../load-ir.ts';
import { printTExpr } from '../../compiler/ir/print.ts';
import { plan, PASS_NAMES } from '../../compiler/passes/pipeline.ts';
import { printPlan } from '../../compiler/passes/print-plan.ts';
import type { KernelForm } from '../../compiler/passes/plan.ts';
import type { Dtype } from '../../compiler/kernel-ir/types.ts';

export interface ExplainCmdOptions {
  dims?: string;
  spec?: string;
  json?: boolean;
  target?: string;
  dumpAfter?: string;
  form?: string;
  dtype?: string;
  tiles?: string;
  chunk?: string;
}

function usage(msg: string): number {
  process.stderr.write(`attnc: ${msg}\n`);
  return EXIT.usage;
}

export function explainCommand(file: string, opts: ExplainCmdOptions): number {
  const dims = parseDims(opts.dims);
  if (typeof dims === 'string') return usage(dims);
  // The same value lists as compile's (bin/options.ts); checked even without --target.
  const bad = badChoice('--form', opts.form, FORMS) ?? badChoice('--dtype', opts.dtype, DTYPES);
  if (bad) return usage(bad);
  const tiles = parseTiles(opts.tiles);
  if (typeof tiles === 'string') return usage(tiles);
  const chunk = parseChunk(opts.chunk);
  if (typeof chunk === 'string') return usage(chunk);
  const l = loadIR(file, { ...(dims ? { dims } : {}), ...(opts.spec ? { spec: opts.spec } : {}) });
  if (l.usage) return usage(l.usage);
  if (!l.ir) {
    if (opts.json) printJson({ ok: false, diagnostics: diagnosticsJson(l.diagnostics) });
    else printDiagnostics(l.diagnostics);
    return EXIT.diagnostics;
  }
  const ir = l.ir;
  // --form and --dtype choose a plan too: without --target they plan for webgpu-default.
  if (opts.target || opts.dumpAfter || tiles || chunk || opts.form || opts.dtype) {
    const form = opts.form as KernelForm | undefined;
    const st = plan(ir, opts.target ?? 'webgpu-default', { ...(form ? { form } : {}), ...(opts.dtype ? { dtype: opts.dtype as Dtype } : {}), ...(tiles ? { tiles } : {}), ...(chunk ? { chunk } : {}) }, opts.dumpAfter ?? PASS_NAMES[PASS_NAMES.length - 1], printPlan);
    const failed = st.diagnostics.some((d) => d.severity === 'error');
    if (opts.json && failed) {
      printJson({ ok: false, diagnostics: diagnosticsJson(st.diagnostics) });
      return EXIT.diagnostics;
    }
    if (st.diagnostics.length) printDiagnostics(st.diagnostics);
    if (failed) return EXIT.diagnostics;
    if (opts.json) printJson({ ok: true, form: st.form, tiling: st.tiling, notes: st.notes, kernels: st.program?.kernels.map((k) => ({ name: k.name, threads: k.threads, tiles: k.tiles, buffers: k.buffers.map((x) => x.name) })) });
    else process.stdout.write((st.dump ?? printPlan(st)) + '\n');
    return EXIT.ok;
  }
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
