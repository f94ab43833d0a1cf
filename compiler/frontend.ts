/** The front end in one call: source → AST → checked specs, with every diagnostic. */
import type * as A from '../dsl/ast.ts';
import { parse } from '../dsl/parse.ts';
import { check, type CheckOptions } from './check/checker.ts';
import type { TypedSpec } from './check/typed-spec.ts';
import { hasErrors, sortDiagnostics, type Diagnostic } from './diagnostics/diagnostic.ts';
import { SourceFile } from './diagnostics/source.ts';

export interface FrontendResult {
  source: SourceFile;
  ast: A.SpecFile | undefined;
  specs: TypedSpec[];
  diagnostics: Diagnostic[];
  ok: boolean;
}

export function parseAndCheck(text: string, name = '<input>', opts: CheckOptions = {}): FrontendResult {
  const source = new SourceFile(name, text);
  const p = parse(source);
  if (hasErrors(p.diagnostics)) {
    // A tree recovered from syntax errors is never checked: its holes would only add noise.
    return { source, ast: p.file, specs: [], diagnostics: sortDiagnostics(p.diagnostics), ok: false };
  }
  const c = check(p.file, source, opts);
  const diagnostics = sortDiagnostics([...p.diagnostics, ...c.diagnostics]);
  return { source, ast: p.file, specs: c.specs, diagnostics, ok: !hasErrors(diagnostics) };
}
