/**
 * Property tests (fast-check) over the front end: parse + check never throw, every problem is a
 * well-formed diagnostic that renders, the formatter is idempotent, keeps meaning, comments and
 * the checker's verdict, clean specs survive the JSON round trip, and a JSON spec becomes exactly
 * the items it names. Input families (over 10,000 inputs in all):
 *   (a) mutations of the standard library (characters, tokens, lines, truncation),
 *   (b) token soups from the language's vocabulary,
 *   (c) structurally valid random specs from a small grammar (to reach the checker's deep paths),
 *   (d) random JSON values and near-valid JSON specs,
 *   (e) deeply nested expressions (stack depth).
 * Seeds are fixed, so every run throws the same inputs; a failure prints the shrunk input, and
 * the seed and path that replay it.
 */
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BUILTINS } from '../../compiler/check/builtins.ts';
import type { Diagnostic } from '../../compiler/diagnostics/diagnostic.ts';
import { diagnosticToJson, renderDiagnostic } from '../../compiler/diagnostics/render.ts';
import { parseAndCheck, parseAndCheckFile } from '../../compiler/frontend.ts';
import type * as A from '../../dsl/ast.ts';
import { format, stripSpans } from '../../dsl/format.ts';
import { parseJsonSpec, specToJson, type SpecJson } from '../../dsl/json.ts';
import { KEYWORD_WORDS } from '../../dsl/lexer.ts';
import { parse } from '../../dsl/parse.ts';
import { stdlibFiles } from '../helpers/stdlib.ts';

// ── the properties ───────────────────────────────────────────────────────────

let inputs = 0;
const stats = { parsedClean: 0, checkedClean: 0, jsonAccepted: 0 };

function fail(what: string, text: string): never {
  throw new Error(`${what}\n--- input ---\n${text}\n-------------`);
}

const SEVERITIES = new Set(['error', 'warning', 'note']);

/** Every diagnostic is well formed, points inside the text its source holds, and renders. */
function checkDiagnostics(ds: readonly Diagnostic[], input: string, sourceTexts: readonly string[]): void {
  for (const d of ds) {
    const where = `${d.code} ${JSON.stringify(d.message)}`;
    if (!/^ATTN\d{4}$/.test(d.code)) fail(`bad code ${where}`, input);
    if (!SEVERITIES.has(d.severity)) fail(`bad severity ${d.severity} for ${where}`, input);
    if (typeof d.message !== 'string' || d.message.trim() === '') fail(`empty message for ${d.code}`, input);
    // A catalogue placeholder left unfilled (unless the user's own text holds one, as `{1}` may).
    for (const m of `${d.message} ${d.hint ?? ''}`.matchAll(/\{\d\}/g)) if (!input.includes(m[0])) fail(`unfilled placeholder in ${where} / ${d.hint}`, input);
    if (!d.source) fail(`diagnostic without a source: ${where}`, input);
    const text = d.source.text;
    if (!sourceTexts.includes(text)) fail(`diagnostic source is not the input or its generated text: ${where}`, input);
    for (const s of [d.span, ...d.labels.map((l) => l.span)]) {
      if (!(Number.isInteger(s.start) && Number.isInteger(s.end) && 0 <= s.start && s.start <= s.end && s.end <= text.length)) {
        fail(`span ${s.start}..${s.end} outside 0..${text.length} in ${where}`, input);
      }
    }
    let rendered: string;
    try {
      rendered = renderDiagnostic(d);
      JSON.stringify(diagnosticToJson(d));
    } catch (e) {
      fail(`rendering ${where} threw ${(e as Error).stack}`, input);
    }
    if (!rendered.includes(`${d.severity}[${d.code}]`) || !rendered.includes(d.message)) fail(`rendering of ${where} lacks its code or message:\n${rendered}`, input);
  }
}

const codes = (ds: readonly Diagnostic[]) => ds.map((d) => `${d.severity}:${d.code}`).sort();

/** Spec text: parse + check, diagnostics, formatter, JSON round trip. */
function textProperty(text: string): void {
  inputs++;
  const r = parseAndCheck(text, 'fuzz.attn');
  checkDiagnostics(r.diagnostics, text, [text]);
  if (r.ok !== !r.diagnostics.some((d) => d.severity === 'error')) fail('ok disagrees with the diagnostics', text);
  if (r.ok && r.specs.length !== r.ast!.specs.length) fail(`${r.ast!.specs.length} specs parsed, ${r.specs.length} checked, no error`, text);

  const p = parse(text, 'fuzz.attn');
  if (p.diagnostics.some((d) => d.severity === 'error')) return;
  stats.parsedClean++;
  // The formatter: idempotent, meaning-preserving, keeps every comment, keeps the checker's verdict.
  const f1 = format(p.file, p.source);
  const p2 = parse(f1, 'formatted.attn');
  if (p2.diagnostics.length) fail(`formatted text does not parse: ${p2.diagnostics.map((d) => d.message).join('; ')}\n--- formatted ---\n${f1}`, text);
  try {
    assert.equal(stripSpans(p2.file.specs), stripSpans(p.file.specs));
  } catch {
    fail(`formatting changed the meaning\n--- formatted ---\n${f1}`, text);
  }
  const texts = (f: A.SpecFile) => f.comments.map((c) => c.text.trimEnd()).sort();
  if (JSON.stringify(texts(p2.file)) !== JSON.stringify(texts(p.file))) fail(`formatting lost or changed comments\n--- formatted ---\n${f1}`, text);
  const f2 = format(p2.file, p2.source);
  if (f2 !== f1) fail(`format is not idempotent\n--- once ---\n${f1}--- twice ---\n${f2}`, text);
  const r2 = parseAndCheck(f1, 'formatted.attn');
  if (JSON.stringify(codes(r2.diagnostics)) !== JSON.stringify(codes(r.diagnostics))) {
    fail(`formatting changed the diagnostics: ${codes(r.diagnostics)} → ${codes(r2.diagnostics)}\n--- formatted ---\n${f1}`, text);
  }

  if (!r.ok) return;
  stats.checkedClean++;
  for (const spec of p.file.specs) {
    const j1 = specToJson(spec);
    const jt = JSON.stringify(j1);
    const pj = parseJsonSpec(jt, 'fuzz.attn.json');
    if (pj.diagnostics.length) fail(`JSON form of a clean spec does not parse: ${pj.diagnostics.map((d) => d.message).join('; ')}\n--- json ---\n${jt}`, text);
    if (pj.file.specs.length !== 1) fail(`JSON form gives ${pj.file.specs.length} specs`, text);
    const j2 = specToJson(pj.file.specs[0]!);
    try {
      assert.equal(j2, j1);
    } catch {
      fail(`JSON round trip is not stable\n--- first ---\n${jt}\n--- second ---\n${JSON.stringify(j2)}`, text);
    }
    const rj = parseAndCheckFile(jt, 'fuzz.attn.json');
    if (!rj.ok) fail(`JSON form of a clean spec does not check: ${rj.diagnostics.map((d) => d.message).join('; ')}\n--- json ---\n${jt}`, text);
  }
}

