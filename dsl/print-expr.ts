/** Canonical printing of AST expressions and types (formatter, JSON form, messages). */
import type * as A from './ast.ts';

const LEVEL: Record<A.BinaryOp, number> = {
  '|': 1,
  '&': 2,
  '<': 3,
  '<=': 3,
  '>': 3,
  '>=': 3,
  '==': 3,
  '!=': 3,
  '+': 4,
  '-': 4,
  '*': 5,
  '/': 5,
  '@': 5,
  '⊗': 5,
  '^': 7,
};
const UNARY_LEVEL = 6;
const POSTFIX_LEVEL = 8;
const PRIMARY_LEVEL = 9;

function level(e: A.Expr): number {
  switch (e.kind) {
    case 'Binary':
      return LEVEL[e.op];
    case 'Unary':
      return UNARY_LEVEL;
    case 'Index':
    case 'Transpose':
      return POSTFIX_LEVEL;
    default:
      return PRIMARY_LEVEL;
  }
}

export function printExpr(e: A.Expr): string {
  return e.parens ? `(${bare(e)})` : bare(e);
}

/** Print a child, adding parentheses when precedence needs them (the user's own are kept anyway). */
function child(e: A.Expr, needParens: boolean): string {
  if (e.parens) return `(${bare(e)})`;
  return needParens ? `(${bare(e)})` : bare(e);
}

function bare(e: A.Expr): string {
  switch (e.kind) {
    case 'Number':
      return e.text;
    case 'Name':
      return e.name;
    case 'Unary':
      return `${e.op}${child(e.operand, level(e.operand) < UNARY_LEVEL)}`;
    case 'Binary': {
      const l = LEVEL[e.op];
      if (e.op === '^') {
        const left = child(e.left, level(e.left) <= l);
        // The exponent may carry its sign without parentheses: K^-0.5.
        const r = e.right;
        let right: string;
        if (r.kind === 'Unary' && r.op !== '!' && !r.parens && level(r.operand) >= l) right = `${r.op}${child(r.operand, false)}`;
        else right = child(r, level(r) < l);
        return `${left}^${right}`;
      }
      const isCmp = l === 3;
      const left = child(e.left, isCmp ? level(e.left) <= l : level(e.left) < l);
      const right = child(e.right, level(e.right) <= l);
      return `${left} ${e.op} ${right}`;
    }
    case 'Call':
      return `${e.callee.name}(${e.args.map(printArg).join(', ')})`;
    case 'Index':
      return `${child(e.target, level(e.target) < POSTFIX_LEVEL)}[${e.indices.map(printExpr).join(', ')}]`;
    case 'Transpose':
      return `${child(e.operand, level(e.operand) < POSTFIX_LEVEL)}ᵀ`;
    case 'Vector':
      return `[${e.elements.map(printExpr).join(', ')}]`;
  }
}

export function printArg(a: A.Arg): string {
  return a.name ? `${a.name.name} = ${printExpr(a.value)}` : printExpr(a.value);
}

export function printType(t: A.TypeExpr): string {
  return t.kind === 'NamedType' ? t.name.name : `[${t.dims.map(printExpr).join(', ')}]`;
}

export function printRule(r: A.RuleCall): string {
  return r.args === undefined ? r.name.name : `${r.name.name}(${r.args.map(printArg).join(', ')})`;
}

/** The text after an item's keyword. */
export function printItemBody(it: A.Item): string {
  switch (it.kind) {
    case 'dims':
      return it.dims.map((d) => `${d.name.name} = ${printExpr(d.value)}`).join(', ');
    case 'input':
    case 'param':
    case 'state':
      return it.decls.map((d) => `${d.name.name}: ${printType(d.type)}`).join(', ');
    case 'let':
      return `${it.name.name} = ${printExpr(it.value)}`;
    case 'feature':
      return `${it.target.name} = ${printExpr(it.value)}`;
    case 'gate':
    case 'epilogue':
    case 'score':
    case 'mask':
      return printExpr(it.value);
    case 'update':
      return it.rule ? printRule(it.rule) : it.equations.map((q) => `${q.target.name} = ${printExpr(q.value)}`).join(', ');
    case 'output':
      return `${it.target.name} = ${printExpr(it.value)}`;
    case 'read':
      return printRule(it.rule);
    case 'normalize':
    case 'direction':
      return it.mode.name;
    case 'chunk':
      return it.sizes.map((s) => (s.kind === 'Auto' ? 'auto' : s.text)).join(' x ');
  }
}

/** Keywords are padded so that item bodies line up. */
export const KEYWORD_WIDTH = 10;

export function printItem(it: A.Item): string {
  const kw = it.kind.padEnd(KEYWORD_WIDTH);
  return `${kw}${printItemBody(it)}`;
}
