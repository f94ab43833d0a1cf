/**
 * Baseline (golden-file) comparison: `tests/baselines/<path>` holds reviewed output. With
 * ATTNC_ACCEPT_BASELINES=1 (`npm run baselines:accept`) the current output is written there, to be
 * reviewed as a git diff; otherwise a mismatch fails and leaves the new output under
 * `tests/baselines/local/` for `diff -r`.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as assert from 'uvu/assert';

export const REPO = new URL('../../', import.meta.url).pathname;
const BASE = join(REPO, 'tests/baselines');

export function baseline(relPath: string, actual: string): void {
  const ref = join(BASE, relPath);
  if (process.env['ATTNC_ACCEPT_BASELINES'] === '1') {
    mkdirSync(dirname(ref), { recursive: true });
    writeFileSync(ref, actual);
    return;
  }
  const local = join(BASE, 'local', relPath);
  if (!existsSync(ref)) {
    mkdirSync(dirname(local), { recursive: true });
    writeFileSync(local, actual);
    assert.unreachable(`no baseline ${relPath}; the new output is in tests/baselines/local/${relPath} (accept with npm run baselines:accept)`);
  }
  const expected = readFileSync(ref, 'utf8');
  if (expected !== actual) {
    mkdirSync(dirname(local), { recursive: true });
    writeFileSync(local, actual);
  }
  assert.fixture(actual, expected, `baseline ${relPath} differs (new output in tests/baselines/local/)`);
}
