/**
 * The built bundles (dist/) for tests that load them: rebuilt with scripts/build.mjs when missing
 * or older than any source they are made from.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from '../helpers/baseline.ts';

function newest(dir: string): number {
  let t = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) t = Math.max(t, newest(p));
    else if (/\.(ts|json|mjs)$/.test(name)) t = Math.max(t, st.mtimeMs);
  }
  return t;
}

let checked = false;

/** Make sure dist/attnc.js, dist/attnc.browser.js and the runtime are as new as the sources. */
export function ensureDist(): void {
  if (checked) return;
  const sources = Math.max(...['compiler', 'dsl', 'backends', 'bin'].map((d) => newest(join(REPO, d))), statSync(join(REPO, 'scripts/build.mjs')).mtimeMs);
  const outputs = ['dist/attnc.js', 'dist/attnc.browser.js', 'dist/attnc-runtime.js'].map((f) => join(REPO, f));
  if (!outputs.every((f) => existsSync(f) && statSync(f).mtimeMs >= sources)) execFileSync(process.execPath, [join(REPO, 'scripts/build.mjs')], { cwd: REPO, stdio: 'pipe' });
  checked = true;
}
