/**
 * CST → AST. The visitor is checked against the grammar by `validateVisitor()`. Recovered trees
 * may lack children, so every access tolerates a missing part (the result is never checked).
 */
import type { CstElement, CstNode, IToken } from 'chevrotain';
import type { Span } from '../compiler/diagnostics/source.ts';
import type * as A from './ast.ts';
import { parserInstance } from './parser.ts';

type Ctx = Record<string, CstElement[] | undefined>;

function isToken(e: CstElement): e is IToken {
  return (e as IToken).image !== undefined;
}

function off(x: number | undefined, fallback: number): number {
  return x === undefined || !Number.isFinite(x) || x < 0 ? fallback : x;
}

export function tokenSpan(t: IToken | undefined): Span {
  if (!t) return { start: 0, end: 0 };
  const s = off(t.startOffset, 0);
  return { start: s, end: off(t.endOffset, s - 1) + 1 };
}

export function nodeSpan(n: CstNode | undefined): Span {
  const loc = n?.location;
  if (!loc) return { start: 0, end: 0 };
  const s = off(loc.startOffset, 0);
  return { start: s, end: Math.max(s, off(loc.endOffset, s - 1) + 1) };
}

function elemStart(e: CstElement): number {
  return isToken(e) ? off(e.startOffset, 0) : nodeSpan(e).start;
}

/** All children of a CST node in source order. */
function ordered(ctx: Ctx): CstElement[] {
  const all: CstElement[] = [];
  for (const k of Object.keys(ctx)) for (const e of ctx[k] ?? []) all.push(e);
  return all.sort((a, b) => elemStart(a) - elemStart(b));
}

function tok(ctx: Ctx, name: string, i = 0): IToken | undefined {
  const e = ctx[name]?.[i];
  return e && isToken(e) ? e : undefined;
}

function node(ctx: Ctx, name: string, i = 0): CstNode | undefined {
  const e = ctx[name]?.[i];
  return e && !isToken(e) ? e : undefined;
}

function nodes(ctx: Ctx, name: string): CstNode[] {
  return (ctx[name] ?? []).filter((e): e is CstNode => !isToken(e));
}

/** A token that is in the source (not one inserted by error recovery, which has no offsets). */
function realToken(t: IToken | undefined): IToken | undefined {
  return t && !t.isInsertedInRecovery && Number.isFinite(t.startOffset) && t.startOffset >= 0 ? t : undefined;
}

function ident(t: IToken | undefined): A.Ident {
  return { name: t?.image ?? '<missing>', span: tokenSpan(t) };
}

function union(a: Span, b: Span): Span {
  return { start: Math.min(a.start, b.start), end: Math.max(a.end, b.end) };
}

const MISSING: A.Expr = { kind: 'Name', name: '<missing>', span: { start: 0, end: 0 } };

const BaseVisitor = parserInstance().getBaseCstVisitorConstructor();

/** A syntax problem found while building the AST (the grammar is looser than the language). */
export interface AstProblem {
  id: 'TileSeparator';
  span: Span;
  args: string[];
}

class ToAst extends BaseVisitor {
  problems: AstProblem[] = [];

  constructor() {
    super();
    this.validateVisitor();
  }

  file(ctx: Ctx): A.Spec[] {
    return nodes(ctx, 'attention').map((n) => ({ ...(this.visit(n) as A.Spec), span: nodeSpan(n) }));
  }

  attention(ctx: Ctx): A.Spec {
    return {
      kind: 'Attention',
      name: ident(tok(ctx, 'Identifier')),
      items: nodes(ctx, 'item').map((i) => this.visit(i)),
      span: { start: 0, end: 0 },
    };
  }

  item(ctx: Ctx): A.Item {
    const child = ordered(ctx)[0] as CstNode;
    return { ...(this.visit(child) as A.Item), span: nodeSpan(child) };
  }

  private base(ctx: Ctx, kw: string) {
    return { keywordSpan: tokenSpan(tok(ctx, kw)), span: { start: 0, end: 0 } };
  }

  dimsItem(ctx: Ctx): A.Item {
    return { kind: 'dims', ...this.base(ctx, 'Dims'), dims: nodes(ctx, 'dimDef').map((d) => this.visit(d)) };
  }

  dimDef(ctx: Ctx, _p?: unknown): A.DimDef {
    const name = ident(tok(ctx, 'Identifier'));
    const value = this.expr(node(ctx, 'expression'));
    return { name, value, span: union(name.span, value.span) };
  }

  inputItem(ctx: Ctx): A.Item {
    return { kind: 'input', ...this.base(ctx, 'Input'), decls: nodes(ctx, 'decl').map((d) => this.visit(d)) };
  }

