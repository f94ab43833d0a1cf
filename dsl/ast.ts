/**
 * The attention-spec AST: what the parser produces from source and the JSON form produces from
 * JSON. Every node carries a source span. Nodes are plain data (discriminated unions on `kind`).
 */
import type { Span } from '../compiler/diagnostics/source.ts';

export interface Ident {
  name: string;
  span: Span;
}

// ── expressions ─────────────────────────────────────────────────────────────

export type BinaryOp = '+' | '-' | '*' | '/' | '@' | '⊗' | '^' | '<' | '<=' | '>' | '>=' | '==' | '!=' | '&' | '|';
export type UnaryOp = '-' | '+' | '!';

interface ExprBase {
  span: Span;
  /** The user wrote parentheses around this expression (kept by the formatter; no meaning). */
  parens?: boolean;
}

export interface NumberExpr extends ExprBase {
  kind: 'Number';
  value: number;
  /** The literal as written, so the formatter prints `1e-6` back as `1e-6`. */
  text: string;
}
export interface NameExpr extends ExprBase {
  kind: 'Name';
  name: string;
}
export interface UnaryExpr extends ExprBase {
  kind: 'Unary';
  op: UnaryOp;
  operand: Expr;
}
export interface BinaryExpr extends ExprBase {
  kind: 'Binary';
  op: BinaryOp;
  left: Expr;
  right: Expr;
}
export interface Arg {
  /** Present for named arguments: `beta = sigmoid(b)`. */
  name?: Ident;
  value: Expr;
  span: Span;
}
export interface CallExpr extends ExprBase {
  kind: 'Call';
  callee: Ident;
  args: Arg[];
}
export interface IndexExpr extends ExprBase {
  kind: 'Index';
  target: Expr;
  indices: Expr[];
}
export interface TransposeExpr extends ExprBase {
  kind: 'Transpose';
  operand: Expr;
}
/** `[a, b, c]`: concatenation of scalars and vectors into one vector. */
export interface VectorExpr extends ExprBase {
  kind: 'Vector';
  elements: Expr[];
}

export type Expr = NumberExpr | NameExpr | UnaryExpr | BinaryExpr | CallExpr | IndexExpr | TransposeExpr | VectorExpr;

// ── types ───────────────────────────────────────────────────────────────────

/** `scalar`, `int`, or a shape `[K]`, `[H, K]`, `[2 * K]`. */
export type TypeExpr =
  | { kind: 'NamedType'; name: Ident; span: Span }
  | { kind: 'ShapeType'; dims: Expr[]; span: Span };

export interface Decl {
  name: Ident;
  type: TypeExpr;
  span: Span;
}

// ── items ───────────────────────────────────────────────────────────────────

export interface RuleCall {
  name: Ident;
  /** undefined when written without parentheses (`update softmax`). */
  args: Arg[] | undefined;
  span: Span;
}

export interface Equation {
  target: Ident;
  value: Expr;
  span: Span;
}

export interface DimDef {
  name: Ident;
  value: Expr;
  span: Span;
}

/** A chunk size: an integer or `auto`. */
export type ChunkSize = { kind: 'Int'; value: number; text: string; span: Span } | { kind: 'Auto'; span: Span };

interface ItemBase {
  span: Span;
  /** Span of the leading keyword. */
  keywordSpan: Span;
}

export type Item =
  | (ItemBase & { kind: 'dims'; dims: DimDef[] })
  | (ItemBase & { kind: 'input'; decls: Decl[] })
  | (ItemBase & { kind: 'param'; decls: Decl[] })
  | (ItemBase & { kind: 'state'; decls: Decl[] })
  | (ItemBase & { kind: 'let'; name: Ident; value: Expr })
  | (ItemBase & { kind: 'feature'; target: Ident; value: Expr })
  | (ItemBase & { kind: 'gate'; value: Expr })
  | (ItemBase & { kind: 'update'; rule: RuleCall | undefined; equations: Equation[] })
  | (ItemBase & { kind: 'output'; target: Ident; value: Expr })
  | (ItemBase & { kind: 'read'; rule: RuleCall })
  | (ItemBase & { kind: 'normalize'; mode: Ident })
  | (ItemBase & { kind: 'epilogue'; value: Expr })
  | (ItemBase & { kind: 'score'; value: Expr })
  | (ItemBase & { kind: 'mask'; value: Expr })
  | (ItemBase & { kind: 'direction'; mode: Ident })
  | (ItemBase & { kind: 'chunk'; sizes: ChunkSize[] });

export type ItemKind = Item['kind'];

export const ITEM_KINDS: readonly ItemKind[] = [
  'dims',
  'input',
  'param',
  'let',
  'feature',
  'gate',
  'state',
  'update',
  'output',
  'read',
  'normalize',
  'epilogue',
  'score',
  'mask',
  'direction',
  'chunk',
];

export interface Comment {
  text: string;
  span: Span;
}

export interface Spec {
  kind: 'Attention';
  name: Ident;
  items: Item[];
  span: Span;
}

export interface SpecFile {
  specs: Spec[];
  /** All comments in source order (the formatter places them back). */
  comments: Comment[];
  span: Span;
}
