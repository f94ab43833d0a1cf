/**
 * Focused checker tests, beyond the rendered baselines of tests/cases/errors: the log-space proof
 * of gates, leading-axis broadcasting, feature dimensions, dims overrides, index variables per
 * context, mask/family rules, chunk rules and equation-form specs.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { check, type CheckOptions } from '../../compiler/check/checker.ts';
import type { TypedSpec } from '../../compiler/check/typed-spec.ts';
import { parseAndCheck, type FrontendResult } from '../../compiler/frontend.ts';
import { parse } from '../../dsl/parse.ts';

const RECURRENT_HEAD = 'dims K = 8, V = 16\n  input q: [K], k: [K], v: [V], x: scalar, a: scalar, b: scalar, g: [K], y: [V]\n  param A_log: [H], dt_bias: [H]';
const SOFTMAX_HEAD = 'dims D = 8\n  input q: [D], k: [D], v: [D], f: scalar, doc: int';

/** A spec from item lines; the default head declares the usual names. */
function run(items: string, opts: CheckOptions & { head?: string } = {}): FrontendResult {
  const { head = RECURRENT_HEAD, ...checkOpts } = opts;
  const text = `attention s {\n  ${head}\n  ${items.trim().split('\n').join('\n  ')}\n}\n`;
  return parseAndCheck(text, 's.attn', checkOpts);
}

const errors = (r: FrontendResult) => r.diagnostics.filter((d) => d.severity === 'error').map((d) => d.code);
/** Warnings other than unused inputs (the shared head declares more inputs than most tests use). */
const warnings = (r: FrontendResult) => r.diagnostics.filter((d) => d.severity === 'warning' && d.code !== 'ATTN2040').map((d) => d.code);
const show = (r: FrontendResult) => r.diagnostics.map((d) => `${d.code} ${d.message}`).join('\n');

/** Checks clean (warnings allowed unless `noWarnings`). */
function ok(items: string, opts: CheckOptions & { head?: string; noWarnings?: boolean } = {}): TypedSpec {
  const r = run(items, opts);
  assert.equal(errors(r), [], show(r));
  if (opts.noWarnings) assert.equal(warnings(r), [], show(r));
  assert.ok(r.ok);
  assert.is(r.specs.length, 1);
  return r.specs[0]!;
}

/** Fails with exactly these error codes (in source order); returns the result. */
function fails(items: string, codes: string[], opts: CheckOptions & { head?: string } = {}): FrontendResult {
  const r = run(items, opts);
  assert.equal(errors(r), codes, show(r));
  assert.not.ok(r.ok);
  assert.is(r.specs.length, 0);
  return r;
}

// ── gates: the log-space proof ──────────────────────────────────────────────

const LOG_SPACE_GATES = ['-softplus(x)', 'logsigmoid(x)', '-exp(a) * softplus(b)', '-exp(A_log[h]) * softplus(a + dt_bias[h])', 'log(1 - 2^(-5 - h))', 'min(g, 0)', 'min(x, 0)', '-8 * h / H', 'logsigmoid(g) / 16', '-exp(g)', '0', '-abs(x)', '-relu(x)', '-(x^2)', '-softplus(x) * sigmoid(b)', 'clamp(x, -5, 0)', '-sum(exp(g))', 'log(sigmoid(x))'];
for (const g of LOG_SPACE_GATES) {
  test(`gate proven ≤ 0: ${g}`, () => {
    const s = ok(`gate ${g}\nupdate additive`, { noWarnings: true });
    assert.ok(s.gate, 'the gate is kept');
    assert.ok(s.gate!.range.hi <= 0, `range ${s.gate!.range.lo}..${s.gate!.range.hi}`);
  });
}

const NOT_LOG_SPACE: [string, string][] = [
  ['sigmoid(x)', '[0, 1]'],
  ['x', '[-∞, ∞]'],
  ['exp(x)', '[0, ∞]'],
  ['softplus(x)', '[0, ∞]'],
  ['-x', '[-∞, ∞]'],
  ['h / H', '[0, ∞]'],
];
for (const [g, range] of NOT_LOG_SPACE) {
  test(`gate not provably ≤ 0 warns ATTN2023: ${g}`, () => {
    const r = run(`gate ${g}\nupdate additive`);
    assert.equal(errors(r), [], show(r));
    assert.equal(warnings(r), ['ATTN2023'], show(r));
    const d = r.diagnostics.find((x) => x.code === 'ATTN2023')!;
    assert.is(d.severity, 'warning');
    assert.is(d.message, `the gate is not provably ≤ 0 (log space): its range is ${range}`);
    assert.is(r.source.text.slice(d.span.start, d.span.end), g, 'the warning points at the gate');
    assert.ok(r.ok, 'a warning does not fail the spec');
  });
}

