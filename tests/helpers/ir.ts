/** Load specs to IR at small dims for interpreter and kernel tests. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as assert from 'uvu/assert';
import { renderDiagnostics } from '../../compiler/diagnostics/render.ts';
import type { AttentionIR } from '../../compiler/ir/attention-ir.ts';
import { lowerSource } from '../../compiler/pipeline.ts';
import { REPO } from './baseline.ts';

/** Small values for every dim a stdlib spec may declare (only the declared ones are used). */
export const SMALL_DIMS: Record<string, number> = { K: 8, V: 6, D: 8, M: 12, W: 12, S: 2 };

export function smallDimsFor(text: string): Record<string, number> {
  const declared = /dims\s+([^\n]*)/.exec(text)?.[1] ?? '';
  const names = [...declared.matchAll(/([A-Za-z_]\w*)\s*=/g)].map((m) => m[1]!);
  return Object.fromEntries(names.filter((n) => n in SMALL_DIMS).map((n) => [n, SMALL_DIMS[n]!]));
}

export function irFromText(text: string, name = '<test>', dims?: Record<string, number>): AttentionIR {
  const l = lowerSource(text, name, { dims: dims ?? smallDimsFor(text) });
  assert.ok(l.ok, renderDiagnostics(l.diagnostics));
  return l.irs[0]!;
}

export function stdlibIR(name: string, dims?: Record<string, number>): AttentionIR {
  const path = join(REPO, 'stdlib', `${name}.attn`);
  return irFromText(readFileSync(path, 'utf8'), path, dims);
}
