/** The standard library checks clean, is formatted, and every spec names its paper and equations. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseAndCheck } from '../../compiler/frontend.ts';
import { renderDiagnostics } from '../../compiler/diagnostics/render.ts';
import { format } from '../../dsl/format.ts';
import { parse } from '../../dsl/parse.ts';
import { stdlibFiles } from '../helpers/stdlib.ts';

const files = stdlibFiles();

test('the standard library has at least 16 specs', () => {
  assert.ok(files.length >= 16, `${files.length}`);
});

const required = [
  'softmax', 'gated_softmax', 'swa_sink', 'alibi', 'forgetting_attention', 'linear_attention', 'relu_attention',
  'cosine_attention', 'based', 'performer', 'hedgehog', 'cosformer', 'retnet', 'lightning', 'mamba2', 'gla',
  'hgrn2', 'deltanet', 'gated_deltanet', 'kda', 'rwkv6', 'rwkv7', 'mlstm',
];
test('every mechanism the issue names is present', () => {
  const names = new Set(files.map((f) => f.name));
  for (const r of required) assert.ok(names.has(r), `missing stdlib/${r}.attn`);
});

for (const f of files) {
  test(`stdlib/${f.name}: checks without diagnostics`, () => {
    const r = parseAndCheck(f.text, f.path);
    assert.is(renderDiagnostics(r.diagnostics), '');
    assert.is(r.specs.length, 1);
    assert.is(r.specs[0]!.name, f.name, 'the spec is named after its file');
  });
  test(`stdlib/${f.name}: formatted`, () => {
    const p = parse(f.text, f.path);
    assert.fixture(format(p.file, p.source), f.text);
  });
  test(`stdlib/${f.name}: header names a paper and the equations`, () => {
    const header = f.text.split('\n').filter((l) => l.startsWith('#'));
    assert.ok(header.length >= 3, 'a header comment of several lines');
    assert.match(header.join('\n'), /\(\w*[^)]*(19|20)\d\d\)/, 'a paper with its year');
    assert.match(header.join('\n'), /[=]/, 'at least one equation');
  });
}

test.run();
