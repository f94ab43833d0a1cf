/** The front end in one call: source → AST → checked specs, with every diagnostic. */
import type * as A from '../dsl/ast.ts';
import { parse, type ParseResult } from '../dsl/parse.ts';
import { parseJsonSpec } from '../dsl/json.ts';
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
  return checkParsed(parse(new SourceFile(name, text)), opts);
}

/** A spec file in either form: `.json` files are the JSON form, anything else spec text. */
export function parseAndCheckFile(text: string, name: string, opts: CheckOptions = {}): FrontendResult {
  return checkParsed(name.endsWith('.json') ? parseJsonSpec(text, name) : parse(new SourceFile(name, text)), opts);
}

function checkParsed(p: ParseResult, opts: CheckOptions): FrontendResult {
  const source = p.source;
  if (hasErrors(p.diagnostics)) {
    // A tree recovered from syntax errors is never checked: its holes would only add noise.
    return { source, ast: p.file, specs: [], diagnostics: sortDiagnostics(p.diagnostics), ok: false };
  }
  const c = check(p.file, source, opts);
  const diagnostics = sortDiagnostics([...p.diagnostics, ...c.diagnostics]);
  return { source, ast: p.file, specs: c.specs, diagnostics, ok: !hasErrors(diagnostics) };
}