/** The keys a JSON spec has, level by level: what a spec made from it must have too. */
function jsonStructure(j: SpecJson): unknown {
  const keys = (o: object | undefined) => (o ? Object.keys(o).sort() : undefined);
  const { attention, dims, inputs, params, states, lets, features, update, output, chunk, $schema: _s, ...rest } = j;
  const nonEmpty = (o: object | undefined) => (o && Object.keys(o).length ? keys(o) : undefined);
  return {
    attention,
    dims: nonEmpty(dims),
    inputs: nonEmpty(inputs),
    params: nonEmpty(params),
    states: nonEmpty(states),
    lets: lets?.length ? lets.map((l) => l.name) : undefined,
    features: nonEmpty(features),
    update: update === undefined ? undefined : typeof update === 'string' ? 'rule' : keys(update),
    output: keys(output),
    chunk: chunk === undefined ? undefined : Array.isArray(chunk) ? chunk.length : 1,
    rest: keys(rest),
  };
}

/** JSON text: parse + check (as a .attn.json file), diagnostics; accepted specs are what the JSON says. */
function jsonProperty(text: string): void {
  inputs++;
  const pj = parseJsonSpec(text, 'fuzz.attn.json');
  const generated = pj.source.text;
  checkDiagnostics(pj.diagnostics, text, [text, generated]);
  const r = parseAndCheckFile(text, 'fuzz.attn.json');
  checkDiagnostics(r.diagnostics, text, [text, generated]);
  if (r.ok !== !r.diagnostics.some((d) => d.severity === 'error')) fail('ok disagrees with the diagnostics', text);
  if (pj.diagnostics.some((d) => d.severity === 'error')) return;
  stats.jsonAccepted++;
  // Accepted: one spec per JSON object, each with exactly the items and names the JSON gives
  // (an expression string must not smuggle in other items or specs).
  const value = JSON.parse(text) as SpecJson | SpecJson[];
  const objs = Array.isArray(value) ? value : [value];
  if (pj.file.specs.length !== objs.length) fail(`${objs.length} JSON specs became ${pj.file.specs.length} specs\n--- as text ---\n${generated}`, text);
  for (let i = 0; i < objs.length; i++) {
    const want = jsonStructure(objs[i]!) as { update: unknown };
    const got = jsonStructure(specToJson(pj.file.specs[i]!)) as { update: unknown };
    // A rule string may also hold equations (`S = …`), as the spec text's `update` item does.
    if (want.update === 'rule' && Array.isArray(got.update)) got.update = 'rule';
    try {
      assert.equal(got, want);
    } catch {
      fail(`the spec made from JSON has other items or names than the JSON: ${JSON.stringify(got)} vs ${JSON.stringify(want)}\n--- as text ---\n${generated}`, text);
    }
  }
}

// ── vocabulary ───────────────────────────────────────────────────────────────

const STDLIB = stdlibFiles();
/** The stdlib texts, and the same without their header comments (so mutations land in code). */
const CORPUS = [...STDLIB.map((f) => f.text), ...STDLIB.map((f) => f.text.replace(/^(#.*\n)+/, ''))];

const NAMES = ['q', 'k', 'v', 'a', 'b', 'g', 'w', 'x', 'f', 'S', 'z', 'o', 'doc', 'A_log', 'dt_bias', 'u', 'W', 'K', 'V', 'D', 'M', 'N', 'h', 't', 'i', 'j', 'T', 'H', 'pi', 'π', 'e', 'α', 'scalar', 'int', 'auto', 'x', 'beta', 'scale', 'bonus', 'eps', 'inclusive', 'exclusive', 'sum', 'maxabs', 'none', 'causal', 'bidirectional', 'additive', 'delta', 'dplr', 'softmax', 'sigmoid', 'relu', 'foo', '_', 'qq'];
const BUILTIN_NAMES = BUILTINS.map((b) => b.name);
const NUMBERS = ['0', '1', '2', '4', '16', '64', '128', '256', '0.5', '.5', '2.', '1e-6', '1E3', '1e999', '007', '3.14159', '1e+2', '65536', '-1'];
const OPERATORS = ['{', '}', '(', ')', '[', ']', ',', ':', '=', '==', '!=', '≠', '<', '<=', '≤', '>', '>=', '≥', '+', '-', '−', '*', '/', '^', '@', '⊗', '×', 'ᵀ', "'", '&', '&&', '|', '||', '!'];
const ODD = ['#', '# a comment', '$', '`', '~', '%', '\\', '"', ';', '?', '.', 'é', '😀', '\u0000', '\t', '\r', '\r\n', '\u00a0', '\u2028', '\ufeff'];

const tokenArb = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...KEYWORD_WORDS) },
  { weight: 4, arbitrary: fc.constantFrom(...NAMES, ...BUILTIN_NAMES) },
  { weight: 2, arbitrary: fc.constantFrom(...NUMBERS) },
  { weight: 4, arbitrary: fc.constantFrom(...OPERATORS) },
  { weight: 1, arbitrary: fc.constantFrom(...ODD) },
);
const charArb = fc.oneof(
  fc.constantFrom(...'{}()[],:=<>+-*/^@!&|#\n 0123456789qkvKVhijtx_.\'"'.split('')),
  fc.constantFrom('≤', '≥', '≠', '−', '×', '⊗', 'ᵀ', 'α', '😀', '\t', '\r'),
  fc.string({ minLength: 1, maxLength: 1 }),
);

// ── (a) mutations of the standard library ───────────────────────────────────

type Mutation =
  | { op: 'delete' | 'dup'; at: number; len: number }
  | { op: 'insert'; at: number; s: string }
  | { op: 'replace'; at: number; len: number; s: string }
  | { op: 'deleteToken'; n: number }
  | { op: 'dupToken'; n: number }
  | { op: 'insertToken'; n: number; s: string }
  | { op: 'replaceToken'; n: number; s: string }
  | { op: 'swapLines'; a: number; b: number }
  | { op: 'dupLine'; a: number }
  | { op: 'truncate'; at: number };

const at = fc.nat({ max: 4000 });
const len = fc.integer({ min: 1, max: 12 });
const piece = fc.oneof(charArb, tokenArb.map((t) => ` ${t} `), tokenArb);
const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constantFrom('delete' as const, 'dup' as const), at, len }),
  fc.record({ op: fc.constant('insert' as const), at, s: piece }),
  fc.record({ op: fc.constant('replace' as const), at, len, s: piece }),
  fc.record({ op: fc.constantFrom('deleteToken' as const, 'dupToken' as const), n: at }),
  fc.record({ op: fc.constantFrom('insertToken' as const, 'replaceToken' as const), n: at, s: tokenArb }),
  fc.record({ op: fc.constant('swapLines' as const), a: at, b: at }),
  fc.record({ op: fc.constant('dupLine' as const), a: at }),
  fc.record({ op: fc.constant('truncate' as const), at }),
);

