/**
 * Diagnostics baselines: every spec in tests/cases/errors/ must produce at least one error or
 * warning, rendered exactly as in tests/baselines/errors/<name>.errors.txt (reviewed output).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseAndCheck } from '../compiler/frontend.ts';
import { renderDiagnostics } from '../compiler/diagnostics/render.ts';
import { baseline, REPO } from './helpers/baseline.ts';

const dir = join(REPO, 'tests/cases/errors');
const cases = readdirSync(dir).filter((f) => f.endsWith('.attn')).sort();

test('there are at least 40 error cases', () => {
  assert.ok(cases.length >= 40, `${cases.length} cases`);
});

for (const f of cases) {
  test(`errors/${f}`, () => {
    const text = readFileSync(join(dir, f), 'utf8');
    const r = parseAndCheck(text, `tests/cases/errors/${f}`);
    assert.ok(r.diagnostics.length > 0, 'expected at least one diagnostic');
    for (const d of r.diagnostics) {
      assert.match(d.code, /^ATTN\d{4}$/);
      assert.ok(d.span.start >= 0 && d.span.end >= d.span.start && d.span.end <= text.length, `span ${d.span.start}-${d.span.end} inside the file`);
    }
    baseline(`errors/${f.replace(/\.attn$/, '.errors.txt')}`, renderDiagnostics(r.diagnostics) + '\n');
  });
}

test.run();
