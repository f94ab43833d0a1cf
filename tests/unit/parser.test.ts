/** Parser: precedence, spans, juxtaposition, recovery (several errors in one run). */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type * as A from '../../dsl/ast.ts';
import { parse } from '../../dsl/parse.ts';
import { printExpr } from '../../dsl/print-expr.ts';

function expr(src: string): A.Expr {
  const r = parse(`attention x { gate ${src} }`);
  assert.equal(r.diagnostics.map((d) => d.message), []);
  const it = r.file.specs[0]!.items[0]!;
  assert.is(it.kind, 'gate');
  return (it as Extract<A.Item, { kind: 'gate' }>).value;
}

/** Fully parenthesised form, to see the tree. */
function tree(e: A.Expr): string {
  switch (e.kind) {
    case 'Binary':
      return `(${tree(e.left)} ${e.op} ${tree(e.right)})`;
    case 'Unary':
      return `(${e.op}${tree(e.operand)})`;
    case 'Call':
      return `${e.callee.name}(${e.args.map((a) => (a.name ? `${a.name.name}=` : '') + tree(a.value)).join(', ')})`;
    case 'Index':
      return `${tree(e.target)}[${e.indices.map(tree).join(', ')}]`;
    case 'Transpose':
      return `${tree(e.operand)}ᵀ`;
    case 'Vector':
      return `[${e.elements.map(tree).join(', ')}]`;
    case 'Number':
      return e.text;
    case 'Name':
      return e.name;
  }
}

test('arithmetic precedence and associativity', () => {
  assert.is(tree(expr('a + b * c - d')), '((a + (b * c)) - d)');
  assert.is(tree(expr('a - b - c')), '((a - b) - c)');
  assert.is(tree(expr('-x^2')), '(-(x ^ 2))');
  assert.is(tree(expr('K^-0.5')), '(K ^ (-0.5))');
  assert.is(tree(expr('a^b^c')), '(a ^ (b ^ c))');
  assert.is(tree(expr('a / b / c')), '((a / b) / c)');
});

test('masks: & binds tighter than |, comparisons tighter than &', () => {
  assert.is(tree(expr('causal & i - j < W | j < 4')), '((causal & ((i - j) < W)) | (j < 4))');
  assert.is(tree(expr('!(i < j) & j <= i')), '((!(i < j)) & (j <= i))');
});

test('unicode operators and juxtaposition', () => {
  assert.is(tree(expr('exp(g) * S + k ⊗ v')), '(((exp(g) * S)) + (k ⊗ v))'.replace('((exp(g) * S))', '(exp(g) * S)'));
  assert.is(tree(expr('Sᵀ q')), '(Sᵀ @ q)');
  assert.is(tree(expr("S' @ q")), '(Sᵀ @ q)');
  assert.is(tree(expr('i ≤ j')), '(i <= j)');
  assert.is(tree(expr('a − b')), '(a - b)');
});

test('calls with named arguments, indexing, vectors', () => {
  assert.is(tree(expr('l2norm(x, eps = 1e-6)')), 'l2norm(x, eps=1e-6)');
  assert.is(tree(expr('A_log[h]')), 'A_log[h]');
  assert.is(tree(expr('[relu(q) * c, -z]')), '[(relu(q) * c), (-z)]');
});

test('printing keeps meaning and user parentheses', () => {
  for (const s of ['a + (b + c)', '-(q^2)^3', '(a - (b - c)) * -x^-2', 'causal & (i - j < 4096) | j < 4', '(a + b)ᵀ @ q', 'f(x)[h]']) {
    const e = expr(s);
    const again = expr(printExpr(e));
    assert.is(tree(again), tree(e), s);
  }
});

test('every node has a span inside the source', () => {
  const src = 'attention x {\n  dims K = 4\n  gate -exp(A[h]) * softplus(a + b[h])\n}\n';
  const r = parse(src);
  const check = (e: A.Expr) => {
    assert.ok(e.span.start >= 0 && e.span.end <= src.length && e.span.start < e.span.end, `${e.kind} span`);
    if (e.kind === 'Binary') {
      check(e.left);
      check(e.right);
    }
    if (e.kind === 'Unary') check(e.operand);
    if (e.kind === 'Call') e.args.forEach((a) => check(a.value));
  };
  const g = r.file.specs[0]!.items[1] as Extract<A.Item, { kind: 'gate' }>;
  check(g.value);
  assert.is(src.slice(g.value.span.start, g.value.span.end), '-exp(A[h]) * softplus(a + b[h])');
});

test('recovery reports several syntax errors in one run', () => {
  const r = parse('attention x {\n  input q: [K], k: [K] v: [V]\n  update delta(beta = sigmoid(b)\n  mask causal &\n}\n');
  assert.ok(r.diagnostics.length >= 3, `${r.diagnostics.length} errors`);
  assert.ok(r.diagnostics.every((d) => d.code.startsWith('ATTN1')));
});

test('a mistyped keyword on its own line is an item error, not a factor', () => {
  const r = parse('attention x {\n  feature q = q * 2\n  gat -1\n}\n');
  assert.is(r.diagnostics[0]?.code, 'ATTN1005');
  assert.match(r.diagnostics[0]!.hint ?? '', "did you mean 'gate'");
});

test.run();
