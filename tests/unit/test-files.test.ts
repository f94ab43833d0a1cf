/**
 * Every test file ends its tests with `test.run()` (uvu runs a suite when that is called, in one
 * process with tests/run.ts); a `test(…)` written after it is never run and never reported. This
 * guards against that: no test registration may follow the file's `test.run()`.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { REPO } from '../helpers/baseline.ts';

function testFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? testFiles(p) : n.endsWith('.test.ts') ? [p] : [];
  });
}

test('no test is registered after test.run() (it would silently not run)', () => {
  const late: string[] = [];
  for (const f of testFiles(join(REPO, 'tests'))) {
    const text = readFileSync(f, 'utf8');
    const runAt = text.lastIndexOf('test.run()');
    if (runAt < 0) {
      late.push(`${relative(REPO, f)}: no test.run()`);
      continue;
    }
    const after = text.slice(runAt);
    if (/^\s*(test|test\.only|test\.skip)\s*\(/m.test(after.slice('test.run()'.length))) late.push(`${relative(REPO, f)}: test(…) after test.run()`);
  }
  assert.equal(late, []);
});

test.run();
