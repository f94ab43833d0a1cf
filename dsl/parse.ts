/** Source text → AST with syntax diagnostics. Never throws on user input. */
import type { IParserErrorMessageProvider, IRecognitionException, IToken, TokenType } from 'chevrotain';
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

function describeToken(t: IToken | undefined): string {
  if (!t || t.tokenType === EOF) return 'the end of the file';
  return `'${t.image}'`;
}

function labelOf(t: TokenType): string {
  if (t === EOF) return 'the end of the file';
  return t.LABEL ?? t.name;
}

function oneOf(labels: string[]): string {
  const u = [...new Set(labels)];
  if (u.length <= 1) return u[0] ?? 'something else';
  return `${u.slice(0, -1).join(', ')} or ${u[u.length - 1]}`;
}

const RULE_WORDS: Record<string, string> = {
  item: 'a spec item',
  expression: 'an expression',
  orExpr: 'an expression',
  andExpr: 'an expression',
  cmpExpr: 'an expression',
  addExpr: 'an expression',
  mulExpr: 'an expression',
  unaryExpr: 'an expression',
  powExpr: 'an expression',
  exponent: 'an exponent',
  postfixExpr: 'an expression',
  primary: 'an expression',
  typeExpr: "a type ('scalar', 'int' or a shape like '[K]')",
  chunkSize: "a chunk size (an integer or 'auto')",
  tileSeparator: "'x'",
  cmpOp: 'a comparison',
  mulOp: 'an operator',
};

/** Chevrotain messages are encoded as JSON so that they can become catalogued diagnostics. */
const errorProvider: IParserErrorMessageProvider = {
  buildMismatchTokenMessage({ expected, actual, ruleName }) {
    if (ruleName === 'attention' && expected.name === 'RCurly' && actual.tokenType.name === 'Identifier') {
      return JSON.stringify({ id: 'ExpectedItem', args: [describeToken(actual)], word: actual.image });
    }
    return JSON.stringify({ id: 'ExpectedToken', args: [labelOf(expected), describeToken(actual)] });
  },
  buildNotAllInputParsedMessage({ firstRedundant }) {
    return JSON.stringify({ id: 'ExtraInput', args: [describeToken(firstRedundant)] });
  },
  buildNoViableAltMessage({ expectedPathsPerAlt, actual, ruleName }) {
    const words = RULE_WORDS[ruleName];
    const first = expectedPathsPerAlt.flatMap((alt) => alt.map((path) => (path[0] ? labelOf(path[0]) : '')));
    if (ruleName === 'item') return JSON.stringify({ id: 'ExpectedItem', args: [describeToken(actual[0])], word: actual[0]?.image });
    return JSON.stringify({ id: 'ExpectedOneOf', args: [words ?? oneOf(first), describeToken(actual[0])] });
  },
  buildEarlyExitMessage({ expectedIterationPaths, actual, ruleName }) {
    const words = RULE_WORDS[ruleName];
    const first = expectedIterationPaths.map((p) => (p[0] ? labelOf(p[0]) : ''));
    return JSON.stringify({ id: 'ExpectedOneOf', args: [words ?? oneOf(first), describeToken(actual[0])] });
  },
};

parserInstance().errorMessageProvider = errorProvider;

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
  const specs = toAst(cst);
  if (specs.length === 0 && diagnostics.length === 0) {
    diagnostics.push(diag('NoSpec', { start: 0, end: Math.min(1, text.length) }, [], { source }));
  }
  const comments: A.Comment[] = (lex.groups['comments'] ?? []).map((t) => ({ text: t.image, span: tokenSpan(t) }));
  return { file: { specs, comments, span: { start: 0, end: text.length } }, diagnostics, source };
}
