/**
 * The programmatic API. It has no Node-only imports: the same module runs in Node and in a
 * browser (dist/attnc.browser.js). Every function returns diagnostics as values.
 */
import type { CheckOptions } from './check/checker.ts';
import { parseAndCheck, parseAndCheckFile, type FrontendResult } from './frontend.ts';
import { hasErrors, type Diagnostic } from './diagnostics/diagnostic.ts';
import { SourceFile } from './diagnostics/source.ts';
import { renderDiagnostics, diagnosticToJson, type Style } from './diagnostics/render.ts';
import { format as formatAst } from '../dsl/format.ts';
import { parse } from '../dsl/parse.ts';
import { parseJsonSpec, specToJson, jsonToSource, specSchema, type SpecJson } from '../dsl/json.ts';
import { VERSION } from './version.ts';

export type { Diagnostic, FrontendResult, SpecJson, CheckOptions, Style };
export { VERSION, renderDiagnostics, diagnosticToJson, specSchema, specToJson, jsonToSource, hasErrors };

/** Parse and check spec text (or a JSON spec object), with every diagnostic. */
export function check(source: string | SpecJson | SpecJson[], opts: CheckOptions & { name?: string } = {}): FrontendResult {
  if (typeof source === 'string') return parseAndCheck(source, opts.name ?? '<input>', opts);
  return parseAndCheckFile(JSON.stringify(source), opts.name ?? '<input>.json', opts);
}

/** Format spec text; undefined text (with diagnostics) when it does not parse. */
export function format(text: string, name = '<input>'): { text: string | undefined; diagnostics: Diagnostic[] } {
  const src = new SourceFile(name, text);
  const p = parse(src);
  if (hasErrors(p.diagnostics)) return { text: undefined, diagnostics: p.diagnostics };
  return { text: formatAst(p.file, src), diagnostics: p.diagnostics };
}

/** Spec text → JSON form (one object per spec). */
export function toJson(text: string, name = '<input>'): { json: SpecJson[]; diagnostics: Diagnostic[] } {
  const p = parse(text, name);
  return { json: hasErrors(p.diagnostics) ? [] : p.file.specs.map(specToJson), diagnostics: p.diagnostics };
}

export { parseJsonSpec };
