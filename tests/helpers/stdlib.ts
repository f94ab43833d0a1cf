/** The standard library as test data. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from './baseline.ts';

export const STDLIB_DIR = join(REPO, 'stdlib');

export function stdlibFiles(): { name: string; path: string; text: string }[] {
  return readdirSync(STDLIB_DIR)
    .filter((f) => f.endsWith('.attn'))
    .sort()
    .map((f) => ({ name: f.replace(/\.attn$/, ''), path: join(STDLIB_DIR, f), text: readFileSync(join(STDLIB_DIR, f), 'utf8') }));
}