  paramItem(ctx: Ctx): A.Item {
    return { kind: 'param', ...this.base(ctx, 'Param'), decls: nodes(ctx, 'decl').map((d) => this.visit(d)) };
  }

  stateItem(ctx: Ctx): A.Item {
    return { kind: 'state', ...this.base(ctx, 'State'), decls: nodes(ctx, 'decl').map((d) => this.visit(d)) };
  }

  decl(ctx: Ctx): A.Decl {
    const name = ident(tok(ctx, 'Identifier'));
    const tn = node(ctx, 'typeExpr');
    const type: A.TypeExpr = tn ? this.visit(tn) : { kind: 'NamedType', name: ident(undefined), span: name.span };
    return { name, type, span: union(name.span, type.span) };
  }

  typeExpr(ctx: Ctx): A.TypeExpr {
    const shape = node(ctx, 'shapeType');
    if (shape) return this.visit(shape);
    const t = tok(ctx, 'Identifier');
    return { kind: 'NamedType', name: ident(t), span: tokenSpan(t) };
  }

  shapeType(ctx: Ctx, _p?: unknown): A.TypeExpr {
    const dims = nodes(ctx, 'expression').map((e) => this.expr(e));
    return { kind: 'ShapeType', dims, span: union(tokenSpan(tok(ctx, 'LSquare')), tokenSpan(tok(ctx, 'RSquare'))) };
  }

  letItem(ctx: Ctx): A.Item {
    return { kind: 'let', ...this.base(ctx, 'Let'), name: ident(tok(ctx, 'Identifier')), value: this.expr(node(ctx, 'expression')) };
  }

  featureItem(ctx: Ctx): A.Item {
    return { kind: 'feature', ...this.base(ctx, 'Feature'), target: ident(tok(ctx, 'Identifier')), value: this.expr(node(ctx, 'expression')) };
  }

  gateItem(ctx: Ctx): A.Item {
    return { kind: 'gate', ...this.base(ctx, 'Gate'), value: this.expr(node(ctx, 'expression')) };
  }

  updateItem(ctx: Ctx): A.Item {
    const rc = node(ctx, 'ruleCall');
    return {
      kind: 'update',
      ...this.base(ctx, 'Update'),
      rule: rc ? this.visit(rc) : undefined,
      equations: nodes(ctx, 'equation').map((e) => this.visit(e)),
    };
  }

  equation(ctx: Ctx): A.Equation {
    const target = ident(tok(ctx, 'Identifier'));
    const value = this.expr(node(ctx, 'expression'));
    return { target, value, span: union(target.span, value.span) };
  }

  ruleCall(ctx: Ctx): A.RuleCall {
    const name = ident(tok(ctx, 'Identifier'));
    const al = node(ctx, 'argList');
    const hasParens = tok(ctx, 'LParen') !== undefined;
    const args: A.Arg[] | undefined = hasParens ? (al ? this.visit(al) : []) : undefined;
    const end = tok(ctx, 'RParen');
    return { name, args, span: end ? union(name.span, tokenSpan(end)) : name.span };
  }

  outputItem(ctx: Ctx): A.Item {
    return { kind: 'output', ...this.base(ctx, 'Output'), target: ident(tok(ctx, 'Identifier')), value: this.expr(node(ctx, 'expression')) };
  }

  readItem(ctx: Ctx): A.Item {
    const rc = node(ctx, 'ruleCall');
    const rule: A.RuleCall = rc ? this.visit(rc) : { name: ident(undefined), args: undefined, span: { start: 0, end: 0 } };
    return { kind: 'read', ...this.base(ctx, 'Read'), rule };
  }

  normalizeItem(ctx: Ctx): A.Item {
    return { kind: 'normalize', ...this.base(ctx, 'Normalize'), mode: ident(tok(ctx, 'Identifier')) };
  }

  epilogueItem(ctx: Ctx): A.Item {
    return { kind: 'epilogue', ...this.base(ctx, 'Epilogue'), value: this.expr(node(ctx, 'expression')) };
  }

  scoreItem(ctx: Ctx): A.Item {
    return { kind: 'score', ...this.base(ctx, 'Score'), value: this.expr(node(ctx, 'expression')) };
  }

  maskItem(ctx: Ctx): A.Item {
    return { kind: 'mask', ...this.base(ctx, 'Mask'), value: this.expr(node(ctx, 'expression')) };
  }

  directionItem(ctx: Ctx): A.Item {
    return { kind: 'direction', ...this.base(ctx, 'Direction'), mode: ident(tok(ctx, 'Identifier')) };
  }