const TOKEN_RE = /[A-Za-z_\u0370-\u03ff][A-Za-z0-9_\u0370-\u03ff]*|(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?|#[^\n]*|<=|>=|==|!=|&&|\|\||\S/gu;

function mutate(text: string, m: Mutation): string {
  const n = text.length;
  switch (m.op) {
    case 'delete': {
      const i = m.at % (n + 1);
      return text.slice(0, i) + text.slice(i + m.len);
    }
    case 'dup': {
      const i = m.at % (n + 1);
      return text.slice(0, i + m.len) + text.slice(i);
    }
    case 'insert': {
      const i = m.at % (n + 1);
      return text.slice(0, i) + m.s + text.slice(i);
    }
    case 'replace': {
      const i = m.at % (n + 1);
      return text.slice(0, i) + m.s + text.slice(i + m.len);
    }
    case 'truncate':
      return text.slice(0, m.at % (n + 1));
    case 'swapLines':
    case 'dupLine': {
      const lines = text.split('\n');
      const a = m.a % lines.length;
      if (m.op === 'dupLine') lines.splice(a, 0, lines[a]!);
      else {
        const b = m.b % lines.length;
        [lines[a], lines[b]] = [lines[b]!, lines[a]!];
      }
      return lines.join('\n');
    }
    default: {
      const toks = [...text.matchAll(TOKEN_RE)];
      const t = toks.length ? toks[m.n % toks.length]! : undefined;
      const s = t?.index ?? 0;
      const e = s + (t?.[0].length ?? 0);
      if (m.op === 'deleteToken') return text.slice(0, s) + text.slice(e);
      if (m.op === 'dupToken') return text.slice(0, e) + ' ' + (t?.[0] ?? '') + text.slice(e);
      if (m.op === 'insertToken') return text.slice(0, s) + m.s + ' ' + text.slice(s);
      return text.slice(0, s) + m.s + text.slice(e);
    }
  }
}

const mutatedStdlib = fc
  .tuple(fc.nat({ max: CORPUS.length - 1 }), fc.array(mutationArb, { minLength: 1, maxLength: 4 }))
  .map(([i, ms]) => ms.reduce(mutate, CORPUS[i]!));

// ── (b) token soups ──────────────────────────────────────────────────────────

const sepArb = fc.constantFrom(' ', ' ', ' ', '', '\n', '\n  ', '  ');
const soupArb = fc
  .tuple(
    fc.constantFrom('', '', 'attention x {', 'attention x {\n', '# header\nattention s {\n  '),
    fc.array(fc.tuple(tokenArb, sepArb), { maxLength: 40 }),
    fc.constantFrom('', '', '}', '\n}\n'),
  )
  .map(([pre, toks, post]) => pre + toks.map(([t, s]) => t + s).join('') + post);

// ── (c) structurally valid random specs ──────────────────────────────────────

/** Random expressions over the given leaves, with built-in calls and every operator. */
function exprArb(leaves: fc.Arbitrary<string>, fns: readonly string[], maxDepth = 3): fc.Arbitrary<string> {
  const { e } = fc.letrec((tie) => ({
    e: fc.oneof(
      { depthSize: 'small', maxDepth, withCrossShrink: true },
      { weight: 5, arbitrary: leaves },
      { weight: 2, arbitrary: fc.tuple(fc.constantFrom('+', '-', '*', '/', '^', '@', '⊗', '−'), tie('e'), tie('e'), fc.boolean()).map(([op, a, b, p]) => (p ? `(${a} ${op} ${b})` : `${a} ${op} ${b}`)) },
      { weight: 1, arbitrary: fc.tuple(fc.constantFrom('-', '+', '−'), tie('e')).map(([op, a]) => `${op}${a}`) },
      { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...fns), fc.array(tie('e'), { minLength: 1, maxLength: 3 })).map(([f, as]) => `${f}(${as.join(', ')})`) },
      { weight: 1, arbitrary: fc.tuple(fc.constantFrom('l2norm', 'rmsnorm', 'layernorm'), tie('e'), fc.constantFrom('1e-6', '0.1', '-1', 'K')).map(([f, a, eps]) => `${f}(${a}, eps = ${eps})`) },
      { weight: 1, arbitrary: tie('e').map((a) => `(${a})ᵀ`) },
      { weight: 1, arbitrary: fc.array(tie('e'), { minLength: 1, maxLength: 3 }).map((as) => `[${as.join(', ')}]`) },
      { weight: 1, arbitrary: fc.tuple(tie('e'), fc.constantFrom('2', '-0.5', '-1', 'K')).map(([a, p]) => `${a}^${p}`) },
    ),
  }));
  return e as fc.Arbitrary<string>;
}

