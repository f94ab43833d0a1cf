/**
 * Runs every `tests/**\/*.test.ts` in one process with uvu, then prints the plain summary line
 * `N passed, N failed` that CI reads. A skipped test counts as failed: nothing passes unrun.
 *   npm test                      all tests
 *   npm test -- parser checker    only files whose path contains one of the words
 *   npm run baselines:accept      rewrite baselines from the current output (review the diff!)
 */
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';

process.env['NO_COLOR'] = '1';
const args = process.argv.slice(2);
if (args.includes('--accept-baselines')) process.env['ATTNC_ACCEPT_BASELINES'] = '1';
const filters = args.filter((a) => !a.startsWith('--'));

const root = new URL('.', import.meta.url).pathname;
function find(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...find(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}
const files = find(root).filter((f) => filters.length === 0 || filters.some((w) => relative(root, f).includes(w)));

// Capture uvu's report to read its totals.
let captured = '';
const realWrite = process.stdout.write.bind(process.stdout);
process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
  captured += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
  return (realWrite as (c: unknown, ...r: unknown[]) => boolean)(chunk, ...rest);
}) as typeof process.stdout.write;

(globalThis as { UVU_DEFER?: number }).UVU_DEFER = 1;
const uvu = await import('uvu');
const g = globalThis as unknown as { UVU_QUEUE: unknown[][]; UVU_INDEX: number };
let loadFailures = 0;
for (let i = 0; i < files.length; i++) {
  g.UVU_INDEX = i;
  g.UVU_QUEUE.push([relative(root, files[i]!)]);
  try {
    await import(pathToFileURL(files[i]!).href);
  } catch (e) {
    loadFailures++;
    process.stderr.write(`could not load ${relative(root, files[i]!)}: ${(e as Error).stack ?? e}\n`);
  }
}
await uvu.exec();
process.stdout.write = realWrite;

const num = (label: string) => Number(new RegExp(`${label}:\\s+(\\d+)`).exec(captured)?.[1] ?? NaN);
const total = num('Total');
const passed = num('Passed');
const skipped = num('Skipped');
if (!Number.isFinite(total) || !Number.isFinite(passed)) {
  console.log('0 passed, 1 failed');
  process.exit(1);
}
const failed = total - passed + (skipped || 0) + loadFailures;
if (skipped) console.log(`${skipped} skipped test(s) count as failed`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