// A gate above 0 for every input is a decay above 1: an error, not a warning.
const POSITIVE_GATES: [string, string][] = [
  ['1 - 2^(-5 - h)', '[0.9688, 1]'],
  ['softplus(x) + 0.5', '[0.5, ∞]'],
  ['exp(x) + 1', '[1, ∞]'],
  ['2', '[2, 2]'],
];
for (const [g, range] of POSITIVE_GATES) {
  test(`gate > 0 for every input is error ATTN2046: ${g}`, () => {
    const r = run(`gate ${g}\nupdate additive`);
    assert.equal(errors(r), ['ATTN2046'], show(r));
    assert.equal(warnings(r), [], show(r));
    assert.match(r.diagnostics.find((x) => x.code === 'ATTN2046')!.message, `its range is ${range}`);
  });
}

test('a gate that is log(decay) is proven through the decay: log of (0, 1] is ≤ 0', () => {
  assert.equal(ok('gate log(sigmoid(x))\nupdate additive').gate!.range, { lo: -Infinity, hi: 0 });
  assert.equal(ok('gate log(1 - 2^(-5 - h))\nupdate additive').gate!.range.hi, Math.log(1));
  assert.equal(warnings(run('gate log(1 + sigmoid(x))\nupdate additive')), ['ATTN2023']);
});

test('unused inputs other than q, k, v warn (ATTN2040), and do not fail the spec', () => {
  const r = run('update additive', { head: 'dims K = 8, V = 16\n  input q: [K], k: [K], v: [V], x: scalar' });
  assert.equal(
    r.diagnostics.map((d) => [d.code, d.severity, d.message]),
    [['ATTN2040', 'warning', "input 'x' is never used"]],
  );
  assert.ok(r.ok);
});

test('gate shapes: scalar or [K] in recurrent specs, scalar in softmax specs; numbers only', () => {
  assert.equal(ok('gate -exp(g)\nupdate additive').gate!.expr.shape, [8]);
  assert.equal(ok('gate -exp(x)\nupdate additive').gate!.expr.shape, []);
  fails('gate -exp(y)\nupdate additive', ['ATTN2015']);
  fails('gate x < 0\nupdate additive', ['ATTN2016']);
  const soft = { head: 'dims D = 8\n  input q: [D], k: [D], v: [D], f: scalar, w: [D]' };
  assert.ok(ok('gate logsigmoid(f)\nupdate softmax', soft).gate);
  fails('gate logsigmoid(w)\nupdate softmax', ['ATTN2015'], soft);
});

// ── broadcasting ────────────────────────────────────────────────────────────

test('leading-axis broadcasting: [K] * [K, V] scales rows; [V] * [K, V] is an error when K ≠ V', () => {
  const s = ok('state S: [K, V]\nupdate S = g * S + k ⊗ v\noutput o = Sᵀ @ q');
  assert.is(s.rule.kind, 'equations');
  const r = fails('state S: [K, V]\nupdate S = y * S + k ⊗ v\noutput o = Sᵀ @ q', ['ATTN2003']);
  const d = r.diagnostics.find((x) => x.code === 'ATTN2003')!;
  assert.is(d.message, "shapes do not match for '*': [16] and [8, 16]");
  assert.equal(
    d.labels.map((l) => l.message),
    ['this is [16]', 'this is [8, 16]'],
  );
  // The same spec with K = V broadcasts: shapes are checked by size, after dims are resolved.
  ok('state S: [K, V]\nupdate S = y * S + k ⊗ v\noutput o = Sᵀ @ q', { head: RECURRENT_HEAD.replace('V = 16', 'V = 8') });
});

