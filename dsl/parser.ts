/**
 * The grammar of the attention-spec language, as a chevrotain CstParser with no actions.
 * The CST is turned into the AST by `to-ast.ts`. Recovery is on, so one run reports several
 * syntax errors; a recovered tree is never checked or lowered.
 */
import { CstParser, type CstNode, type IToken } from 'chevrotain';
import * as T from './lexer.ts';
import { errorProvider } from './parse-errors.ts';

const MUL_OPS = new Set([T.Star, T.Slash, T.At, T.Otimes, T.Times]);

export class AttnParser extends CstParser {
  constructor() {
    super(T.allTokens, { recoveryEnabled: true, nodeLocationTracking: 'full', maxLookahead: 2, errorMessageProvider: errorProvider });
    this.performSelfAnalysis();
  }

  /** The next token to parse (where a failed parse stopped). */
  nextToken(): IToken {
    return this.LA(1);
  }

  file = this.RULE('file', () => {
    this.MANY(() => this.SUBRULE(this.attention));
  });

  attention = this.RULE('attention', () => {
    this.CONSUME(T.Attention);
    this.CONSUME(T.Identifier);
    this.CONSUME(T.LCurly);
    this.MANY(() => this.SUBRULE(this.item));
    this.CONSUME(T.RCurly);
  });

  item = this.RULE('item', () => {
    this.OR([
      { ALT: () => this.SUBRULE(this.dimsItem) },
      { ALT: () => this.SUBRULE(this.inputItem) },
      { ALT: () => this.SUBRULE(this.paramItem) },
      { ALT: () => this.SUBRULE(this.stateItem) },
      { ALT: () => this.SUBRULE(this.letItem) },
      { ALT: () => this.SUBRULE(this.featureItem) },
      { ALT: () => this.SUBRULE(this.gateItem) },
      { ALT: () => this.SUBRULE(this.updateItem) },
      { ALT: () => this.SUBRULE(this.outputItem) },
      { ALT: () => this.SUBRULE(this.readItem) },
      { ALT: () => this.SUBRULE(this.normalizeItem) },
      { ALT: () => this.SUBRULE(this.epilogueItem) },
      { ALT: () => this.SUBRULE(this.scoreItem) },
      { ALT: () => this.SUBRULE(this.maskItem) },
      { ALT: () => this.SUBRULE(this.directionItem) },
      { ALT: () => this.SUBRULE(this.chunkItem) },
    ]);
  });

  dimsItem = this.RULE('dimsItem', () => {
    this.CONSUME(T.Dims);
    this.AT_LEAST_ONE_SEP({ SEP: T.Comma, DEF: () => this.SUBRULE(this.dimDef) });
  });

  dimDef = this.RULE('dimDef', () => {
    this.CONSUME(T.Identifier);
    this.CONSUME(T.Equals);
    this.SUBRULE(this.expression);
  });

  inputItem = this.RULE('inputItem', () => {
    this.CONSUME(T.Input);
    this.AT_LEAST_ONE_SEP({ SEP: T.Comma, DEF: () => this.SUBRULE(this.decl) });
  });

  paramItem = this.RULE('paramItem', () => {
    this.CONSUME(T.Param);
    this.AT_LEAST_ONE_SEP({ SEP: T.Comma, DEF: () => this.SUBRULE(this.decl) });
  });

  stateItem = this.RULE('stateItem', () => {
    this.CONSUME(T.State);
    this.AT_LEAST_ONE_SEP({ SEP: T.Comma, DEF: () => this.SUBRULE(this.decl) });
  });

  decl = this.RULE('decl', () => {
    this.CONSUME(T.Identifier);
    this.CONSUME(T.Colon);
    this.SUBRULE(this.typeExpr);
  });

  typeExpr = this.RULE('typeExpr', () => {
    this.OR([
      { ALT: () => this.SUBRULE(this.shapeType) },
      { ALT: () => this.CONSUME(T.Identifier) },
    ]);
  });

  shapeType = this.RULE('shapeType', () => {
    this.CONSUME(T.LSquare);
    this.AT_LEAST_ONE_SEP({ SEP: T.Comma, DEF: () => this.SUBRULE(this.expression) });
    this.CONSUME(T.RSquare);
  });

  letItem = this.RULE('letItem', () => {
    this.CONSUME(T.Let);
    this.CONSUME(T.Identifier);
    this.CONSUME(T.Equals);
    this.SUBRULE(this.expression);
  });

  featureItem = this.RULE('featureItem', () => {
    this.CONSUME(T.Feature);
    this.CONSUME(T.Identifier);
    this.CONSUME(T.Equals);
    this.SUBRULE(this.expression);
  });

