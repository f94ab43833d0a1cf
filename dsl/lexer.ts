/** Tokens of the attention-spec language (chevrotain). Keywords start items; everything else is an identifier. */
import { createToken, Lexer, type TokenType } from 'chevrotain';

export const Identifier = createToken({ name: 'Identifier', pattern: /[A-Za-z_\u0370-\u03ff][A-Za-z0-9_\u0370-\u03ff]*/, label: 'a name' });

function keyword(word: string): TokenType {
  return createToken({ name: word[0]!.toUpperCase() + word.slice(1), pattern: new RegExp(word), longer_alt: Identifier, label: `'${word}'` });
}

export const Attention = keyword('attention');
export const Dims = keyword('dims');
export const Input = keyword('input');
export const Param = keyword('param');
export const Let = keyword('let');
export const Feature = keyword('feature');
export const Gate = keyword('gate');
export const State = keyword('state');
export const Update = keyword('update');
export const Output = keyword('output');
export const Read = keyword('read');
export const Normalize = keyword('normalize');
export const Epilogue = keyword('epilogue');
export const Score = keyword('score');
export const Mask = keyword('mask');
export const Direction = keyword('direction');
export const Chunk = keyword('chunk');

/** The words that start items; they cannot be used as names. */
export const KEYWORDS = [Attention, Dims, Input, Param, Let, Feature, Gate, State, Update, Output, Read, Normalize, Epilogue, Score, Mask, Direction, Chunk];
export const KEYWORD_WORDS = KEYWORDS.map((t) => (t.LABEL ?? '').slice(1, -1));

export const NumberLit = createToken({ name: 'NumberLit', pattern: /(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?/, label: 'a number' });

export const WhiteSpace = createToken({ name: 'WhiteSpace', pattern: /[ \t\r\n\f\u00a0]+/, group: Lexer.SKIPPED });
export const Comment = createToken({ name: 'Comment', pattern: /#[^\n\r]*/, group: 'comments' });

function punct(name: string, pattern: RegExp | string, label: string): TokenType {
  return createToken({ name, pattern, label });
}

export const LCurly = punct('LCurly', '{', "'{'");
export const RCurly = punct('RCurly', '}', "'}'");
export const LParen = punct('LParen', '(', "'('");
export const RParen = punct('RParen', ')', "')'");
export const LSquare = punct('LSquare', '[', "'['");
export const RSquare = punct('RSquare', ']', "']'");
export const Comma = punct('Comma', ',', "','");
export const Colon = punct('Colon', ':', "':'");

export const LessEq = punct('LessEq', /<=|≤/, "'<='");
export const GreaterEq = punct('GreaterEq', />=|≥/, "'>='");
export const EqEq = punct('EqEq', '==', "'=='");
export const NotEq = punct('NotEq', /!=|≠/, "'!='");
export const Less = punct('Less', '<', "'<'");
export const Greater = punct('Greater', '>', "'>'");
export const Equals = punct('Equals', '=', "'='");
export const Plus = punct('Plus', '+', "'+'");
export const Minus = punct('Minus', /-|−/, "'-'");
export const Star = punct('Star', '*', "'*'");
export const Slash = punct('Slash', '/', "'/'");
export const Caret = punct('Caret', '^', "'^'");
export const At = punct('At', '@', "'@'");
export const Otimes = punct('Otimes', '⊗', "'⊗'");
export const Times = punct('Times', '×', "'×'");
export const Transpose = punct('Transpose', /ᵀ|'/, "'ᵀ'");
export const Amp = punct('Amp', /&&?/, "'&'");
export const Pipe = punct('Pipe', /\|\|?/, "'|'");
export const Bang = punct('Bang', '!', "'!'");

export const allTokens: TokenType[] = [
  WhiteSpace,
  Comment,
  ...KEYWORDS,
  Identifier,
  NumberLit,
  LCurly,
  RCurly,
  LParen,
  RParen,
  LSquare,
  RSquare,
  Comma,
  Colon,
  LessEq,
  GreaterEq,
  EqEq,
  NotEq,
  Less,
  Greater,
  Equals,
  Plus,
  Minus,
  Star,
  Slash,
  Caret,
  At,
  Otimes,
  Times,
  Transpose,
  Amp,
  Pipe,
  Bang,
];

export const attnLexer = new Lexer(allTokens, { positionTracking: 'full', ensureOptimizations: true });