test('broadcasting: scalars go everywhere, [K, V] * [K] is symmetric, [V] + [K] is not', () => {
  ok('state S: [K, V]\nupdate S = exp(x) * S + k ⊗ v\noutput o = Sᵀ @ q');
  ok('state S: [K, V]\nupdate S = S * exp(g) + k ⊗ v\noutput o = Sᵀ @ q');
  fails('feature q = q + y\nupdate additive', ['ATTN2003']);
  fails('state S: [K, V]\nupdate S = S + v ⊗ k\noutput o = Sᵀ @ q', ['ATTN2003']);
});

// ── feature dimensions ──────────────────────────────────────────────────────

test('feature dimensions: taylor2 of [D] gives 1 + D + D²', () => {
  const s = ok('feature q = taylor2(q)\nfeature k = taylor2(k)\nupdate additive');
  assert.is(s.keyDim, 1 + 8 + 64);
  assert.equal(s.features.q.shape, [73]);
  assert.is(s.valueDim, 16);
});

test('feature dimensions: concatenation adds lengths (scalars count one)', () => {
  assert.is(ok('feature q = [relu(q), relu(-q)]\nfeature k = [relu(k), relu(-k)]\nupdate additive').keyDim, 16);
  assert.is(ok('feature q = [1, q, x]\nfeature k = [1, k, a]\nupdate additive').keyDim, 10);
  assert.is(ok('feature q = [q, g, 2 * q]\nfeature k = [k, k, k]\nupdate additive').keyDim, 24);
});

test('feature dimensions: W @ x with W: [M, K] gives [M]', () => {
  const head = 'dims K = 8, V = 16, M = 32\n  input q: [K], k: [K], v: [V]\n  param W: [M, K], Wh: [H, M, K]';
  assert.is(ok('feature q = W @ q\nfeature k = W @ k\nupdate additive', { head }).keyDim, 32);
  assert.is(ok('feature q = exp(Wh[h] @ q)\nfeature k = exp(Wh[h] @ k)\nupdate additive', { head }).keyDim, 32);
  // W: [M, K] cannot multiply a [M] vector (the inner dims differ).
  fails('feature q = W @ (W @ q)\nfeature k = W @ k\nupdate additive', ['ATTN2003'], { head });
});

test('feature dimensions: φ_q and φ_k must agree; φ_v sets the value dimension', () => {
  const r = fails('feature q = taylor2(q)\nupdate additive', ['ATTN2014']);
  assert.match(r.diagnostics[0]!.message, 'φ_q has [73], φ_k has [8]');
  const s = ok('feature v = [v, v]\nupdate additive');
  assert.is(s.valueDim, 32);
  fails('feature q = sum(q)\nfeature k = sum(k)\nupdate additive', ['ATTN2006', 'ATTN2006']);
});

// ── dims overrides ──────────────────────────────────────────────────────────

test('check(file, source, { dims }) overrides a declared dim: keyDim follows it', () => {
  const p = parse(`attention s {\n  ${RECURRENT_HEAD}\n  update additive\n}\n`, 's.attn');
  assert.is(check(p.file, p.source).specs[0]!.keyDim, 8);
  const r = check(p.file, p.source, { dims: { K: 8 * 4 } });
  assert.equal(r.diagnostics.filter((d) => d.severity === 'error'), []);
  assert.is(r.specs[0]!.keyDim, 32);
  assert.is(r.specs[0]!.dims.get('K'), 32);
  assert.is(r.specs[0]!.valueDim, 16);
  const bad = check(p.file, p.source, { dims: { Z: 8 } });
  assert.equal(
    bad.diagnostics.map((d) => d.code),
    ['ATTN2007'],
  );
  assert.equal(bad.specs, []);
});

test('dims overrides replace declared values everywhere', () => {
  const s = ok('feature q = taylor2(q)\nfeature k = taylor2(k)\nupdate additive', { dims: { K: 4 } });
  assert.is(s.dims.get('K'), 4);
  assert.is(s.keyDim, 1 + 4 + 16);
  assert.is(ok('update additive', { dims: { K: 2, V: 3 } }).valueDim, 3);
  // Dims computed from an overridden one follow it.
  const head = 'dims K = 8, V = 2 * K\n  input q: [K], k: [K], v: [V]';
  assert.is(ok('update additive', { head, dims: { K: 5 } }).valueDim, 10);
});