  chunkItem(ctx: Ctx): A.Item {
    const sep = node(ctx, 'tileSeparator');
    const t = sep ? (this.visit(sep) as IToken | undefined) : undefined;
    const sizes: A.ChunkSize[] = nodes(ctx, 'chunkSize').map((c) => this.visit(c));
    const glued = t && t.tokenType.name === 'Identifier' ? /^x(\d+)$/.exec(t.image) : null;
    if (glued) {
      const sp = tokenSpan(t);
      sizes.push({ kind: 'Int', value: Number(glued[1]), text: glued[1]!, span: { start: sp.start + 1, end: sp.end } });
    } else if (t && t.tokenType.name === 'Identifier' && t.image !== 'x') this.problems.push({ id: 'TileSeparator', span: tokenSpan(t), args: [t.image] });
    return { kind: 'chunk', ...this.base(ctx, 'Chunk'), sizes };
  }

  chunkSize(ctx: Ctx): A.ChunkSize {
    const n = tok(ctx, 'NumberLit');
    if (n) return { kind: 'Int', value: Number(n.image), text: n.image, span: tokenSpan(n) };
    const id = tok(ctx, 'Identifier');
    // `auto` is the only word allowed; the checker reports anything else.
    if (id && id.image === 'auto') return { kind: 'Auto', span: tokenSpan(id) };
    return { kind: 'Int', value: NaN, text: id?.image ?? '', span: tokenSpan(id) };
  }

  tileSeparator(ctx: Ctx): IToken | undefined {
    return ordered(ctx)[0] as IToken | undefined;
  }

  // ── expressions ────────────────────────────────────────────────────────────

  private expr(n: CstNode | undefined): A.Expr {
    if (!n) return MISSING;
    return this.visit(n) ?? MISSING;
  }

  expression(ctx: Ctx): A.Expr {
    return this.expr(node(ctx, 'orExpr'));
  }

  /** Left-associative chain of operands separated by operator tokens. */
  private chain(ctx: Ctx, operand: string): A.Expr {
    let result: A.Expr | undefined;
    let op: A.BinaryOp | undefined;
    for (const e of ordered(ctx)) {
      if (isToken(e)) {
        op = normaliseOp(e.image);
        continue;
      }
      if (e.name === 'cmpOp') {
        op = normaliseOp((ordered(e.children as Ctx)[0] as IToken).image);
        continue;
      }
      if (e.name !== operand && !(operand === 'addExpr' && e.name === 'addExpr')) continue;
      const rhs = this.expr(e);
      result = result === undefined ? rhs : { kind: 'Binary', op: op ?? '+', left: result, right: rhs, span: union(result.span, rhs.span) };
      op = undefined;
    }
    return result ?? MISSING;
  }

  orExpr(ctx: Ctx): A.Expr {
    return this.chain(ctx, 'andExpr');
  }

  andExpr(ctx: Ctx): A.Expr {
    return this.chain(ctx, 'cmpExpr');
  }

  cmpExpr(ctx: Ctx): A.Expr {
    return this.chain(ctx, 'addExpr');
  }

  cmpOp(_ctx: Ctx): undefined {
    return undefined;
  }

  addExpr(ctx: Ctx): A.Expr {
    return this.chain(ctx, 'mulExpr');
  }

  /** Operands are unaryExpr (after an explicit operator) or powExpr (juxtaposed: a matrix product). */
  mulExpr(ctx: Ctx): A.Expr {
    let result: A.Expr | undefined;
    let op: A.BinaryOp | undefined;
    for (const e of ordered(ctx)) {
      if (isToken(e)) continue;
      if (e.name === 'mulOp') {
        op = normaliseOp((ordered(e.children as Ctx)[0] as IToken).image);
        continue;
      }
      const rhs = this.expr(e);
      result = result === undefined ? rhs : { kind: 'Binary', op: op ?? '@', left: result, right: rhs, span: union(result.span, rhs.span) };
      op = undefined;
    }
    return result ?? MISSING;
  }

  mulOp(_ctx: Ctx): undefined {
    return undefined;
  }

  unaryExpr(ctx: Ctx, _p?: unknown): A.Expr {
    const inner = node(ctx, 'unaryExpr');
    if (inner) {
      const t = tok(ctx, 'Minus') ?? tok(ctx, 'Plus') ?? tok(ctx, 'Bang');
      const operand = this.expr(inner);
      const op = (t?.tokenType.name === 'Minus' ? '-' : t?.tokenType.name === 'Plus' ? '+' : '!') as A.UnaryOp;
      return { kind: 'Unary', op, operand, span: union(tokenSpan(t), operand.span) };
    }
    return this.expr(node(ctx, 'powExpr'));
  }