  gateItem = this.RULE('gateItem', () => {
    this.CONSUME(T.Gate);
    this.SUBRULE(this.expression);
  });

  updateItem = this.RULE('updateItem', () => {
    this.CONSUME(T.Update);
    this.OR([
      {
        GATE: () => this.LA(2).tokenType === T.Equals,
        ALT: () => this.AT_LEAST_ONE_SEP({ SEP: T.Comma, DEF: () => this.SUBRULE(this.equation) }),
      },
      { ALT: () => this.SUBRULE(this.ruleCall) },
    ]);
  });

  equation = this.RULE('equation', () => {
    this.CONSUME(T.Identifier);
    this.CONSUME(T.Equals);
    this.SUBRULE(this.expression);
  });

  ruleCall = this.RULE('ruleCall', () => {
    this.CONSUME(T.Identifier);
    this.OPTION(() => {
      this.CONSUME(T.LParen);
      this.OPTION2(() => this.SUBRULE(this.argList));
      this.CONSUME(T.RParen);
    });
  });

  outputItem = this.RULE('outputItem', () => {
    this.CONSUME(T.Output);
    this.CONSUME(T.Identifier);
    this.CONSUME(T.Equals);
    this.SUBRULE(this.expression);
  });

  readItem = this.RULE('readItem', () => {
    this.CONSUME(T.Read);
    this.SUBRULE(this.ruleCall);
  });

  normalizeItem = this.RULE('normalizeItem', () => {
    this.CONSUME(T.Normalize);
    this.CONSUME(T.Identifier);
  });

  epilogueItem = this.RULE('epilogueItem', () => {
    this.CONSUME(T.Epilogue);
    this.SUBRULE(this.expression);
  });

  scoreItem = this.RULE('scoreItem', () => {
    this.CONSUME(T.Score);
    this.SUBRULE(this.expression);
  });

  maskItem = this.RULE('maskItem', () => {
    this.CONSUME(T.Mask);
    this.SUBRULE(this.expression);
  });

  directionItem = this.RULE('directionItem', () => {
    this.CONSUME(T.Direction);
    this.CONSUME(T.Identifier);
  });

  chunkItem = this.RULE('chunkItem', () => {
    this.CONSUME(T.Chunk);
    this.SUBRULE(this.chunkSize);
    this.OPTION(() => {
      this.SUBRULE(this.tileSeparator);
      // `128x64` lexes as 128 and the name x64: the second size may sit in the separator.
      this.OPTION2({ GATE: () => !/^x\d+$/.test(this.LA(0).image), DEF: () => this.SUBRULE2(this.chunkSize) });
    });
  });

  chunkSize = this.RULE('chunkSize', () => {
    this.OR([{ ALT: () => this.CONSUME(T.NumberLit) }, { ALT: () => this.CONSUME(T.Identifier) }]);
  });

  tileSeparator = this.RULE('tileSeparator', () => {
    this.OR([{ ALT: () => this.CONSUME(T.Identifier) }, { ALT: () => this.CONSUME(T.Times) }, { ALT: () => this.CONSUME(T.Star) }]);
  });

  // ── expressions, lowest precedence first ────────────────────────────────────

  expression = this.RULE('expression', () => {
    this.SUBRULE(this.orExpr);
  });

  orExpr = this.RULE('orExpr', () => {
    this.SUBRULE(this.andExpr);
    this.MANY(() => {
      this.CONSUME(T.Pipe);
      this.SUBRULE2(this.andExpr);
    });
  });

  andExpr = this.RULE('andExpr', () => {
    this.SUBRULE(this.cmpExpr);
    this.MANY(() => {
      this.CONSUME(T.Amp);
      this.SUBRULE2(this.cmpExpr);
    });
  });

  cmpExpr = this.RULE('cmpExpr', () => {
    this.SUBRULE(this.addExpr);
    this.OPTION(() => {
      this.SUBRULE(this.cmpOp);
      this.SUBRULE2(this.addExpr);
    });
  });

  cmpOp = this.RULE('cmpOp', () => {
    this.OR([
      { ALT: () => this.CONSUME(T.Less) },
      { ALT: () => this.CONSUME(T.LessEq) },
      { ALT: () => this.CONSUME(T.Greater) },
      { ALT: () => this.CONSUME(T.GreaterEq) },
      { ALT: () => this.CONSUME(T.EqEq) },
      { ALT: () => this.CONSUME(T.NotEq) },
    ]);
  });

  addExpr = this.RULE('addExpr', () => {
    this.SUBRULE(this.mulExpr);
    this.MANY(() => {
      this.OR([{ ALT: () => this.CONSUME(T.Plus) }, { ALT: () => this.CONSUME(T.Minus) }]);
      this.SUBRULE2(this.mulExpr);
    });
  });

