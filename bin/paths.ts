/** Where attnc's own files are (the package root), from the bundled CLI or the sources. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const pj = join(dir, 'package.json');
    if (existsSync(pj) && (JSON.parse(readFileSync(pj, 'utf8')) as { name?: string }).name === 'attnc') return dir;
    dir = dirname(dir);
  }
  throw new Error('attnc: cannot find the attnc package root');
}

/** The standalone WebGPU runtime generated packages ship (built on demand in a source checkout). */
export async function runtimeFiles(): Promise<{ js: string; dts: string }> {
  const root = packageRoot();
  const js = join(root, 'dist/attnc-runtime.js');
  const dts = join(root, 'dist/attnc-runtime.d.ts');
  if (!existsSync(js) || !existsSync(dts)) {
    const { buildRuntime } = (await import(join(root, 'scripts/build-runtime.mjs'))) as { buildRuntime: (root: string) => Promise<void> };
    await buildRuntime(root);
  }
  return { js: readFileSync(js, 'utf8'), dts: readFileSync(dts, 'utf8') };
}