test('dims overrides: unknown names and bad values are errors', () => {
  const r = fails('update additive', ['ATTN2007'], { dims: { Q: 8 } });
  assert.is(r.diagnostics[0]!.message, "unknown dimension 'Q'");
  assert.match(r.diagnostics[0]!.hint ?? '', 'declares: K, V');
  assert.match(fails('update additive', ['ATTN2007'], { dims: { k: 8 } }).diagnostics[0]!.hint ?? '', /did you mean 'K'\?|declares/);
  // A bad value for a declared dim is one error (not also "unknown dimension").
  fails('update additive', ['ATTN2008'], { dims: { K: 0 } });
  fails('update additive', ['ATTN2008'], { dims: { V: 2.5 } });
});

// ── heads: GQA is a run-time head mapping, not a checker matter ─────────────

test('H is the symbolic head count: never a dim, only the leading axis of parameters', () => {
  // The checker never fixes the number of heads (GQA/GVA head mappings are chosen at run time).
  fails('update additive', ['ATTN2043'], { head: 'dims K = 8, V = 16, H = 4\n  input q: [K], k: [K], v: [V]' });
  fails('update additive', ['ATTN2007'], { dims: { H: 4 } });
  fails('update additive', ['ATTN2013'], { head: 'dims K = 8, V = 16\n  input q: [K], k: [K], v: [V], c: [H]' });
  fails('update additive', ['ATTN2013'], { head: 'dims K = 8, V = 16\n  input q: [K], k: [K], v: [V]\n  param c: [K, H]' });
  const s = ok('gate -exp(A_log[h]) * softplus(x + dt_bias[h]) * H / H\nupdate additive');
  assert.equal(
    s.params.map((p) => [p.name, p.perHead, p.shape]),
    [
      ['A_log', true, []],
      ['dt_bias', true, []],
    ],
  );
});

// ── index variables ─────────────────────────────────────────────────────────

const INDEX_CASES: [string, string, string[]][] = [
  // [context, items, error codes]
  ['t, h, T, H in a gate', 'gate -softplus(x) * t / T * h / H\nupdate additive', []],
  ['i in a gate', 'gate -0.1 * i\nupdate additive', ['ATTN2011']],
  ['j in a feature map', 'feature q = q * j\nfeature k = k * j\nupdate additive', ['ATTN2011', 'ATTN2011']],
  ['t in a feature map (cosFormer)', 'feature q = q * cos(t)\nfeature k = k * cos(t)\nupdate additive', []],
  ['t in a let', 'let c = pi * t / 64\nfeature q = q * cos(c)\nfeature k = k * cos(c)\nupdate additive', []],
  ['i in a let', 'let c = i\nupdate additive', ['ATTN2011']],
  ['t in an update argument', 'update delta(beta = sigmoid(b) * t / T)', []],
  ['i in an update argument', 'update delta(beta = sigmoid(b) * i)', ['ATTN2011']],
  ['a parameter indexed by t', 'gate -exp(A_log[t])\nupdate additive', ['ATTN2013']],
  ['a per-head parameter without its index', 'gate -exp(A_log)\nupdate additive', ['ATTN2025']],
  ['a per-token input indexed outside scores', 'gate -softplus(x[i])\nupdate additive', ['ATTN2013']],
  ['a reserved index name declared', 'let t = 1\nupdate additive', ['ATTN2043']],
];
for (const [what, items, codes] of INDEX_CASES) {
  test(`index variables (recurrent): ${what}`, () => {
    if (codes.length) fails(items, codes);
    else ok(items);
  });
}