/** Predicates (masks) over positions. */
function predArb(num: fc.Arbitrary<string>): fc.Arbitrary<string> {
  const { p } = fc.letrec((tie) => ({
    p: fc.oneof(
      { depthSize: 'small', maxDepth: 3, withCrossShrink: true },
      { weight: 4, arbitrary: mostly(['causal', 'all', 'none', 'window(Wn)', 'sink(4)', 'prefix(16)', 'block_causal(64)', 'segment(doc)', 'window(h + 1)', 'i - j < 4096', 'j <= i'], ['segment(a)', 'window(i)', 'causal(1)', 'window()', 'sink(q)']) },
      { weight: 2, arbitrary: fc.tuple(num, fc.constantFrom('<', '<=', '>', '>=', '==', '!=', '≤', '≥', '≠'), num).map(([a, op, b]) => `${a} ${op} ${b}`) },
      { weight: 2, arbitrary: fc.tuple(tie('p'), fc.constantFrom('&', '|', '&&', '||'), tie('p')).map(([a, op, b]) => `(${a}) ${op} (${b})`) },
      { weight: 1, arbitrary: tie('p').map((a) => `!(${a})`) },
    ),
  }));
  return p as fc.Arbitrary<string>;
}

/** One of `good`, or now and then one of `bad` (to reach the checker's error paths too). */
function mostly(good: readonly string[], bad: readonly string[], badWeight = 1): fc.Arbitrary<string> {
  return fc.oneof({ weight: 9, arbitrary: fc.constantFrom(...good) }, { weight: badWeight, arbitrary: fc.constantFrom(...bad) });
}
/** `a` with probability p, else undefined. */
const maybe = <T>(a: fc.Arbitrary<T>, p = 0.5): fc.Arbitrary<T | undefined> =>
  fc.oneof({ weight: Math.round(p * 20), arbitrary: a }, { weight: 20 - Math.round(p * 20), arbitrary: fc.constant(undefined) });

const dimValue = mostly(['2', '4', '8', '16', '32', '64', '128', '2 * 8', '2^4', '(4)'], ['0', '-4', '1.5', 'Z', '1e999', 'K', '1'], 1);

// Names the random specs declare (recurrent: K, V, q, k, v, a, b, g, x, A_log, dt_bias, u, W, c;
// softmax: D, Wn, q, k, v, a, b, f, x, doc, A_log, bias, P), plus a few that are wrong somewhere.
const TOKEN_LEAVES = mostly(['q', 'k', 'v', 'a', 'b', 'g', 'x', 'c', 'K', 'V', 'h', 't', 'T', 'H', 'pi', '1', '2', '0.5', '16', '1e-6', 'A_log[h]', 'dt_bias[h]', 'u[h]', 'W[h] @ k'], ['S', 'o', 'z', 'i', 'W', 'A_log', 'a[i]', 'doc', 'u[t]', 'nope'], 2);
const PAIR_LEAVES = mostly(['q', 'k', 'a[i]', 'b[j]', 'f[i]', 'i', 'j', 'h', 'H', 'T', 'D', '1', '0.5', '2', 'A_log[h]', 'alibi_slope(h)', 'bias[h]', 'dot(q, k)', 'x[j]'], ['a', 't', 'v', 'q[i]', 'A_log', 'doc[i]'], 2);
const ELEMENTWISE = ['exp', 'log', 'sqrt', 'abs', 'sigmoid', 'logsigmoid', 'softplus', 'silu', 'elu', 'relu', 'tanh', 'sin', 'cos', 'min', 'max', 'sum', 'mean', 'norm', 'dot', 'l2norm', 'softmax', 'taylor2', 'outer', 'diag', 'flatten', 'transpose', 'clamp', 'where', 'exp2', 'rsqrt', 'floor', 'frobnicate'];

const tokenExpr = exprArb(TOKEN_LEAVES, ELEMENTWISE);
const pairExpr = exprArb(PAIR_LEAVES, ['dot', 'exp', 'sigmoid', 'tanh', 'abs', 'min', 'max', 'sum', 'alibi_slope', 'log', 'softplus']);

/** A feature map of `w` (written `$`), to apply to both q and k or to one of them. */
const FEATURE_TEMPLATES = ['l2norm($)', '$ * K^-0.5', 'elu($) + 1', 'relu($)', 'taylor2($)', '[relu($), relu(-$)]', 'l2norm($) * K^-0.5', 'softmax([$, -$])', 'silu($)', '1 - sigmoid($)', 'W[h] @ $', 'exp($ - max($))', '[1, $]', 'taylor2($ * K^-0.25)', '$ * c', 'l2norm($, eps = 1e-5)', '[relu($) * cos(t), relu($) * sin(t)]'];
const featureArb = fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...FEATURE_TEMPLATES) }, { weight: 1, arbitrary: tokenExpr });

