/**
 * The formatter: idempotent, meaning-preserving (the AST up to spans and the parentheses the user
 * wrote), every comment kept, blank lines collapsed to one; plus hand-written golden outputs.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseAndCheck } from '../../compiler/frontend.ts';
import { format, stripSpans } from '../../dsl/format.ts';
import { parse } from '../../dsl/parse.ts';
import { stdlibFiles } from '../helpers/stdlib.ts';

/** Format `text`, asserting it parses without diagnostics. */
function fmt(text: string): string {
  const p = parse(text, 'in.attn');
  assert.equal(p.diagnostics.map((d) => `${d.code} ${d.message}`), [], 'the input parses');
  return format(p.file, p.source);
}

/** Every property the formatter promises, for one input; returns the formatted text. */
function assertFormatProperties(text: string): string {
  const p = parse(text, 'in.attn');
  assert.equal(p.diagnostics.map((d) => `${d.code} ${d.message}`), [], 'the input parses');
  const once = format(p.file, p.source);
  const q = parse(once, 'out.attn');
  assert.equal(q.diagnostics.map((d) => `${d.code} ${d.message}`), [], `the formatted text parses:\n${once}`);
  assert.fixture(format(q.file, q.source), once, 'format is idempotent');
  assert.equal(stripSpans(q.file.specs), stripSpans(p.file.specs), 'formatting keeps the meaning');
  // Every comment survives, with its text (trailing blanks aside), once each.
  assert.is(q.file.comments.length, p.file.comments.length, 'as many comments');
  for (const c of p.file.comments) assert.ok(once.includes(c.text.trimEnd()), `comment kept: ${c.text}`);
  // No runs of blank lines, no trailing blanks, one final newline.
  assert.not.match(once, /\n\n\n/);
  assert.not.match(once, /[ \t]+\n/);
  assert.ok(once.endsWith('\n') && !once.endsWith('\n\n'), 'ends with exactly one newline');
  assert.not.ok(once.startsWith('\n'), 'no leading blank line');
  return once;
}

