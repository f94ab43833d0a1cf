/** Load and check spec files for the commands (text or JSON form). */
import type { CheckOptions } from '../compiler/check/checker.ts';
import type { Diagnostic } from '../compiler/diagnostics/diagnostic.ts';
import { parseAndCheckFile, type FrontendResult } from '../compiler/frontend.ts';
import { readText } from './io.ts';

export interface Loaded extends Partial<FrontendResult> {
  path: string;
  diagnostics: Diagnostic[];
  ok: boolean;
}

export function loadSpecFile(path: string, opts: CheckOptions = {}): Loaded {
  const r = readText(path);
  if (r.diagnostic) return { path, diagnostics: [r.diagnostic], ok: false };
  return { path, ...parseAndCheckFile(r.text!, path, opts) };
}
