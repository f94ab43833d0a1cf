/**
 * The whole repository type-checks under strict TypeScript (tsconfig.json: dsl, compiler,
 * backends, bin, tests, bench, scripts, examples). The tests run through tsx, which strips types
 * without checking them, so without this a type error would pass CI.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { REPO } from '../helpers/baseline.ts';

test('tsc -p tsconfig.json reports no error', () => {
  const tsc = join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', join(REPO, 'tsconfig.json')], { encoding: 'utf8', timeout: 300_000 });
  assert.is(r.error, undefined, `tsc could not run: ${r.error?.message}`);
  assert.is(r.status, 0, `tsc found errors:\n${r.stdout}${r.stderr}`);
});

test.run();
