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

export interface Progress {
  /** One item done (`label`: what comes next, or what was just done). */
  tick(label?: string): void;
  /** Clear the bar (call before printing anything else, then `redraw`). */
  clear(): void;
  redraw(): void;
  done(): void;
}

/**
 * A one-line progress bar on stderr for multi-spec work — only on a terminal, never with --json
 * (NO_PROGRESS or CI in the environment turn it off too). Off, every method does nothing.
 */
export function progress(total: number, what: string, opts: { json?: boolean; stream?: NodeJS.WriteStream } = {}): Progress {
  const stream = opts.stream ?? process.stderr;
  const on = total > 1 && !opts.json && Boolean(stream.isTTY) && !process.env['NO_PROGRESS'] && !process.env['CI'];
  let n = 0;
  let label = '';
  let shown = false;
  const draw = () => {
    if (!on) return;
    const width = 24;
    const filled = Math.round((n / total) * width);
    const cols = stream.columns ?? 80;
    const line = `${what} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${n}/${total} ${label}`;
    stream.write(`\r\x1b[K${line.slice(0, Math.max(10, cols - 1))}`);
    shown = true;
  };
  const clear = () => {
    if (on && shown) stream.write('\r\x1b[K');
    shown = false;
  };
  return {
    tick(l?: string) {
      n = Math.min(total, n + 1);
      if (l !== undefined) label = l;
      draw();
    },
    clear,
    redraw: draw,
    done: clear,
  };
}

/** Run `fn` with stdout captured (for commands that combine several JSON results into one). */
export async function captureStdout<T>(fn: () => Promise<T>): Promise<{ value: T; stdout: string }> {
  const chunks: string[] = [];
  const real = process.stdout.write;
  process.stdout.write = ((chunk: unknown, ...rest: unknown[]) => {
    chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString());
    const cb = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
    cb?.();
    return true;
  }) as typeof process.stdout.write;
  try {
    const value = await fn();
    return { value, stdout: chunks.join('') };
  } finally {
    process.stdout.write = real;
  }
}
