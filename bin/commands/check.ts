/**
 * `attnc check FILES…`: parse and check specs, then lower each clean spec to the attention IR so
 * that what lowering finds (an unclassifiable or non-linear state equation, a decay above 1, …)
 * is reported too; print every diagnostic. Planning for a target is `compile`'s and `explain`'s.
 */
import { sortDiagnostics } from '../../compiler/diagnostics/diagnostic.ts';
import { lower } from '../../compiler/ir/lower.ts';
import { expandPaths } from '../io.ts';
import { loadSpecFile } from '../load.ts';
import { countText, diagnosticsJson, EXIT, printDiagnostics, printJson } from '../output.ts';
import { parseDims } from '../options.ts';

export interface CheckCmdOptions {
  json?: boolean;
  dims?: string;
}

export function checkCommand(paths: string[], opts: CheckCmdOptions): number {
  const dims = parseDims(opts.dims);
  if (typeof dims === 'string') return usage(dims);
  const { files, diagnostics: ioDiags } = expandPaths(paths);
  const results = files.map((f) => {
    const r = loadSpecFile(f, { dims });
    if (!r.ok || !r.specs) return r;
    const lowered = r.specs.flatMap((spec) => lower(spec).diagnostics);
    if (!lowered.length) return r;
    const diagnostics = sortDiagnostics([...r.diagnostics, ...lowered]);
    return { ...r, diagnostics, ok: diagnostics.every((d) => d.severity !== 'error') };
  });
  const all = [...ioDiags, ...results.flatMap((r) => r.diagnostics)];
  if (opts.json) {
    printJson({
      ok: all.every((d) => d.severity !== 'error'),
      files: results.map((r) => ({ file: r.path, ok: r.ok, specs: (r.specs ?? []).map((s) => ({ name: s.name, family: s.family })), diagnostics: diagnosticsJson(r.diagnostics) })),
      diagnostics: diagnosticsJson(ioDiags),
    });
  } else {
    printDiagnostics(all);
    const nSpecs = results.reduce((n, r) => n + (r.specs?.length ?? 0), 0);
    process.stderr.write(`checked ${files.length} file${files.length === 1 ? '' : 's'} (${nSpecs} spec${nSpecs === 1 ? '' : 's'}): ${countText(all)}\n`);
  }
  return all.some((d) => d.severity === 'error') ? EXIT.diagnostics : EXIT.ok;
}

function usage(msg: string): number {
  process.stderr.write(`attnc: ${msg}\n`);
  return EXIT.usage;
}
