/**
 * The JSON form: specToJson output validates against the published schema (dsl/spec.schema.json,
 * checked here with ajv), round-trips (JSON → spec → JSON, and AST → JSON → AST up to the canonical
 * item order), and checks clean; schema, JSON and language errors are diagnostics with their codes.
 */
import { Ajv } from 'ajv';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { renderDiagnostic } from '../../compiler/diagnostics/render.ts';
import { parseAndCheckFile } from '../../compiler/frontend.ts';
import type * as A from '../../dsl/ast.ts';
import { stripSpans } from '../../dsl/format.ts';
import { jsonToSource, parseJsonSpec, specToJson, type SpecJson } from '../../dsl/json.ts';
import { parse } from '../../dsl/parse.ts';
import schema from '../../dsl/spec.schema.json' with { type: 'json' };
import { stdlibFiles } from '../helpers/stdlib.ts';

const ajv = new Ajv({ allErrors: true, strict: true });
const validate = ajv.compile(schema);

/** The order in which the JSON form writes items back (jsonToSource). */
const CANONICAL: A.ItemKind[] = ['dims', 'input', 'param', 'state', 'let', 'feature', 'gate', 'update', 'output', 'read', 'normalize', 'epilogue', 'score', 'mask', 'direction', 'chunk'];
const canonicalItems = (s: A.Spec) => [...s.items].sort((a, b) => CANONICAL.indexOf(a.kind) - CANONICAL.indexOf(b.kind));

const files = stdlibFiles();
const specOf = (text: string, name = 'x.attn') => {
  const p = parse(text, name);
  assert.equal(p.diagnostics, []);
  assert.is(p.file.specs.length, 1);
  return p.file.specs[0]!;
};

test('the schema itself compiles in strict mode and has one definition per spec key', () => {
  assert.type(validate, 'function');
  const keys = Object.keys(schema.definitions.spec.properties).sort();
  assert.equal(keys, ['$schema', 'attention', 'chunk', 'dims', 'direction', 'epilogue', 'features', 'gate', 'inputs', 'lets', 'mask', 'normalize', 'output', 'params', 'read', 'score', 'states', 'update'].sort());
});

for (const f of files) {
  test(`stdlib/${f.name}: JSON form validates, round-trips and checks clean`, () => {
    const spec = specOf(f.text, f.path);
    const j = specToJson(spec);
    assert.is(j.attention, f.name);
    assert.ok(validate(j), JSON.stringify(validate.errors));
    const text = JSON.stringify(j, null, 2);

    // JSON → spec → JSON
    const p = parseJsonSpec(text, `${f.name}.attn.json`);
    assert.equal(p.diagnostics.map((d) => d.message), []);
    assert.is(p.file.specs.length, 1);
    assert.equal(specToJson(p.file.specs[0]!), j);

    // AST → JSON → AST, items in canonical order
    const back = p.file.specs[0]!;
    assert.equal(stripSpans(back.name), stripSpans(spec.name));
    assert.equal(stripSpans(back.items), stripSpans(canonicalItems(spec)));

    // and the JSON file checks clean as a whole
    const r = parseAndCheckFile(text, `${f.name}.attn.json`);
    assert.equal(r.diagnostics.map((d) => renderDiagnostic(d)), []);
    assert.ok(r.ok);
    assert.is(r.specs.length, 1);
    assert.is(r.specs[0]!.name, f.name);
  });
}

test('all stdlib specs in one JSON array: validates, one spec each, checks clean', () => {
  const all = files.map((f) => specToJson(specOf(f.text, f.path)));
  assert.ok(validate(all), JSON.stringify(validate.errors));
  const r = parseAndCheckFile(JSON.stringify(all), 'stdlib.attn.json');
  assert.equal(r.diagnostics.map((d) => d.message), []);
  assert.equal(
    r.specs.map((s) => s.name),
    files.map((f) => f.name),
  );
});

test('AST → JSON merges repeated declaration items and puts items in canonical order', () => {
  const spec = specOf('attention m {\n  chunk 64\n  input q: [K]\n  dims K = 4\n  input k: [K], v: [V]\n  dims V = 2 * K\n  update additive\n}\n');
  const j = specToJson(spec);
  assert.equal(j, { attention: 'm', chunk: 64, inputs: { q: '[K]', k: '[K]', v: '[V]' }, dims: { K: 4, V: '2 * K' }, update: 'additive' });
  assert.ok(validate(j));
  assert.fixture(
    jsonToSource(j),
    ['attention m {', '  dims      K = 4, V = 2 * K', '  input     q: [K], k: [K], v: [V]', '  update    additive', '  chunk     64', '}', ''].join('\n'),
  );
  const r = parseAndCheckFile(JSON.stringify(j), 'm.attn.json');
  assert.ok(r.ok, r.diagnostics.map((d) => d.message).join('; '));
  assert.is(r.specs[0]!.valueDim, 8);
});

