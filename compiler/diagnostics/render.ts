import type { Diagnostic } from './diagnostic.ts';
import type { SourceFile, Span } from './source.ts';

/** Text styling hooks; the CLI passes colours on a TTY, everything else gets plain text. */
export interface Style {
  error(s: string): string;
  warning(s: string): string;
  note(s: string): string;
  dim(s: string): string;
  bold(s: string): string;
}

export const plainStyle: Style = { error: (s) => s, warning: (s) => s, note: (s) => s, dim: (s) => s, bold: (s) => s };

export function location(d: Diagnostic): string {
  if (!d.source) return '';
  const { line, col } = d.source.lineCol(d.span.start);
  return `${d.source.name}:${line}:${col}`;
}

interface Mark {
  span: Span;
  primary: boolean;
  message: string;
}

/**
 * Renders `file:line:col: error[ATTN2003]: message`, then a code frame with the primary span
 * underlined by carets, secondary spans by dashes, and the hint.
 */
export function renderDiagnostic(d: Diagnostic, style: Style = plainStyle): string {
  const sev = d.severity === 'error' ? style.error : d.severity === 'warning' ? style.warning : style.note;
  const loc = location(d);
  const head = `${loc ? loc + ': ' : ''}${sev(`${d.severity}[${d.code}]`)}: ${style.bold(d.message)}`;
  const out = [head];
  if (d.source) out.push(...codeFrame(d.source, [{ span: d.span, primary: true, message: d.label ?? '' }, ...d.labels.map((l) => ({ span: l.span, primary: false, message: l.message }))], style, sev));
  if (d.hint) out.push(`${style.dim('  = hint:')} ${d.hint}`);
  return out.join('\n');
}

function codeFrame(src: SourceFile, marks: Mark[], style: Style, sev: (s: string) => string): string[] {
  const byLine = new Map<number, Mark[]>();
  for (const m of marks) {
    const { line } = src.lineCol(m.span.start);
    const list = byLine.get(line) ?? [];
    list.push(m);
    byLine.set(line, list);
  }
  const lines = [...byLine.keys()].sort((a, b) => a - b);
  const width = String(lines[lines.length - 1] ?? 1).length;
  const gutter = (s: string) => style.dim(`${s.padStart(width)} |`);
  const out = [gutter('')];
  let prev = -1;
  for (const line of lines) {
    if (prev !== -1 && line > prev + 1) out.push(style.dim(`${'.'.repeat(width)}`));
    prev = line;
    const text = src.lineText(line).replace(/\t/g, ' ');
    out.push(`${gutter(String(line))} ${text}`);
    const lineStart = src.lineStart(line);
    // Primary marks first, then secondary ones, each on its own annotation line when labelled.
    const ms = byLine.get(line)!.sort((a, b) => Number(b.primary) - Number(a.primary) || a.span.start - b.span.start);
    for (const m of ms) {
      const startCol = m.span.start - lineStart;
      const endCol = Math.min(Math.max(m.span.end - lineStart, startCol + 1), Math.max(text.length, startCol + 1));
      const ch = m.primary ? '^' : '-';
      const underline = ' '.repeat(startCol) + ch.repeat(Math.max(1, endCol - startCol));
      const paint = m.primary ? sev : style.note;
      out.push(`${gutter('')} ${paint(underline)}${m.message ? ' ' + paint(m.message) : ''}`);
    }
  }
  return out;
}

export function renderDiagnostics(ds: readonly Diagnostic[], style: Style = plainStyle): string {
  return ds.map((d) => renderDiagnostic(d, style)).join('\n\n');
}

/** The machine-readable form used by `--json`. */
export interface DiagnosticJson {
  code: string;
  severity: string;
  message: string;
  file?: string;
  start?: { line: number; column: number; offset: number };
  end?: { line: number; column: number; offset: number };
  label?: string;
  labels: { message: string; file?: string; start?: { line: number; column: number; offset: number }; end?: { line: number; column: number; offset: number } }[];
  hint?: string;
}

function pos(src: SourceFile | undefined, offset: number) {
  if (!src) return undefined;
  const { line, col } = src.lineCol(offset);
  return { line, column: col, offset };
}

export function diagnosticToJson(d: Diagnostic): DiagnosticJson {
  const j: DiagnosticJson = {
    code: d.code,
    severity: d.severity,
    message: d.message,
    labels: d.labels.map((l) => {
      const o: DiagnosticJson['labels'][number] = { message: l.message };
      if (d.source) {
        o.file = d.source.name;
        o.start = pos(d.source, l.span.start);
        o.end = pos(d.source, l.span.end);
      }
      return o;
    }),
  };
  if (d.source) {
    j.file = d.source.name;
    j.start = pos(d.source, d.span.start);
    j.end = pos(d.source, d.span.end);
  }
  if (d.label) j.label = d.label;
  if (d.hint) j.hint = d.hint;
  return j;
}
