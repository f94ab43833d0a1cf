/** Terminal output: colour only on a TTY (NO_COLOR honoured), diagnostics as text or JSON. */
import pc from 'picocolors';
import type { Diagnostic } from '../compiler/diagnostics/diagnostic.ts';
import { diagnosticToJson, plainStyle, renderDiagnostic, type Style } from '../compiler/diagnostics/render.ts';

export function useColour(stream: NodeJS.WriteStream = process.stderr): boolean {
  if ('NO_COLOR' in process.env && process.env['NO_COLOR'] !== '') return false;
  if (process.env['FORCE_COLOR'] && process.env['FORCE_COLOR'] !== '0') return true;
  return Boolean(stream.isTTY);
}

export function style(stream: NodeJS.WriteStream = process.stderr): Style {
  if (!useColour(stream)) return plainStyle;
  const c = pc.createColors(true);
  return { error: (s) => c.bold(c.red(s)), warning: (s) => c.bold(c.yellow(s)), note: (s) => c.cyan(s), dim: (s) => c.dim(s), bold: (s) => c.bold(s) };
}

export function printDiagnostics(ds: readonly Diagnostic[]): void {
  const st = style(process.stderr);
  for (const d of ds) process.stderr.write(renderDiagnostic(d, st) + '\n\n');
}

export function diagnosticsJson(ds: readonly Diagnostic[]) {
  return ds.map(diagnosticToJson);
}

export function printJson(x: unknown): void {
  process.stdout.write(JSON.stringify(x, null, 2) + '\n');
}

export function countText(ds: readonly Diagnostic[]): string {
  const e = ds.filter((d) => d.severity === 'error').length;
  const w = ds.filter((d) => d.severity === 'warning').length;
  return `${e} error${e === 1 ? '' : 's'}, ${w} warning${w === 1 ? '' : 's'}`;
}

/** Exit codes: 0 ok, 1 diagnostics, 2 usage. */
export const EXIT = { ok: 0, diagnostics: 1, usage: 2 } as const;
