/**
 * The generated parts of the documentation are current (the built-in tables and the diagnostics
 * catalogue in docs/language.md, docs/grammar.html from the grammar), every ```attn example in
 * docs/language.md parses and checks, and grammar.html loads nothing from the network:
 * `scripts/gen-docs.ts --check`, which exits 1 and names the stale file otherwise.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { REPO } from '../helpers/baseline.ts';

test('docs are current: gen-docs --check', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(REPO, 'scripts/gen-docs.ts'), '--check'], { cwd: REPO, encoding: 'utf8', timeout: 120_000 });
  assert.is(r.error, undefined, `gen-docs could not run: ${r.error?.message}`);
  assert.is(r.status, 0, `${r.stdout}${r.stderr}(regenerate with npm run docs and review the diff)`);
  assert.match(r.stdout + r.stderr, 'docs ok');
});

test.run();
