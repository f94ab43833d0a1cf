/**
 * The formatter: canonical layout with every comment kept. `format(format(x)) == format(x)` and
 * formatting never changes meaning (the AST is equal up to spans and parentheses the user wrote).
 * Blank lines between items are kept, collapsed to one.
 */
import type { SourceFile } from '../compiler/diagnostics/source.ts';
import type * as A from './ast.ts';
import { printItem } from './print-expr.ts';

interface Anchor {
  /** Offset where the anchored text starts and ends in the source. */
  start: number;
  end: number;
  render: () => string;
  indent: string;
  /** Indentation of own-line comments before the anchor (inside the block for the closing brace). */
  commentIndent: string;
  leading: A.Comment[];
  trailing: A.Comment[];
  /** Indentation of the lines that follow the anchor (for its second and later trailing comments). */
  afterIndent: string;
}

export function format(file: A.SpecFile, source: SourceFile): string {
  const anchors: Anchor[] = [];
  for (const spec of file.specs) {
    const braceLine = spec.items.length ? spec.items[0]!.span.start : spec.span.end;
    anchors.push({
      start: spec.span.start,
      end: Math.min(spec.name.span.end + 1, braceLine),
      render: () => `attention ${spec.name.name} {`,
      indent: '',
      commentIndent: '',
      leading: [],
      trailing: [],
      afterIndent: '  ',
    });
    for (const it of spec.items) {
      anchors.push({ start: it.span.start, end: it.span.end, render: () => printItem(it), indent: '  ', commentIndent: '  ', leading: [], trailing: [], afterIndent: '  ' });
    }
    anchors.push({ start: Math.max(spec.span.end - 1, spec.span.start), end: spec.span.end, render: () => '}', indent: '', commentIndent: '  ', leading: [], trailing: [], afterIndent: '' });
  }
  const tail: A.Comment[] = [];
  const text = source.text;
  for (const c of file.comments) {
    const line = source.lineCol(c.span.start).line;
    const before = text.slice(source.lineStart(line), c.span.start);
    const isTrailing = before.trim().length > 0;
    if (isTrailing) {
      // The last anchor that starts before the comment owns it.
      let owner: Anchor | undefined;
      for (const a of anchors) if (a.start < c.span.start) owner = a;
      if (owner) {
        owner.trailing.push(c);
        continue;
      }
    }
    const next = anchors.find((a) => a.start > c.span.start);
    if (next) next.leading.push(c);
    else tail.push(c);
  }

  const out: string[] = [];
  let prevEndLine = 0;
  const blankBefore = (line: number) => {
    if (out.length && line - prevEndLine > 1 && out[out.length - 1] !== '') out.push('');
  };
  for (const a of anchors) {
    for (const c of a.leading) {
      const line = source.lineCol(c.span.start).line;
      blankBefore(line);
      out.push(`${a.commentIndent}${c.text.trimEnd()}`);
      prevEndLine = line;
    }
    const startLine = source.lineCol(a.start).line;
    blankBefore(startLine);
    const [first, ...more] = a.trailing;
    out.push(`${a.indent}${a.render()}${first ? `  ${first.text.trimEnd()}` : ''}`);
    // An anchor spread over several lines can own several trailing comments: joined on one line
    // they would become one comment, so the second and later ones go on their own lines.
    for (const c of more) out.push(`${a.afterIndent}${c.text.trimEnd()}`);
    prevEndLine = source.lineCol(Math.max(a.start, a.end - 1)).line;
    for (const c of a.trailing) prevEndLine = Math.max(prevEndLine, source.lineCol(c.span.start).line);
  }
  for (const c of tail) {
    const line = source.lineCol(c.span.start).line;
    blankBefore(line);
    out.push(c.text.trimEnd());
    prevEndLine = line;
  }
  return out.join('\n') + '\n';
}

/** The AST with spans and parenthesis flags removed: what "meaning" the formatter must keep. */
export function stripSpans(x: unknown): unknown {
  if (Array.isArray(x)) return x.map(stripSpans);
  if (x && typeof x === 'object') {
    const o: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(x as Record<string, unknown>)) {
      if (k === 'span' || k === 'keywordSpan' || k === 'parens') continue;
      if (k === 'text' && typeof (x as { value?: unknown }).value === 'number') continue;
      o[k] = stripSpans(v);
    }
    return o;
  }
  return x;
}
