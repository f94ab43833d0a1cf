/**
 * Syntax-error messages: chevrotain asks this provider for each error's text; the text is a JSON
 * record (catalogue id + arguments) that `parse.ts` turns into a catalogued diagnostic.
 */
import type { IParserErrorMessageProvider, IToken, TokenType } from 'chevrotain';
import { EOF } from 'chevrotain';

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
export const errorProvider: IParserErrorMessageProvider = {
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