  powExpr(ctx: Ctx): A.Expr {
    const base = this.expr(node(ctx, 'postfixExpr'));
    const ex = node(ctx, 'exponent');
    if (!ex) return base;
    const exponent = this.expr(ex);
    return { kind: 'Binary', op: '^', left: base, right: exponent, span: union(base.span, exponent.span) };
  }

  exponent(ctx: Ctx): A.Expr {
    const inner = this.expr(node(ctx, 'powExpr'));
    const sign = tok(ctx, 'Minus') ?? tok(ctx, 'Plus');
    if (!sign) return inner;
    return { kind: 'Unary', op: sign.tokenType.name === 'Minus' ? '-' : '+', operand: inner, span: union(tokenSpan(sign), inner.span) };
  }

  postfixExpr(ctx: Ctx): A.Expr {
    let result = this.expr(node(ctx, 'primary'));
    const seq = ordered(ctx);
    let pending: A.Expr[] | undefined;
    for (const e of seq) {
      if (isToken(e)) {
        const name = e.tokenType.name;
        if (name === 'LSquare') pending = [];
        else if (name === 'RSquare' && pending) {
          result = { kind: 'Index', target: result, indices: pending, span: union(result.span, tokenSpan(e)) };
          pending = undefined;
        } else if (name === 'Transpose') result = { kind: 'Transpose', operand: result, span: union(result.span, tokenSpan(e)) };
      } else if (e.name === 'expression' && pending) pending.push(this.expr(e));
    }
    if (pending && pending.length) result = { kind: 'Index', target: result, indices: pending, span: result.span };
    return result;
  }

  primary(ctx: Ctx): A.Expr {
    const n = tok(ctx, 'NumberLit');
    if (n) return { kind: 'Number', value: Number(n.image), text: n.image, span: tokenSpan(n) };
    const child = ordered(ctx)[0];
    return child && !isToken(child) ? this.expr(child) : MISSING;
  }

  callOrName(ctx: Ctx): A.Expr {
    const id = ident(tok(ctx, 'Identifier'));
    if (!tok(ctx, 'LParen')) return { kind: 'Name', name: id.name, span: id.span };
    const al = node(ctx, 'argList');
    const args: A.Arg[] = al ? this.visit(al) : [];
    const end = tok(ctx, 'RParen');
    return { kind: 'Call', callee: id, args, span: end ? union(id.span, tokenSpan(end)) : id.span };
  }

  parenExpr(ctx: Ctx): A.Expr {
    const inner = this.expr(node(ctx, 'expression'));
    if (inner === MISSING) return MISSING;
    // The span covers the parentheses, so that diagnostics underline `(a + b)` whole.
    const l = realToken(tok(ctx, 'LParen'));
    const r = realToken(tok(ctx, 'RParen'));
    return { ...inner, parens: true, span: union(l ? tokenSpan(l) : inner.span, r ? tokenSpan(r) : inner.span) };
  }

  vectorExpr(ctx: Ctx): A.Expr {
    const elements = nodes(ctx, 'expression').map((e) => this.expr(e));
    return { kind: 'Vector', elements, span: union(tokenSpan(tok(ctx, 'LSquare')), tokenSpan(tok(ctx, 'RSquare'))) };
  }

  argList(ctx: Ctx): A.Arg[] {
    return nodes(ctx, 'arg').map((a) => this.visit(a));
  }

  arg(ctx: Ctx): A.Arg {
    const value = this.expr(node(ctx, 'expression'));
    const nameTok = tok(ctx, 'Identifier');
    if (nameTok) {
      const name = ident(nameTok);
      return { name, value, span: union(name.span, value.span) };
    }
    return { value, span: value.span };
  }
}

function normaliseOp(image: string): A.BinaryOp {
  switch (image) {
    case '≤':
      return '<=';
    case '≥':
      return '>=';
    case '≠':
      return '!=';
    case '−':
      return '-';
    case '&&':
      return '&';
    case '||':
      return '|';
    case '×':
      return '*';
    default:
      return image as A.BinaryOp;
  }
}

let visitor: ToAst | undefined;
export function toAst(cst: CstNode): { specs: A.Spec[]; problems: AstProblem[] } {
  visitor ??= new ToAst();
  visitor.problems = [];
  const specs = visitor.visit(cst) as A.Spec[];
  return { specs, problems: visitor.problems };
}

export { nodeSpan as cstSpan };
