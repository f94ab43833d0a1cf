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

/** The values of `table` for the dims a spec declares. */
export function smallDimsFor(text: string, table: Record<string, number> = SMALL_DIMS): Record<string, number> {
  const declared = /dims\s+([^\n]*)/.exec(text)?.[1] ?? '';
  const names = [...declared.matchAll(/([A-Za-z_]\w*)\s*=/g)].map((m) => m[1]!);
  return Object.fromEntries(names.filter((n) => n in table).map((n) => [n, table[n]!]));
}

export function irFromText(text: string, name = '<test>', dims?: Record<string, number>): AttentionIR {
  const l = lowerSource(text, name, { dims: dims ?? smallDimsFor(text) });
  assert.ok(l.ok, renderDiagnostics(l.diagnostics));
  return l.irs[0]!;
}

/** A stdlib spec at small dims (SMALL_DIMS, or the given table, for the dims it declares). */
export function stdlibIR(name: string, table?: Record<string, number>): AttentionIR {
  const path = join(REPO, 'stdlib', `${name}.attn`);
  const text = readFileSync(path, 'utf8');
  return irFromText(text, path, smallDimsFor(text, table));
}
