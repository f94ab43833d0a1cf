/** Source text → AST with syntax diagnostics. Never throws on user input. */
import type { IRecognitionException } from 'chevrotain';
import { EOF } from 'chevrotain';
import { diag, type Diagnostic } from '../compiler/diagnostics/diagnostic.ts';
import type { MessageId } from '../compiler/diagnostics/catalogue.ts';
import { SourceFile, type Span } from '../compiler/diagnostics/source.ts';
import { didYouMean } from '../compiler/diagnostics/suggest.ts';
import type * as A from './ast.ts';
import { attnLexer, KEYWORD_WORDS } from './lexer.ts';
import { parserInstance } from './parser.ts';
import { toAst, tokenSpan } from './to-ast.ts';

export interface ParseResult {
  file: A.SpecFile;
  diagnostics: Diagnostic[];
  source: SourceFile;
}



function errorSpan(e: IRecognitionException, text: string): Span {
  const t = e.token;
  if (!t || t.tokenType === EOF || !Number.isFinite(t.startOffset) || t.startOffset < 0) {
    // Point at the last character of the file (or its end when empty).
    const end = text.replace(/\s+$/, '').length;
    return { start: Math.max(0, end - 1), end: Math.max(0, end) };
  }
  return tokenSpan(t);
}

export function parse(textOrSource: string | SourceFile, name = '<input>'): ParseResult {
  const source = typeof textOrSource === 'string' ? new SourceFile(name, textOrSource) : textOrSource;
  const text = source.text;
  const diagnostics: Diagnostic[] = [];
  const lex = attnLexer.tokenize(text);
  for (const e of lex.errors) {
    const ch = text.slice(e.offset, e.offset + Math.max(1, e.length ?? 1));
    diagnostics.push(diag('UnexpectedCharacter', { start: e.offset, end: e.offset + Math.max(1, e.length ?? 1) }, [ch], { source }));
  }
  const parser = parserInstance();
  parser.input = lex.tokens;
  const cst = parser.file();
  const seen = new Set<string>();
  for (const e of parser.errors) {
    const span = errorSpan(e, text);
    const key = `${span.start}:${span.end}`;
    if (seen.has(key)) continue; // recovery can report the same place twice
    seen.add(key);
    let id: MessageId = 'ExpectedToken';
    let args: string[] = [e.message];
    let hint: string | undefined;
    try {
      const m = JSON.parse(e.message) as { id: MessageId; args: string[]; word?: string };
      id = m.id;
      args = m.args;
      if (m.id === 'ExpectedItem' && m.word) hint = didYouMean(m.word, KEYWORD_WORDS);
    } catch {
      /* a message from chevrotain itself: keep its text */
    }
    diagnostics.push(diag(id, span, args, hint ? { source, hint } : { source }));
  }
  const { specs, problems } = toAst(cst);
  for (const pr of problems) diagnostics.push(diag(pr.id, pr.span, pr.args, { source }));
  if (specs.length === 0 && diagnostics.length === 0) {
    diagnostics.push(diag('NoSpec', { start: 0, end: Math.min(1, text.length) }, [], { source }));
  }
  const comments: A.Comment[] = (lex.groups['comments'] ?? []).map((t) => ({ text: t.image, span: tokenSpan(t) }));
  return { file: { specs, comments, span: { start: 0, end: text.length } }, diagnostics, source };
}
