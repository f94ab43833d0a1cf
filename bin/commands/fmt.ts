/** `attnc fmt [--check] FILES…`: canonical layout, comments kept. */
import { writeFileSync } from 'node:fs';
import { diag, hasErrors, type Diagnostic } from '../../compiler/diagnostics/diagnostic.ts';
import { SourceFile } from '../../compiler/diagnostics/source.ts';
import { format } from '../../dsl/format.ts';
import { parse } from '../../dsl/parse.ts';
import { expandPaths, readText } from '../io.ts';
import { diagnosticsJson, EXIT, printDiagnostics, printJson } from '../output.ts';

export interface FmtCmdOptions {
  check?: boolean;
  stdout?: boolean;
  json?: boolean;
}

export function fmtCommand(paths: string[], opts: FmtCmdOptions): number {
  const { files, diagnostics } = expandPaths(paths);
  const all: Diagnostic[] = [...diagnostics];
  const changed: string[] = [];
  for (const f of files.filter((x) => !x.endsWith('.json'))) {
    const r = readText(f);
    if (r.diagnostic) {
      all.push(r.diagnostic);
      continue;
    }
    const source = new SourceFile(f, r.text!);
    const p = parse(source);
    if (hasErrors(p.diagnostics)) {
      all.push(...p.diagnostics);
      continue;
    }
    const out = format(p.file, source);
    if (opts.stdout) process.stdout.write(out);
    if (out === r.text) continue;
    changed.push(f);
    if (opts.check) all.push(diag('NotFormatted', { start: 0, end: 0 }, [f]));
    else if (!opts.stdout) writeFileSync(f, out);
  }
  if (opts.json) printJson({ ok: !hasErrors(all), changed, diagnostics: diagnosticsJson(all) });
  else {
    printDiagnostics(all);
    if (!opts.stdout) process.stderr.write(opts.check ? `${changed.length} of ${files.length} file(s) need formatting\n` : `formatted ${changed.length} of ${files.length} file(s)\n`);
  }
  return hasErrors(all) ? EXIT.diagnostics : EXIT.ok;
}