for (const f of stdlibFiles()) {
  test(`stdlib/${f.name}: formatting is the identity, and idempotent`, () => {
    assert.fixture(assertFormatProperties(f.text), f.text);
  });
  test(`stdlib/${f.name}: formatting a squashed copy restores the file`, () => {
    // The same spec with its layout destroyed (comments are whole lines in the stdlib, so they stay).
    const squashed = f.text
      .split('\n')
      .map((l) => (l.startsWith('#') ? l : l.trim().replace(/\s+/g, ' ').replace(/ ?([,:=]) ?/g, '$1')))
      .join('\n')
      .replace(/\{\n/, '{ ');
    assert.ok(squashed !== f.text);
    assert.fixture(assertFormatProperties(squashed), f.text);
  });
}

// ── messy inputs ─────────────────────────────────────────────────────────────

const MESSY: Record<string, string> = {
  'odd spacing and one-line items': 'attention   x{dims K=16,V = 32\ninput q:[K],k:[ K ],v:[V]\n   update additive}\n',
  'everything on one line': 'attention x { dims K = 4, V = 4 input q: [K], k: [K], v: [V] gate -1 update additive mask causal chunk 64 }',
  'tabs and CRLF line ends': 'attention x {\r\n\tdims\tK = 4, V = 4\r\n\tinput q: [K], k: [K], v: [V]\r\n\tupdate additive\r\n}\r\n',
  'parentheses kept and added': 'attention x {\n  dims K = 4, V = 4\n  input q: [K], k: [K], v: [V], a: scalar\n  gate ((-(softplus((a)))))\n  feature q = (q) * ((K))^(-0.5)\n  update additive\n}\n',
  'unicode operators': 'attention sm {\n  dims D = 64\n  input q: [D], k: [D], v: [D]\n  score (dot(q, k)) * D^−0.5 − alibi_slope(h)*(i−j)\n  update softmax\n  mask causal & (i − j ≤ 128) | j ≥ 0 & j ≠ 3\n  chunk 128 × 64\n}\n',
  'juxtaposition and transposes': "attention eq {\n  dims K = 4, V = 4\n  input q: [K], k: [K], v: [V]\n  state S: [K, V]\n  update S = S + k⊗v\n  output o = Sᵀ q\n}\nattention eq2 {\n  dims K = 4, V = 4\n  input q: [K], k: [K], v: [V]\n  state S: [K, V]\n  update S = S + outer(k, v)\n  output o = S' q\n}\n",
  'comments in every position':
    '# header 1\n#header 2\n\n\nattention x   # on the attention line\n{ # after the brace\n  # before dims\n  dims K = 4, V = 4   # after dims\n\n\n\n  # between items\n  input q: [K], k: [K], v: [V], a: scalar #tight\n  gate -exp(a) *   # inside a wrapped expression\n     softplus(a)\n  update additive  # last item\n  # before the brace\n}   # after the brace\n\n# after the spec\n#\n',
  'several trailing comments on one item':
    'attention w {\n  dims K = 4, V = 4\n  input q: [K], k: [K],  # q and k\n        v: [V], a: scalar  # v and a\n  gate -exp(a) *  # the decay\n       softplus(a)  # its rate\n  update additive\n}  # one\n# two\n',
  'blank lines everywhere': '\n\n\nattention x {\n\n\n  dims K = 4, V = 4\n\n\n\n  input q: [K], k: [K], v: [V]\n\n  update additive\n\n\n}\n\n\n\nattention y {\n  dims K = 4, V = 4\n  input q: [K], k: [K], v: [V]\n  update additive\n}\n\n\n',
  'two specs on one line': 'attention a { dims K = 4, V = 4 input q: [K], k: [K], v: [V] update additive } attention b { dims D = 4 input q: [D], k: [D], v: [D] update softmax }',
  'empty spec with comments': 'attention e { # only a comment\n  # and another\n}\n',
  'numbers as written': 'attention n {\n  dims K = 0016, V = 4\n  input q: [K], k: [K], v: [V]\n  feature q = q * 1e-6 + .5 * q - 2. * q + 1E3 * q\n  update additive\n}\n',
  'signs, powers and predicates': 'attention p {\n  dims D = 4\n  input q: [D], k: [D], v: [D]\n  score - -dot(q, k) + +1 - (-2)^2 + 2^-2^-1 - -(i - j)\n  update softmax\n  mask !(j > i) && (j <= i || !(i < 0))\n}\n',
  'rule calls and named arguments': 'attention r {\n  dims K = 4, V = 4\n  input q: [K], k: [K], v: [V], b: scalar\n  param u: [H, K]\n  feature q = l2norm(q,eps=1e-5)\n  update delta( beta=sigmoid( b ) )\n  read exclusive(bonus=u[ h ])\n  normalize   none\n  direction causal\n  chunk auto\n}\n',
};

for (const [name, text] of Object.entries(MESSY)) {
  test(`messy input: ${name}`, () => {
    assertFormatProperties(text);
  });
}

test('formatting never changes what the checker says', () => {
  for (const text of Object.values(MESSY)) {
    const codes = (t: string) => parseAndCheck(t).diagnostics.map((d) => d.code).sort();
    assert.equal(codes(fmt(text)), codes(text), text);
  }
});

// ── golden outputs (written by hand) ─────────────────────────────────────────

test('golden: odd spacing becomes the canonical layout', () => {
  assert.fixture(
    fmt(MESSY['odd spacing and one-line items']!),
    ['attention x {', '  dims      K = 16, V = 32', '  input     q: [K], k: [K], v: [V]', '  update    additive', '}', ''].join('\n'),
  );
});

test('golden: unicode operators print in ASCII, tile separators as x, user parentheses kept', () => {
  assert.fixture(
    fmt(MESSY['unicode operators']!),
    [
      'attention sm {',
      '  dims      D = 64',
      '  input     q: [D], k: [D], v: [D]',
      '  score     (dot(q, k)) * D^-0.5 - alibi_slope(h) * (i - j)',
      '  update    softmax',
      '  mask      causal & (i - j <= 128) | j >= 0 & j != 3',
      '  chunk     128 x 64',
      '}',
      '',
    ].join('\n'),
  );
});

test('golden: juxtaposition is printed as @, the prime as ᵀ, ⊗ kept', () => {
  assert.fixture(
    fmt(MESSY['juxtaposition and transposes']!),
    [
      'attention eq {',
      '  dims      K = 4, V = 4',
      '  input     q: [K], k: [K], v: [V]',
      '  state     S: [K, V]',
      '  update    S = S + k ⊗ v',
      '  output    o = Sᵀ @ q',
      '}',
      'attention eq2 {',
      '  dims      K = 4, V = 4',
      '  input     q: [K], k: [K], v: [V]',
      '  state     S: [K, V]',
      '  update    S = S + outer(k, v)',
      '  output    o = Sᵀ @ q',
      '}',
      '',
    ].join('\n'),
  );
});

test('golden: comments in every position, blank lines collapsed to one', () => {
  assert.fixture(
    fmt(MESSY['comments in every position']!),
    [
      '# header 1',
      '#header 2',
      '',
      'attention x {  # on the attention line',
      '  # after the brace',
      '  # before dims',
      '  dims      K = 4, V = 4  # after dims',
      '',
      '  # between items',
      '  input     q: [K], k: [K], v: [V], a: scalar  #tight',
      '  gate      -exp(a) * softplus(a)  # inside a wrapped expression',
      '  update    additive  # last item',
      '  # before the brace',
      '}  # after the brace',
      '',
      '# after the spec',
      '#',
      '',
    ].join('\n'),
  );
});

test('golden: two trailing comments of one item stay two comments', () => {
  // Joined on one line, `# the decay # its rate` would read back as a single comment.
  assert.fixture(
    fmt(MESSY['several trailing comments on one item']!),
    [
      'attention w {',
      '  dims      K = 4, V = 4',
      '  input     q: [K], k: [K], v: [V], a: scalar  # q and k',
      '  # v and a',
      '  gate      -exp(a) * softplus(a)  # the decay',
      '  # its rate',
      '  update    additive',
      '}  # one',
      '# two',
      '',
    ].join('\n'),
  );
});

test('golden: blank lines at the ends go, between specs and items they collapse to one', () => {
  assert.fixture(
    fmt(MESSY['blank lines everywhere']!),
    [
      'attention x {',
      '',
      '  dims      K = 4, V = 4',
      '',
      '  input     q: [K], k: [K], v: [V]',
      '',
      '  update    additive',
      '',
      '}',
      '',
      'attention y {',
      '  dims      K = 4, V = 4',
      '  input     q: [K], k: [K], v: [V]',
      '  update    additive',
      '}',
      '',
    ].join('\n'),
  );
});

test('golden: signs, powers and predicates print with the fewest parentheses that keep the tree', () => {
  assert.fixture(
    fmt(MESSY['signs, powers and predicates']!),
    [
      'attention p {',
      '  dims      D = 4',
      '  input     q: [D], k: [D], v: [D]',
      '  score     --dot(q, k) + +1 - (-2)^2 + 2^-2^-1 - -(i - j)',
      '  update    softmax',
      '  mask      !(j > i) & (j <= i | !(i < 0))',
      '}',
      '',
    ].join('\n'),
  );
});

test('golden: numbers keep their spelling; rule calls are tidied', () => {
  assert.fixture(
    fmt(MESSY['numbers as written']!),
    ['attention n {', '  dims      K = 0016, V = 4', '  input     q: [K], k: [K], v: [V]', '  feature   q = q * 1e-6 + .5 * q - 2. * q + 1E3 * q', '  update    additive', '}', ''].join('\n'),
  );
  assert.fixture(
    fmt(MESSY['rule calls and named arguments']!),
    [
      'attention r {',
      '  dims      K = 4, V = 4',
      '  input     q: [K], k: [K], v: [V], b: scalar',
      '  param     u: [H, K]',
      '  feature   q = l2norm(q, eps = 1e-5)',
      '  update    delta(beta = sigmoid(b))',
      '  read      exclusive(bonus = u[h])',
      '  normalize none',
      '  direction causal',
      '  chunk     auto',
      '}',
      '',
    ].join('\n'),
  );
});

test('golden: precedence parentheses are added where the tree needs them', () => {
  // A tree that no source spelling without parentheses gives: (a + b) * c, built by hand.
  const p = parse('attention x {\n  gate (a + b) * c - (d - e)\n}\n');
  const text = format(p.file, p.source);
  assert.fixture(text, 'attention x {\n  gate      (a + b) * c - (d - e)\n}\n');
  const it = p.file.specs[0]!.items[0]!;
  assert.is(it.kind, 'gate');
  // Drop the user's parentheses: the printer must put back exactly the ones the tree needs.
  const bare = JSON.parse(JSON.stringify(p.file), (k, v) => (k === 'parens' ? undefined : v));
  assert.fixture(format(bare, p.source), 'attention x {\n  gate      (a + b) * c - (d - e)\n}\n');
});

test.run();