const recurrentSpec = fc
  .record({
    K: dimValue,
    V: dimValue,
    extraDims: maybe(fc.constantFrom('M = 8', 'N = 4', 'Z = K * 2'), 0.3),
    qkv: mostly(['q: [K], k: [K], v: [V]'], ['q: [K], v: [V]', 'q: [K], k: [V], v: [V]', 'q: scalar, k: [K], v: [V]', 'q: [K, V], k: [K], v: [V]', 'q: [K], k: [K], v: int', 'q: [K], k: [K], v: [H]', 'q: [K], k: [K], v: [V], q: [K]']),
    badInput: maybe(fc.constantFrom('doc: int', 'cc: [H]', 'z2: [K, K]', 'h: scalar', 'exp: [K]', 'y: vector', 'y: [0]'), 0.1),
    params: mostly(['A_log: [H], dt_bias: [H], u: [H, K], W: [H, K, K], c: [K]', 'A_log: [H], dt_bias: [H, K], u: [H, K], W: [H, K, K], c: scalar'], ['A_log: [K, H]', 'A_log: int', 'A_log: [H, K, V, V]', 'A_log: [H], A_log: [H]']),
    lets: fc.array(fc.oneof({ weight: 3, arbitrary: fc.constantFrom('softplus(a + dt_bias[h])', 'sigmoid(b)', 'exp(-a)', 'pi * t / 64', 'r1 + 1') }, { weight: 1, arbitrary: tokenExpr }), { maxLength: 2 }),
    fq: maybe(featureArb, 0.6),
    fkSame: fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
    fk: maybe(featureArb, 0.6),
    fv: maybe(fc.constantFrom('v * softplus(a)', 'v', 'silu(v)', 'v * 2', 'l2norm(v)', 'taylor2(v)'), 0.2),
    gate: maybe(
      fc.oneof(
        { weight: 4, arbitrary: fc.constantFrom('-softplus(a)', 'logsigmoid(a)', '-exp(A_log[h]) * softplus(a + dt_bias[h])', 'log(1 - 2^(-5 - h))', 'min(a, 0)', '-8 * h / H', 'logsigmoid(g) / 16', '-exp(g)', 'sigmoid(a)', 'a', 'exp(a)', '0', '-1', 'min(g, 0)', '-softplus(g)', 'log(sigmoid(a))', '-abs(a)', '-relu(a) - 1', '-exp(a) * T', '-exp(c)', 'logsigmoid(a) * 2', '-(a^2)', '-r1') },
        { weight: 1, arbitrary: tokenExpr },
      ),
      0.6,
    ),
    rule: fc.oneof(
      { weight: 6, arbitrary: mostly(['additive', 'additive(scale = exp(a))', 'delta(beta = sigmoid(b))', 'dplr(a = g, b = g)', 'additive()', 'delta(beta = r1)'], ['delta', 'delta(sigmoid(b))', 'delta(beta = b, beta = b)', 'dplr(a = a, b = b)', 'additiv', 'additive(scale = 2, gamma = 1)', 'delta(beta = g)']).map((r) => ({ rule: r, eq: false })) },
      { weight: 3, arbitrary: mostly(['S = exp(g) * S + k ⊗ v', 'S = S + k ⊗ v', 'S = exp(a) * S + outer(k, v)', 'S = S - b * k ⊗ (Sᵀ @ k) + b * k ⊗ v', 'S = exp(g) * S + k ⊗ v, z = exp(g) * z + k', 'S = diag(exp(g)) @ S + k ⊗ v'], ['S = S + v ⊗ k', 'S = S * S', 'Q = S', 'S = k', 'S = S + k ⊗ v, S = S']).map((r) => ({ rule: r, eq: true })) },
      { weight: 1, arbitrary: tokenExpr.map((e) => ({ rule: `S = ${e}`, eq: true })) },
      { weight: 1, arbitrary: fc.tuple(fc.constantFrom('additive', 'delta', 'dplr'), fc.array(fc.tuple(fc.constantFrom('beta', 'scale', 'a', 'b', 'gamma'), tokenExpr), { maxLength: 2 })).map(([r, as]) => ({ rule: `${r}(${as.map(([n, e]) => `${n} = ${e}`).join(', ')})`, eq: false })) },
    ),
    noUpdate: fc.oneof({ weight: 30, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
    state: mostly(['S: [K, V]'], ['S: [V, K]', 'S: scalar', 'S: [K, V, V]', 'S: int']),
    output: fc.oneof({ weight: 6, arbitrary: fc.constantFrom('o = Sᵀ @ q', 'o = Sᵀ q', "o = S' @ q", 'o = Sᵀ @ q / dot(z, q)', 'o = transpose(S) @ q') }, { weight: 1, arbitrary: fc.constantFrom('o = S @ q', 'o = q', 'p = Sᵀ @ q') }, { weight: 1, arbitrary: tokenExpr.map((e) => `o = ${e}`) }),
    swapOutput: fc.oneof({ weight: 12, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
    read: maybe(mostly(['inclusive', 'exclusive(bonus = u[h])', 'exclusive(bonus = 1)', 'exclusive'], ['exclusive(u[h])', 'exclusive(bonus = q)', 'sideways', 'inclusive(1)']), 0.15),
    normalize: maybe(mostly(['sum', 'none', 'maxabs'], ['max', 'softmax']), 0.3),
    epilogue: maybe(fc.oneof({ weight: 4, arbitrary: fc.constantFrom('o * sigmoid(x)', 'o + x', 'o * silu(x)', 'rmsnorm(o)', 'o', 'layernorm(o) * 2') }, { weight: 1, arbitrary: fc.constantFrom('sum(o)', 'o * x[i]', 'q') }, { weight: 1, arbitrary: tokenExpr }), 0.2),
    direction: maybe(mostly(['causal', 'bidirectional'], ['sideways']), 0.2),
    mask: maybe(mostly(['causal', 'j <= i', 'i >= j'], ['all', 'causal & window(16)', 'none', 'i - j < 16', 'j < i', 'segment(a)']), 0.6),
    chunk: maybe(mostly(['64', '16', 'auto', '256', '32'], ['128 x 64', '100', '0', '512', 'auto x 64', '64 * 64', 'big', '1e999', '64.0']), 0.6),
    score: maybe(pairExpr, 0.03),
  })
  .map((s) => {
    const items: string[] = [];
    items.push(`dims ${[`K = ${s.K}`, `V = ${s.V}`, ...(s.extraDims ? [s.extraDims] : [])].join(', ')}`);
    items.push(`input ${[s.qkv, 'a: scalar, b: scalar, g: [K], x: [V]', ...(s.badInput ? [s.badInput] : [])].join(', ')}`);
    items.push(`param ${s.params}`);
    if (s.rule.eq && !s.noUpdate) items.push(`state ${s.state}${s.rule.rule.includes('z =') ? ', z: [K]' : ''}`);
    s.lets.forEach((e, n) => items.push(`let r${n + 1} = ${e}`));
    const fk = s.fkSame ? s.fq : s.fk;
    if (s.fq) items.push(`feature q = ${s.fq.replaceAll('$', 'q')}`);
    if (fk) items.push(`feature k = ${fk.replaceAll('$', 'k')}`);
    if (s.fv) items.push(`feature v = ${s.fv}`);
    if (s.gate) items.push(`gate ${s.gate}`);
    if (!s.noUpdate) items.push(`update ${s.rule.rule}`);
    if (s.rule.eq !== s.swapOutput) items.push(`output ${s.output}`);
    if (s.read) items.push(`read ${s.read}`);
    if (s.normalize) items.push(`normalize ${s.normalize}`);
    if (s.epilogue) items.push(`epilogue ${s.epilogue}`);
    if (s.score) items.push(`score ${s.score}`);
    if (s.mask) items.push(`mask ${s.mask}`);
    if (s.direction) items.push(`direction ${s.direction}`);
    if (s.chunk) items.push(`chunk ${s.chunk}`);
    return items;
  });

const softmaxSpec = fc
  .record({
    D: dimValue,
    Wn: mostly(['512', '16', '4096'], ['0', '-1']),
    qkv: mostly(['q: [D], k: [D], v: [D]'], ['q: [D], k: [D]', 'q: [D], k: [D], v: scalar', 'q: [D], k: [2 * D], v: [D]']),
    badInput: maybe(fc.constantFrom('cc: [H]', 'y: [D, D]', 'i: scalar', 'where: int'), 0.1),
    params: mostly(['A_log: [H], bias: [H], P: [D, D]'], ['A_log: [H], bias: [H, H]', 'A_log: [H], bias: [H], P: [D, D, D]']),
    lets: fc.array(fc.oneof({ weight: 3, arbitrary: fc.constantFrom('softplus(a)', 'sigmoid(b) * 2', 'bias[h] * 2', 'h + 1') }, { weight: 1, arbitrary: tokenExpr }), { maxLength: 1 }),
    fq: maybe(featureArb, 0.2),
    fkSame: fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
    fk: maybe(featureArb, 0.2),
    gate: maybe(mostly(['logsigmoid(f)', '-softplus(a)', '-exp(A_log[h]) * softplus(f)', '-r1'], ['sigmoid(a)', 'logsigmoid(x)', '-i', '-softplus(g)']), 0.3),
    score: maybe(fc.oneof({ weight: 3, arbitrary: mostly(['dot(q, k) * D^-0.5', 'dot(q, k) * D^-0.5 - alibi_slope(h) * (i - j)', 'qᵀ k', 'dot(q, k) / sqrt(D)', 'tanh(dot(q, k) / 50) * 50', 'dot(q, k) + f[i] - f[j]', 'dot(q, k) - bias[h] * abs(i - j)', 'r1 * dot(q, k)'], ['dot(q, k) * t', 'a', 'q ⊗ k', 'i < j', 'dot(q, k) + x[i]', 'dot(q[i], k[j])', 'dot(q, v)']) }, { weight: 2, arbitrary: pairExpr }), 0.8),
    update: mostly(['softmax', 'softmax', 'sigmoid', 'relu'], ['softmax()', 'softmax(scale = 2)', 'softmaxx', 'S = S']),
    mask: maybe(fc.oneof({ weight: 3, arbitrary: mostly(['causal', 'causal & (window(Wn) | sink(4))', 'causal & segment(doc)', 'all', 'prefix(64)', 'block_causal(64)', 'causal & (i - j < 4096)', 'causal & f[i] > 0', 'window(Wn) & j <= i', 'causal & !(j < 4)'], ['i - j', 'segment(f)', 'causal & x[i] > 0', 'causal & t < 4', 'sink(a)']) }, { weight: 2, arbitrary: predArb(pairExpr) }), 0.8),
    direction: maybe(mostly(['causal', 'bidirectional'], ['up']), 0.15),
    extra: maybe(fc.constantFrom('read inclusive', 'normalize sum', 'state S: [D, D]', 'output o = q', 'feature x = q', 'feature v = v * 2', 'chunk 64'), 0.05),
    epilogue: maybe(mostly(['o * sigmoid(x)', 'o + x', 'o * silu(x)', 'rmsnorm(o)'], ['o * x[i]', 'o + q', 'sum(o)']), 0.2),
    chunk: maybe(mostly(['128 x 64', '64', 'auto', '64 × 32', '64 * 32', '16 x 256'], ['64 x 300', '64 by 64', 'auto x 64', '64 x auto']), 0.6),
  })
  .map((s) => {
    const items: string[] = [];
    items.push(`dims D = ${s.D}, Wn = ${s.Wn}`);
    items.push(`input ${[s.qkv, 'a: scalar, b: scalar, f: scalar, x: [D], doc: int', ...(s.badInput ? [s.badInput] : [])].join(', ')}`);
    items.push(`param ${s.params}`);
    s.lets.forEach((e, n) => items.push(`let r${n + 1} = ${e}`));
    const fk = s.fkSame ? s.fq : s.fk;
    if (s.fq) items.push(`feature q = ${s.fq.replaceAll('$', 'q').replaceAll('K', 'D')}`);
    if (fk) items.push(`feature k = ${fk.replaceAll('$', 'k').replaceAll('K', 'D')}`);
    if (s.gate) items.push(`gate ${s.gate}`);
    if (s.score) items.push(`score ${s.score}`);
    items.push(`update ${s.update}`);
    if (s.extra) items.push(s.extra);
    if (s.epilogue) items.push(`epilogue ${s.epilogue}`);
    if (s.mask) items.push(`mask ${s.mask}`);
    if (s.direction) items.push(`direction ${s.direction}`);
    if (s.chunk) items.push(`chunk ${s.chunk}`);
    return items;
  });

/** A spec's items laid out with random spacing, blank lines, comments, and sometimes shuffled. */
const layoutArb = (itemsArb: fc.Arbitrary<string[]>) =>
  fc
    .tuple(
      itemsArb,
      fc.oneof({ weight: 4, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
      fc.array(
        fc.tuple(
          fc.constantFrom('\n  ', '\n  ', '\n  ', '\n', '\n\n  ', '\n\n\n', ' ', '\n    '),
          fc.option(fc.constantFrom('# note', '#', '# x = 1 } {', '  # trailing  '), { freq: 4 }),
          fc.oneof({ weight: 6, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
        ),
        { minLength: 24, maxLength: 24 },
      ),
      fc.constantFrom('', '# header\n', '# a\n\n# b\n'),
      fc.constantFrom('', '# after\n', '\n\n# end'),
      fc.constantFrom('gg', 'spec_1', 'Σ'),
      fc.constantFrom('', '', '', 'attention other {\n  dims D = 4\n  input q: [D], k: [D], v: [D]\n  update softmax\n}\n\n', 'attention other {\n  dims D = 4\n  input q: [D], k: [D], v: [D]\n  update softmax\n}\n# between\n'),
    )
    .chain(([items, shuffle, seps, head, tail, name, before]) =>
      (shuffle ? fc.shuffledSubarray(items, { minLength: items.length, maxLength: items.length }) : fc.constant(items)).map((its) => {
        let s = `${head}${before}attention ${name} {`;
        its.forEach((item, n) => {
          const [sep, c, wrap] = seps[n]!;
          // Wrap the item over two lines after an operator or comma, with a comment on the first.
          const it = wrap ? item.replace(/( [*+-]|,) /, '$1  # wrapped\n      ') : item;
          s += c && sep.startsWith('\n') ? `  ${c}${sep}${it}` : `${sep}${it}`;
        });
        const c = seps[its.length]?.[1];
        return `${s}${c ? `  ${c}` : ''}\n}\n${tail}`;
      }),
    );

const grammarSpecArb = fc.oneof({ weight: 3, arbitrary: layoutArb(recurrentSpec) }, { weight: 2, arbitrary: layoutArb(softmaxSpec) });

// ── (d) JSON ─────────────────────────────────────────────────────────────────

const STDLIB_JSON: SpecJson[] = STDLIB.map((f) => specToJson(parse(f.text, f.path).file.specs[0]!));
const SPEC_KEYS = ['attention', 'dims', 'inputs', 'params', 'states', 'lets', 'features', 'gate', 'update', 'output', 'read', 'normalize', 'epilogue', 'score', 'mask', 'direction', 'chunk', '$schema', 'extra'];

const stringValue = fc.oneof(
  { weight: 3, arbitrary: tokenExpr },
  { weight: 2, arbitrary: soupArb },
  { weight: 1, arbitrary: fc.constantFrom('', ' ', '[K]', 'scalar', 'int', '[H, K]', '1 }\nattention y {', '-1\n  update additive', '0\n}\n', '[K], k2: [K]', 'causal # c', 'x\n# only a comment', 'auto') },
  { weight: 1, arbitrary: fc.string({ maxLength: 8 }) },
);
const jsonLeaf = fc.oneof(fc.jsonValue({ maxDepth: 2 }), stringValue, fc.constantFrom(0, -1, 64, 1e21, 1.5, 2 ** 53, 'auto', null, true));

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonEdit =
  | { op: 'set'; key: string; value: Json }
  | { op: 'delete'; key: string }
  | { op: 'setIn'; key: string; sub: string; value: Json }
  | { op: 'deleteIn'; key: string; n: number }
  | { op: 'inject'; key: string; suffix: string };

const jsonEditArb: fc.Arbitrary<JsonEdit> = fc.oneof(
  fc.record({ op: fc.constant('set' as const), key: fc.constantFrom(...SPEC_KEYS), value: jsonLeaf as fc.Arbitrary<Json> }),
  fc.record({ op: fc.constant('delete' as const), key: fc.constantFrom(...SPEC_KEYS) }),
  fc.record({ op: fc.constant('setIn' as const), key: fc.constantFrom('dims', 'inputs', 'params', 'states', 'features', 'update', 'output'), sub: fc.constantFrom('K', 'V', 'q', 'k', 'v', 'S', 'a', 'o', 'new_name', '1bad', '', 'h', 'exp'), value: jsonLeaf as fc.Arbitrary<Json> }),
  fc.record({ op: fc.constant('deleteIn' as const), key: fc.constantFrom('dims', 'inputs', 'params', 'features', 'lets'), n: fc.nat({ max: 5 }) }),
  // Text after a valid value that would read as more items, declarations or specs.
  fc.record({
    op: fc.constant('inject' as const),
    key: fc.constantFrom('gate', 'mask', 'score', 'epilogue', 'read', 'normalize', 'direction', 'update', 'inputs', 'dims', 'features', 'lets'),
    suffix: fc.constantFrom('\n  update additive', '\n  gate -1', ' } attention y {', '\n}\nattention y {\n  update additive', ', extra: [K]', ', Z = 4', '\n  let zz = 1', '  # comment', '\n'),
  }),
);

function applyJsonEdit(j: Record<string, Json>, e: JsonEdit): Record<string, Json> {
  const o = structuredClone(j);
  switch (e.op) {
    case 'set':
      o[e.key] = e.value;
      break;
    case 'delete':
      delete o[e.key];
      break;
    case 'setIn': {
      const cur = o[e.key];
      const obj = cur && typeof cur === 'object' && !Array.isArray(cur) ? cur : {};
      obj[e.sub] = e.value;
      o[e.key] = obj;
      break;
    }
    case 'inject': {
      const cur = o[e.key];
      if (typeof cur === 'string') o[e.key] = cur + e.suffix;
      else if (Array.isArray(cur) && cur[0] && typeof cur[0] === 'object' && !Array.isArray(cur[0]) && typeof cur[0]['value'] === 'string') cur[0]['value'] += e.suffix;
      else if (cur && typeof cur === 'object' && !Array.isArray(cur)) {
        const k = Object.keys(cur)[0];
        if (k !== undefined) cur[k] = `${cur[k]}${e.suffix}`;
      }
      break;
    }
    case 'deleteIn': {
      const cur = o[e.key];
      if (Array.isArray(cur)) cur.splice(e.n % (cur.length + 1), 1);
      else if (cur && typeof cur === 'object') {
        const ks = Object.keys(cur);
        if (ks.length) delete cur[ks[e.n % ks.length]!];
      }
      break;
    }
  }
  return o;
}

const nearValidJson = fc
  .tuple(
    fc.nat({ max: STDLIB_JSON.length - 1 }),
    fc.array(jsonEditArb, { minLength: 0, maxLength: 3 }),
    fc.constantFrom('one', 'one', 'one', 'array', 'pair', 'text'),
    fc.array(mutationArb, { minLength: 1, maxLength: 2 }),
  )
  .map(([i, edits, form, textEdits]) => {
    const j = edits.reduce(applyJsonEdit, STDLIB_JSON[i] as unknown as Record<string, Json>);
    const value = form === 'array' ? [j] : form === 'pair' ? [j, { ...STDLIB_JSON[(i + 1) % STDLIB_JSON.length]! }] : j;
    const text = JSON.stringify(value, null, form === 'one' ? 2 : undefined);
    return form === 'text' ? textEdits.reduce(mutate, text) : text;
  });

const randomJson = fc.oneof(
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc.dictionary(fc.constantFrom(...SPEC_KEYS), jsonLeaf as fc.Arbitrary<Json>).map((o) => JSON.stringify(o)),
  fc.string({ maxLength: 30 }),
  fc.constantFrom('', '{', '[]', '[{}]', 'null', '{"attention": "x"}', '{"attention": "x"} {}', '\ufeff{"attention": "x"}', '{"attention": "__proto__"}', '{"__proto__": {"attention": "x"}}'),
);

// ── (e) deep nesting ─────────────────────────────────────────────────────────

/** Expressions nested n deep in one of several ways: the parser and everything after it recurse. */
const deepArb = fc
  .tuple(
    fc.constantFrom('parens', 'signs', 'powers', 'sum', 'calls', 'vectors', 'transposes', 'lets', 'mixed'),
    fc.oneof(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 5000 })),
  )
  .map(([how, n]) => {
    const head = 'attention deep {\n  dims K = 4, V = 4\n  input q: [K], k: [K], v: [V], a: scalar\n  update additive\n';
    const rep = (s: string, k = n) => s.repeat(k);
    const chain = (sep: string) => Array.from({ length: n }, () => 'a').join(sep);
    switch (how) {
      case 'parens':
        return `${head}  gate -softplus(${rep('(')}a${rep(')')})\n}\n`;
      case 'signs':
        return `${head}  gate ${rep('-')}a\n}\n`;
      case 'powers':
        return `${head}  gate -softplus(${chain('^')})\n}\n`;
      case 'sum':
        return `${head}  gate -softplus(${chain(' + ')})\n}\n`;
      case 'calls':
        return `${head}  gate -${rep('softplus(')}a${rep(')')}\n}\n`;
      case 'vectors':
        return `${head}  feature q = ${rep('[')}q${rep(']')}\n}\n`;
      case 'transposes':
        return `${head}  gate -softplus(a${rep('ᵀ')})\n}\n`;
      case 'lets': {
        const k = Math.max(1, Math.floor(n / 20));
        let lets = '';
        for (let i = 1; i <= k; i++) lets += `  let r${i} = ${i > 1 ? `r${i - 1}` : 'a'} + ${Array.from({ length: 40 }, () => 'a').join(' + ')}\n`;
        return `${head}${lets}  gate -softplus(r${k})\n}\n`;
      }
      default:
        return `${head}  gate ${rep('-exp(-(a + [')}a${rep('][0]))')}\n}\n`;
    }
  });

// ── the runs ─────────────────────────────────────────────────────────────────

// Fixed seeds; ATTNC_FUZZ_SEED=n shifts them and ATTNC_FUZZ_SCALE=x multiplies the run counts,
// for a longer hunt by hand (a failure prints the seed and path that replay it).
const SEED_SHIFT = Number(process.env['ATTNC_FUZZ_SEED'] ?? 0);
const SCALE = Number(process.env['ATTNC_FUZZ_SCALE'] ?? 1);

function run(name: string, arb: fc.Arbitrary<string>, property: (s: string) => void, numRuns: number, seed: number): void {
  test(name, () => {
    fc.assert(
      fc.property(arb, (s) => {
        property(s);
      }),
      { numRuns: Math.round(numRuns * SCALE), seed: seed + SEED_SHIFT, includeErrorInReport: true },
    );
  });
}

test('the stdlib itself satisfies every property', () => {
  for (const t of CORPUS) textProperty(t);
  for (const j of STDLIB_JSON) jsonProperty(JSON.stringify(j));
  jsonProperty(JSON.stringify(STDLIB_JSON));
  assert.is(stats.checkedClean, CORPUS.length);
});

run('(a) mutations of the standard library', mutatedStdlib, textProperty, 3000, 0x5eed_a);
run('(b) token soups', soupArb, textProperty, 4300, 0x5eed_b);
run('(c) random specs from a grammar', grammarSpecArb, textProperty, 2200, 0x5eed_c);
run('(d) near-valid JSON specs', nearValidJson, jsonProperty, 1500, 0x5eed_d);
run('(d) random JSON values and text', randomJson, jsonProperty, 600, 0x5eed_e);
run('(e) deeply nested expressions', deepArb, textProperty, 80, 0x5eed_f);

test('a long run of blanks before the end of the file takes linear time', () => {
  // Finding where a file ends once took time quadratic in the blanks before a trailing comment
  // (200,000 blanks: tens of seconds); the margin here is a hundred times the linear cost.
  const t0 = performance.now();
  textProperty(`attention x {${' '.repeat(200_000)}# no closing brace`);
  assert.ok(performance.now() - t0 < 2000, `${Math.round(performance.now() - t0)} ms`);
});

test('enough inputs, and the generators reach every stage', () => {
  assert.ok(inputs >= 10_000, `${inputs} inputs`);
  // Without these the properties about formatting and JSON would hold vacuously.
  assert.ok(stats.parsedClean >= 2000, `${stats.parsedClean} inputs parsed clean`);
  assert.ok(stats.checkedClean >= 500, `${stats.checkedClean} inputs checked clean`);
  assert.ok(stats.jsonAccepted >= 200, `${stats.jsonAccepted} JSON inputs accepted`);
});

test.run();
