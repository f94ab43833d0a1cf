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
import { toAst, tokenSpan, type AstProblem } from './to-ast.ts';

export interface ParseResult {
  file: A.SpecFile;
  diagnostics: Diagnostic[];
  source: SourceFile;
}



function errorSpan(e: IRecognitionException, text: string): Span {
  const t = e.token;
  if (!t || t.tokenType === EOF || !Number.isFinite(t.startOffset) || t.startOffset < 0) {
    // Point at the last character of the file (or its end when empty). (trimEnd, not /\s+$/,
    // which takes quadratic time on a long run of blanks followed by a comment.)
    const end = text.trimEnd().length;
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
  let specs: A.Spec[];
  let problems: AstProblem[];
  try {
    ({ specs, problems } = toAst(parser.file()));
  } catch (e) {
    // The recursive-descent parser (or the CST visitor) ran out of stack: nesting such as
    // 200 parentheses. Report it where the parser stopped instead of crashing.
    if (!isStackOverflow(e)) throw e;
    const at = parser.nextToken();
    const span = at.tokenType === EOF || !Number.isFinite(at.startOffset) ? { start: 0, end: Math.min(1, text.length) } : tokenSpan(at);
    diagnostics.push(diag('NestingTooDeep', span, [], { source, hint: 'the parser ran out of stack here; write the expression with fewer nested parentheses, brackets, calls or signs' }));
    return { file: { specs: [], comments: [], span: { start: 0, end: text.length } }, diagnostics, source };
  }
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
  for (const pr of problems) diagnostics.push(diag(pr.id, pr.span, pr.args, { source }));
  // Everything after the parser walks expressions recursively: bound their depth.
  for (const span of tooDeep(specs)) diagnostics.push(diag('NestingTooDeep', span, [], { source, hint: `an expression may nest at most ${MAX_EXPR_DEPTH} levels deep` }));
  if (specs.length === 0 && diagnostics.length === 0) {
    diagnostics.push(diag('NoSpec', { start: 0, end: Math.min(1, text.length) }, [], { source }));
  }
  const comments: A.Comment[] = (lex.groups['comments'] ?? []).map((t) => ({ text: t.image, span: tokenSpan(t) }));
  return { file: { specs, comments, span: { start: 0, end: text.length } }, diagnostics, source };
}

/** The deepest expression nesting (AST levels) that parsing accepts; checking, printing and lowering recurse this deep. */
export const MAX_EXPR_DEPTH = 256;

const EXPR_KINDS = new Set(['Number', 'Name', 'Unary', 'Binary', 'Call', 'Index', 'Transpose', 'Vector']);

/** The spans of the outermost expressions nested deeper than MAX_EXPR_DEPTH (walked without recursion). */
function tooDeep(specs: A.Spec[]): Span[] {
  const out: Span[] = [];
  const reported = new Set<unknown>();
  const stack: { x: unknown; depth: number; root: A.Expr | undefined }[] = [{ x: specs, depth: 0, root: undefined }];
  while (stack.length) {
    const { x, depth, root } = stack.pop()!;
    if (Array.isArray(x)) {
      for (const y of x) stack.push({ x: y, depth, root });
      continue;
    }
    if (!x || typeof x !== 'object') continue;
    const isExpr = EXPR_KINDS.has((x as { kind?: string }).kind ?? '') && 'span' in x;
    const d = isExpr ? depth + 1 : depth;
    const r = root ?? (isExpr ? (x as A.Expr) : undefined);
    if (d > MAX_EXPR_DEPTH && r && !reported.has(r)) {
      reported.add(r);
      out.push(r.span);
      continue;
    }
    for (const [k, v] of Object.entries(x)) if (k !== 'span' && k !== 'keywordSpan' && v && typeof v === 'object') stack.push({ x: v, depth: d, root: r });
  }
  return out.sort((a, b) => a.start - b.start);
}

function isStackOverflow(e: unknown): boolean {
  return e instanceof RangeError || (e instanceof Error && /too much recursion|call stack/i.test(e.message));
}