test('equation-form specs round-trip with an update object and an output', () => {
  const spec = specOf('attention eq {\n  dims K = 4, V = 4\n  input q: [K], k: [K], v: [V], g: [K]\n  state S: [K, V]\n  update S = exp(g) * S + k ⊗ v\n  output o = Sᵀ q\n}\n');
  const j = specToJson(spec);
  assert.equal(j.update, { S: 'exp(g) * S + k ⊗ v' });
  assert.equal(j.output, { o: 'Sᵀ @ q' });
  assert.equal(j.states, { S: '[K, V]' });
  assert.ok(validate(j));
  const r = parseAndCheckFile(JSON.stringify(j), 'eq.attn.json');
  assert.ok(r.ok, r.diagnostics.map((d) => d.message).join('; '));
  assert.is(r.specs[0]!.rule.kind, 'equations');
});

// ── errors ───────────────────────────────────────────────────────────────────

const BASE: SpecJson = { attention: 'x', dims: { K: 4, V: 4 }, inputs: { q: '[K]', k: '[K]', v: '[V]' }, update: 'additive' };

function errorsOf(value: unknown, name = 'x.attn.json') {
  const text = typeof value === 'string' ? value : JSON.stringify(value, null, 2);
  const r = parseAndCheckFile(text, name);
  assert.not.ok(r.ok);
  assert.is(r.specs.length, 0);
  for (const d of r.diagnostics) {
    assert.match(d.code, /^ATTN\d{4}$/);
    assert.ok(d.source, 'every diagnostic has a source');
    assert.ok(d.span.start >= 0 && d.span.start <= d.span.end && d.span.end <= d.source!.text.length);
    assert.type(renderDiagnostic(d), 'string');
  }
  return r.diagnostics;
}

test('the base spec of the error tests is valid', () => {
  assert.ok(validate(BASE));
  assert.ok(parseAndCheckFile(JSON.stringify(BASE), 'x.attn.json').ok);
});

const SCHEMA_VIOLATIONS: [string, unknown, RegExp][] = [
  ['a missing attention', { ...BASE, attention: undefined }, /at \/: must have required property 'attention'/],
  ['an unknown property', { ...BASE, windows: 4 }, /must NOT have additional properties/],
  ['a number for an expression', { ...BASE, gate: -1 }, /at \/gate: must be string/],
  ['an empty expression', { ...BASE, mask: '' }, /at \/mask: must NOT have fewer than 1 characters/],
  ['a boolean dim', { ...BASE, dims: { K: true, V: 4 } }, /at \/dims\/K/],
  ['a zero dim', { ...BASE, dims: { K: 0, V: 4 } }, /at \/dims\/K/],
  ['a bad name', { ...BASE, attention: 'two words' }, /at \/attention: must match pattern/],
  ['a bad input name', { ...BASE, inputs: { ...BASE.inputs, '1x': 'scalar' } }, /property name must be valid|must match pattern/],
  ['a type that is not a string', { ...BASE, inputs: { q: ['K'], k: '[K]', v: '[V]' } }, /at \/inputs\/q: must be string/],
  ['a chunk word', { ...BASE, chunk: 'big' }, /at \/chunk/],
  ['three chunk sizes', { ...BASE, chunk: [64, 64, 64] }, /at \/chunk/],
  ['two outputs', { ...BASE, output: { o: 'q', p: 'q' } }, /at \/output: must NOT have more than 1 properties/],
  ['a let without a value', { ...BASE, lets: [{ name: 'z' }] }, /at \/lets\/0: must have required property 'value'/],
  ['an empty array', [], /must NOT have fewer than 1 items/],
  ['a bare number', 42, /at \/: must be object/],
  ['null', null, /must be object/],
];

for (const [what, value, message] of SCHEMA_VIOLATIONS) {
  test(`schema violation: ${what} gives ATTN6003`, () => {
    const ds = errorsOf(value);
    assert.ok(ds.length >= 1);
    assert.ok(
      ds.every((d) => d.code === 'ATTN6003' && d.severity === 'error'),
      ds.map((d) => `${d.code} ${d.message}`).join('\n'),
    );
    assert.ok(
      ds.some((d) => message.test(d.message)),
      ds.map((d) => d.message).join('\n'),
    );
    // Schema errors point into the JSON file itself.
    assert.is(ds[0]!.source!.name, 'x.attn.json');
  });
}

test('every message of a schema violation names the JSON pointer it is about', () => {
  const ds = errorsOf({ ...BASE, gate: 1, mask: 2, extra: 3 });
  assert.ok(ds.length >= 3);
  for (const d of ds) assert.match(d.message, /^the JSON spec does not match the schema at \/\S*: /);
});

