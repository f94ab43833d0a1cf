import { formatMessage, messages, type MessageId, type Severity } from './catalogue.ts';
import type { SourceFile, Span } from './source.ts';

export interface Label {
  span: Span;
  message: string;
}

/** A diagnostic is a value: attnc never throws on user input. */
export interface Diagnostic {
  code: string;
  severity: Severity;
  message: string;
  /** Where the problem is; the caret in the code frame. */
  span: Span;
  /** Label under the primary caret (optional). */
  label?: string;
  /** Secondary spans with their own labels ("first defined here"). */
  labels: Label[];
  hint?: string;
  /** The source the spans refer to (absent for diagnostics without a location). */
  source?: SourceFile;
}

export interface DiagOptions {
  label?: string;
  labels?: Label[];
  /** Replaces the catalogue's default hint; placeholders are filled from the same args. */
  hint?: string;
  source?: SourceFile;
}

export function diag(id: MessageId, span: Span, args: readonly (string | number)[] = [], opts: DiagOptions = {}): Diagnostic {
  const def = messages[id];
  const hintTemplate = opts.hint ?? ('hint' in def ? def.hint : undefined);
  const d: Diagnostic = {
    code: def.code,
    severity: def.severity,
    message: formatMessage(def.message, args),
    span,
    labels: opts.labels ?? [],
  };
  if (opts.label !== undefined) d.label = opts.label;
  if (hintTemplate !== undefined) d.hint = formatMessage(hintTemplate, args);
  if (opts.source) d.source = opts.source;
  return d;
}

export function hasErrors(ds: readonly Diagnostic[]): boolean {
  return ds.some((d) => d.severity === 'error');
}

/** Order diagnostics by position, errors before warnings at the same place. */
export function sortDiagnostics(ds: Diagnostic[]): Diagnostic[] {
  return [...ds].sort((a, b) => a.span.start - b.span.start || (a.severity === b.severity ? 0 : a.severity === 'error' ? -1 : 1));
}

/** Thrown only for internal compiler bugs, never for user input. */
export class InternalError extends Error {
  override name = 'InternalError';
}