  /** `a * b`, `a / b`, `a @ b`, `a ⊗ b`, and juxtaposition `Sᵀ q` (a matrix product, like `@`). */
  mulExpr = this.RULE('mulExpr', () => {
    this.SUBRULE(this.unaryExpr);
    // Juxtaposition only within a line (a mistyped item keyword on the next line is not silently
    // read as a factor) and never beside a number (`1.5.2`, `2K` and `1e` are errors, not products).
    this.MANY({
      GATE: () =>
        MUL_OPS.has(this.LA(1).tokenType) ||
        (this.LA(1).startLine === this.LA(0).endLine && this.LA(1).tokenType !== T.NumberLit && this.LA(0).tokenType !== T.NumberLit),
      DEF: () => {
        this.OR([
          {
            ALT: () => {
              this.SUBRULE(this.mulOp);
              this.SUBRULE2(this.unaryExpr);
            },
          },
          { ALT: () => this.SUBRULE(this.powExpr) },
        ]);
      },
    });
  });

  mulOp = this.RULE('mulOp', () => {
    this.OR([
      { ALT: () => this.CONSUME(T.Star) },
      { ALT: () => this.CONSUME(T.Slash) },
      { ALT: () => this.CONSUME(T.At) },
      { ALT: () => this.CONSUME(T.Otimes) },
      { ALT: () => this.CONSUME(T.Times) },
    ]);
  });

  unaryExpr = this.RULE('unaryExpr', () => {
    this.OR([
      {
        ALT: () => {
          this.OR2([{ ALT: () => this.CONSUME(T.Minus) }, { ALT: () => this.CONSUME(T.Plus) }, { ALT: () => this.CONSUME(T.Bang) }]);
          this.SUBRULE(this.unaryExpr);
        },
      },
      { ALT: () => this.SUBRULE(this.powExpr) },
    ]);
  });

  /** Right-associative power; the exponent may carry a sign: `K^-0.5`. */
  powExpr = this.RULE('powExpr', () => {
    this.SUBRULE(this.postfixExpr);
    this.OPTION(() => {
      this.CONSUME(T.Caret);
      this.SUBRULE(this.exponent);
    });
  });

  exponent = this.RULE('exponent', () => {
    this.OPTION(() => this.OR([{ ALT: () => this.CONSUME(T.Minus) }, { ALT: () => this.CONSUME(T.Plus) }]));
    this.SUBRULE(this.powExpr);
  });

  postfixExpr = this.RULE('postfixExpr', () => {
    this.SUBRULE(this.primary);
    this.MANY(() => {
      this.OR([
        {
          ALT: () => {
            this.CONSUME(T.LSquare);
            this.AT_LEAST_ONE_SEP({ SEP: T.Comma, DEF: () => this.SUBRULE(this.expression) });
            this.CONSUME(T.RSquare);
          },
        },
        { ALT: () => this.CONSUME(T.Transpose) },
      ]);
    });
  });

  primary = this.RULE('primary', () => {
    this.OR([
      { ALT: () => this.CONSUME(T.NumberLit) },
      { ALT: () => this.SUBRULE(this.callOrName) },
      { ALT: () => this.SUBRULE(this.parenExpr) },
      { ALT: () => this.SUBRULE(this.vectorExpr) },
    ]);
  });

  callOrName = this.RULE('callOrName', () => {
    this.CONSUME(T.Identifier);
    this.OPTION(() => {
      this.CONSUME(T.LParen);
      this.OPTION2(() => this.SUBRULE(this.argList));
      this.CONSUME(T.RParen);
    });
  });

  parenExpr = this.RULE('parenExpr', () => {
    this.CONSUME(T.LParen);
    this.SUBRULE(this.expression);
    this.CONSUME(T.RParen);
  });

  vectorExpr = this.RULE('vectorExpr', () => {
    this.CONSUME(T.LSquare);
    this.AT_LEAST_ONE_SEP({ SEP: T.Comma, DEF: () => this.SUBRULE(this.expression) });
    this.CONSUME(T.RSquare);
  });

  argList = this.RULE('argList', () => {
    this.AT_LEAST_ONE_SEP({ SEP: T.Comma, DEF: () => this.SUBRULE(this.arg) });
  });

  arg = this.RULE('arg', () => {
    this.OPTION({
      GATE: () => this.LA(2).tokenType === T.Equals,
      DEF: () => {
        this.CONSUME(T.Identifier);
        this.CONSUME(T.Equals);
      },
    });
    this.SUBRULE(this.expression);
  });
}

/** One parser instance, reused (chevrotain's advice); `parse` resets it. */
let instance: AttnParser | undefined;
export function parserInstance(): AttnParser {
  return (instance ??= new AttnParser());
}

export type { CstNode, IToken };