const PAIR_CASES: [string, string, string[]][] = [
  ['i, j, h, H in a score', 'score dot(q, k) - alibi_slope(h) * (i - j) / H\nupdate softmax', []],
  ['t in a score', 'score dot(q, k) * t\nupdate softmax', ['ATTN2011']],
  ['T in a mask', 'update softmax\nmask causal & i < T', []],
  ['t in a mask', 'update softmax\nmask causal & t < 4', ['ATTN2011']],
  ['a per-token input in a score without a token', 'score dot(q, k) + f\nupdate softmax', ['ATTN2012']],
  ['a per-token input in a score, indexed by i and j', 'score dot(q, k) + f[i] - f[j]\nupdate softmax', []],
  ['a per-token input indexed by t in a score', 'score dot(q, k) + f[t]\nupdate softmax', ['ATTN2013']],
  ['h inside a mask built-in', 'update softmax\nmask causal & window(h + 1)', []],
  ['i inside a mask built-in', 'update softmax\nmask causal & window(i)', ['ATTN2011']],
  ['an int input compared in a mask', 'update softmax\nmask causal & doc[i] == doc[j]', []],
  ['an int input in arithmetic', 'score dot(q, k) + doc[i]\nupdate softmax', ['ATTN2027']],
  ['segment over an int input', 'update softmax\nmask causal & segment(doc)', []],
  ['segment over a real input', 'update softmax\nmask causal & segment(f)', ['ATTN2016']],
  ['a per-token let in a score', 'let z = f * 2\nscore dot(q, k) + z\nupdate softmax', ['ATTN2016']],
];
for (const [what, items, codes] of PAIR_CASES) {
  test(`index variables (softmax): ${what}`, () => {
    if (codes.length) fails(items, codes, { head: SOFTMAX_HEAD });
    else ok(items, { head: SOFTMAX_HEAD });
  });
}

test('IndexVarNotAllowed says where, and what the place may use', () => {
  const r = fails('gate -0.1 * i\nupdate additive', ['ATTN2011']);
  assert.is(r.diagnostics[0]!.message, "index variable 'i' cannot be used in the gate");
  assert.is(r.diagnostics[0]!.hint, 'the gate may use: t, h, T, H');
  const s = fails('score dot(q, k) * t\nupdate softmax', ['ATTN2011'], { head: SOFTMAX_HEAD });
  assert.is(s.diagnostics[0]!.hint, 'the score may use: i, j, h, T, H');
});

// ── masks and families ──────────────────────────────────────────────────────

test('family: a named softmax-like rule or a score without update makes a softmax spec', () => {
  assert.is(ok('update additive').family, 'recurrent');
  for (const rule of ['softmax', 'sigmoid', 'relu']) assert.is(ok(`update ${rule}`, { head: SOFTMAX_HEAD }).family, 'softmax');
  assert.is(ok('score dot(q, k)', { head: SOFTMAX_HEAD }).family, 'softmax');
  fails('gate -1', ['ATTN2010']);
});

test('masks on recurrent specs: causal only, or all with direction bidirectional', () => {
  assert.ok(ok('update additive').maskIsCausal);
  assert.ok(ok('update additive\nmask causal').maskIsCausal);
  assert.ok(ok('update additive\nmask j <= i').maskIsCausal);
  assert.ok(ok('update additive\nmask i >= j').maskIsCausal);
  const w = fails('update additive\nmask causal & window(128)', ['ATTN2020']);
  assert.match(w.diagnostics[0]!.message, 'only `causal` (or `all` with `direction bidirectional`) is possible');
  fails('update additive\nmask sink(4) | causal', ['ATTN2020']);
  fails('update additive\nmask segment(doc)', ['ATTN2020'], { head: 'dims K = 8, V = 16\n  input q: [K], k: [K], v: [V], doc: int' });
  const all = fails('update additive\nmask all', ['ATTN2020']);
  assert.match(all.diagnostics[0]!.message, 'a full mask needs `direction bidirectional`');
  const bi = ok('update additive\nmask all\ndirection bidirectional');
  assert.is(bi.direction, 'bidirectional');
  assert.not.ok(bi.maskIsCausal);
  assert.is(ok('update additive\ndirection bidirectional').direction, 'bidirectional');
  fails('update additive\nmask causal\ndirection bidirectional', ['ATTN2020']);
});

test('bidirectional recurrent specs: additive only, no maxabs, no exclusive read', () => {
  fails('update delta(beta = sigmoid(b))\ndirection bidirectional', ['ATTN2032']);
  fails('update dplr(a = g, b = g)\ndirection bidirectional', ['ATTN2032']);
  fails('update additive\nnormalize maxabs\ndirection bidirectional', ['ATTN2032']);
  fails('update additive\nread exclusive\ndirection bidirectional', ['ATTN2032']);
  ok('update additive\nnormalize sum\ndirection bidirectional');
  fails('update additive\ndirection sideways', ['ATTN2017']);
});