for (const [what, text] of [
  ['an empty file', ''],
  ['a truncated object', '{"attention": "x", "dims": {"K": 4'],
  ['a trailing comma', '{"attention": "x",}'],
  ['single quotes', "{'attention': 'x'}"],
  ['two values', '{"attention": "x"} {"attention": "y"}'],
  ['spec text in a .json file', 'attention x {\n  update additive\n}\n'],
] as const) {
  test(`invalid JSON: ${what} gives ATTN6002`, () => {
    const ds = errorsOf(text);
    assert.equal(
      ds.map((d) => d.code),
      ['ATTN6002'],
    );
    assert.match(ds[0]!.message, /^invalid JSON: /);
    assert.is(ds[0]!.source!.text, text);
  });
}

test('a language error in a JSON spec gives the language diagnostic, pointing into the spec text', () => {
  const ds = errorsOf({ ...BASE, gate: '-softplus(alpha)' });
  assert.equal(
    ds.map((d) => d.code),
    ['ATTN2001'],
  );
  const d = ds[0]!;
  assert.is(d.message, "unknown name 'alpha'");
  // The span is in the canonical spec text made from the JSON, and covers the name.
  assert.is(d.source!.name, 'x.attn.json (as spec text)');
  assert.is(d.source!.text.slice(d.span.start, d.span.end), 'alpha');
  assert.match(renderDiagnostic(d), /gate {6}-softplus\(alpha\)\n.*\^\^\^\^\^/);
});

test('a syntax error in a JSON expression is a syntax diagnostic; a checker error keeps its code', () => {
  assert.equal(
    errorsOf({ ...BASE, mask: 'causal &' }).map((d) => d.code.slice(0, 5)),
    ['ATTN1'],
  );
  assert.equal(
    errorsOf({ ...BASE, chunk: 100 }).map((d) => d.code),
    ['ATTN2021'],
  );
  assert.equal(
    errorsOf({ ...BASE, update: 'delta' }).map((d) => d.code),
    ['ATTN2018'],
  );
  assert.equal(
    errorsOf({ ...BASE, mask: 'causal & window(64)' }).map((d) => d.code),
    ['ATTN2020'],
  );
});

test('a string that would add items or specs to the spec text is a schema violation', () => {
  // Pasted into the spec text these would add an item, a declaration, a dim or a whole spec.
  const cases: [SpecJson, string][] = [
    [{ ...BASE, mask: 'causal\n  chunk 64' }, '/mask'],
    [{ ...BASE, gate: '-1 } attention y {' }, '/gate'],
    [{ ...BASE, update: 'additive\n  gate -1' }, '/update'],
    [{ ...BASE, inputs: { q: '[K], g: [K]', k: '[K]', v: '[V]' } }, '/inputs/q'],
    [{ ...BASE, dims: { K: '4, Z = 8', V: 4 } }, '/dims/K'],
    [{ ...BASE, lets: [{ name: 'z', value: '1\n  let y = 2' }] }, '/lets/0/value'],
    [{ ...BASE, normalize: 'sum mask causal' }, '/normalize'],
    [{ ...BASE, mask: 'causal # and a comment' }, '/mask'],
    [{ ...BASE, inputs: { q: '[K] # a comment', k: '[K]', v: '[V]' } }, '/inputs/q'],
  ];
  for (const [j, path] of cases) {
    assert.ok(validate(j), 'the schema alone accepts it');
    const ds = errorsOf(j);
    assert.equal(
      ds.map((d) => d.code),
      ['ATTN6003'],
      JSON.stringify(j),
    );
    assert.match(ds[0]!.message, `at ${path}: must be`);
  }
  // In an array, the pointer names the spec.
  const ds = errorsOf([BASE, { ...BASE, attention: 'y', gate: '-1\n  gate -2' }]);
  assert.match(ds[0]!.message, 'at /1/gate: must be one expression');
});

test('strings that are one expression may still span lines or carry an equation for update', () => {
  const j: SpecJson = { ...BASE, inputs: { ...BASE.inputs, a: 'scalar' }, gate: '-softplus(a)\n', mask: 'j <=\n i' };
  const r = parseAndCheckFile(JSON.stringify(j), 'x.attn.json');
  assert.ok(r.ok, r.diagnostics.map((d) => d.message).join('; '));
});

test('JSON diagnostics keep the CLI-facing file name; spec-text ones say where the text came from', () => {
  const schemaErr = errorsOf({ attention: 'x', gate: 1 }, 'specs/a.attn.json');
  assert.is(schemaErr[0]!.source!.name, 'specs/a.attn.json');
  const langErr = errorsOf({ ...BASE, update: 'additiv' }, 'specs/b.attn.json');
  assert.is(langErr[0]!.code, 'ATTN2017');
  assert.is(langErr[0]!.source!.name, 'specs/b.attn.json (as spec text)');
  assert.match(langErr[0]!.hint ?? '', "did you mean 'additive'?");
});

test.run();