test('masks on softmax specs: any predicate; a number is not a mask', () => {
  for (const m of ['causal & window(64)', 'causal & (window(64) | sink(4))', 'prefix(16)', 'block_causal(32)', 'causal & segment(doc)', 'all', 'none', 'i - j < 4 & j <= i', '!(j > i)']) {
    ok(`update softmax\nmask ${m}`, { head: SOFTMAX_HEAD });
  }
  assert.not.ok(ok('update softmax\nmask causal & window(64)', { head: SOFTMAX_HEAD }).maskIsCausal);
  fails('update softmax\nmask i - j', ['ATTN2028'], { head: SOFTMAX_HEAD });
  fails('update softmax\nmask causal & i', ['ATTN2016'], { head: SOFTMAX_HEAD });
  fails('gate -1\nmask window(4)\nupdate additive', ['ATTN2020']);
});

test('family items: score, read, normalize, state equations belong to one family', () => {
  fails('update additive\nscore dot(q, k)', ['ATTN2026']);
  fails('update softmax\nread inclusive', ['ATTN2026'], { head: SOFTMAX_HEAD });
  fails('update softmax\nnormalize sum', ['ATTN2026'], { head: SOFTMAX_HEAD });
  fails('score dot(q, k)\nupdate softmax(scale = 2)', ['ATTN2019'], { head: SOFTMAX_HEAD });
});

// ── chunk sizes ─────────────────────────────────────────────────────────────

const CHUNKS: [string, 'recurrent' | 'softmax', unknown][] = [
  ['64', 'recurrent', { kind: 'size', size: 64 }],
  ['16', 'recurrent', { kind: 'size', size: 16 }],
  ['256', 'recurrent', { kind: 'size', size: 256 }],
  ['auto', 'recurrent', { kind: 'auto' }],
  ['128 x 64', 'softmax', { kind: 'tiles', q: 128, k: 64 }],
  ['128 × 64', 'softmax', { kind: 'tiles', q: 128, k: 64 }],
  ['64 * 32', 'softmax', { kind: 'tiles', q: 64, k: 32 }],
  ['64', 'softmax', { kind: 'tiles', q: 64, k: 64 }],
  ['auto', 'softmax', { kind: 'auto' }],
];
for (const [c, family, want] of CHUNKS) {
  test(`chunk ${c} on a ${family} spec`, () => {
    const s = family === 'recurrent' ? ok(`update additive\nchunk ${c}`) : ok(`update softmax\nchunk ${c}`, { head: SOFTMAX_HEAD });
    assert.equal(s.chunk, want);
  });
}
test('no chunk item is auto', () => {
  assert.equal(ok('update additive').chunk, { kind: 'auto' });
});

const BAD_CHUNKS: [string, string, string[]][] = [
  ['100', 'recurrent', ['ATTN2021']],
  ['8', 'recurrent', ['ATTN2021']],
  ['512', 'recurrent', ['ATTN2021']],
  ['0', 'recurrent', ['ATTN2021']],
  ['64.5', 'recurrent', ['ATTN2021']],
  ['big', 'recurrent', ['ATTN2021']],
  ['1e999', 'recurrent', ['ATTN2021']],
  ['128 x 64', 'recurrent', ['ATTN2022']],
  ['auto x 64', 'softmax', ['ATTN2021']],
  ['64 x 300', 'softmax', ['ATTN2021']],
  ['64 by 32', 'softmax', ['ATTN1007']],
];
for (const [c, family, codes] of BAD_CHUNKS) {
  test(`chunk ${c} on a ${family} spec is an error`, () => {
    if (family === 'recurrent') fails(`update additive\nchunk ${c}`, codes);
    else fails(`update softmax\nchunk ${c}`, codes, { head: SOFTMAX_HEAD });
  });
}

test('the chunk-size message says what is allowed', () => {
  const r = fails('update additive\nchunk 100', ['ATTN2021']);
  assert.is(r.diagnostics[0]!.message, 'chunk size 100 is not allowed: sizes are multiples of 16 from 16 to 256');
});

// ── equation-form specs ─────────────────────────────────────────────────────

test('equation form: state S: [K, V]; S = exp(g) * S + k ⊗ v; o = Sᵀ @ q checks clean', () => {
  const s = ok('state S: [K, V]\nupdate S = exp(g) * S + k ⊗ v\noutput o = Sᵀ @ q', { noWarnings: false });
  assert.is(s.family, 'recurrent');
  assert.equal(
    s.states.map((x) => [x.name, x.shape]),
    [['S', [8, 16]]],
  );
  assert.is(s.rule.kind, 'equations');
  if (s.rule.kind !== 'equations') return;
  assert.equal(
    s.rule.equations.map((e) => [e.target, e.value.shape]),
    [['S', [8, 16]]],
  );
  assert.equal(s.rule.output!.shape, [16]);
  // The same with juxtaposition and a prime.
  ok("state S: [K, V]\nupdate S = exp(g) * S + k ⊗ v\noutput o = S' q");
  // A normalizer state next to the main one.
  ok('state S: [K, V], z: [K]\nupdate S = exp(g) * S + k ⊗ v, z = exp(g) * z + k\noutput o = Sᵀ @ q / dot(z, q)');
});

test('equation form: the rules around states, updates and outputs', () => {
  fails('state S: [K, V]\nupdate S = exp(g) * S + k ⊗ v', ['ATTN2010']);
  // An undeclared state is reported once; its later uses stay quiet.
  fails('update S = S + k ⊗ v\noutput o = Sᵀ @ q', ['ATTN2031']);
  fails('state S: [K, V], z: [K]\nupdate S = S + k ⊗ v\noutput o = Sᵀ @ q', ['ATTN2030']);
  fails('state S: [V, K]\nupdate S = S + v ⊗ k\noutput o = S @ q', ['ATTN2039']);
  fails('state S: [K, V]\nupdate S = S + k ⊗ v\noutput o = S @ q', ['ATTN2003']);
  fails('state S: [K, V]\nupdate S = k\noutput o = Sᵀ @ q', ['ATTN2039']);
  fails('state S: [K, V, V]\nupdate S = S + k ⊗ v\noutput o = Sᵀ @ q', ['ATTN2039']);
  // A state whose declaration failed is reported once, not again at its update and output.
  fails('state S: int\nupdate S = S + k ⊗ v\noutput o = Sᵀ @ q', ['ATTN2024']);
  fails('update additive\noutput o = q', ['ATTN2041']);
  fails('state S: [K, V]\nupdate S = S + k ⊗ v, S = S\noutput o = Sᵀ @ q', ['ATTN2002']);
  fails('state S: [K, V]\nupdate S = S + k ⊗ v\noutput o = Sᵀ @ q\nupdate additive', ['ATTN2009']);
});

// ── named rules ─────────────────────────────────────────────────────────────

test('named rules: arguments by name, of the right shape', () => {
  const d = ok('update delta(beta = sigmoid(b))');
  assert.is(d.rule.kind === 'named' && d.rule.name, 'delta');
  assert.equal(Object.keys(d.rule.kind === 'named' ? d.rule.args : {}), ['beta']);
  ok('update additive(scale = exp(a))');
  ok('update dplr(a = g, b = g)');
  fails('update delta', ['ATTN2018']);
  fails('update delta(sigmoid(b))', ['ATTN2018', 'ATTN2019']);
  fails('update delta(beta = g)', ['ATTN2006']);
  fails('update dplr(a = x, b = g)', ['ATTN2006']);
  fails('update delta(beta = b, beta = b)', ['ATTN2038']);
  const typo = fails('update addtive', ['ATTN2017']);
  assert.is(typo.diagnostics[0]!.message, "unknown update rule 'addtive'");
  assert.is(typo.diagnostics[0]!.hint, "did you mean 'additive'?");
});

// ── nesting limits ──────────────────────────────────────────────────────────

test('lets are expanded where used: a chain of lets deeper than the limit is an error, not a crash', () => {
  const sum = Array.from({ length: 100 }, () => 'x').join(' + ');
  let lets = '';
  for (let i = 1; i <= 40; i++) lets += `let r${i} = ${i > 1 ? `r${i - 1}` : 'x'} + ${sum}\n`;
  const r = fails(`${lets}gate -softplus(r40)\nupdate additive`, ['ATTN1009']);
  assert.match(r.diagnostics[0]!.hint ?? '', /^'r1\d' expands, with the lets it uses, to more than 1024 levels$/);
  // Ten of them are fine.
  ok(`${lets.split('\n').slice(0, 10).join('\n')}\ngate -softplus(r10)\nupdate additive`);
});

test.run();
