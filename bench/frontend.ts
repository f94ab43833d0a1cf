/**
 * Front-end benchmark: how long parsing and checking take for each standard-library spec.
 *
 *   node --import tsx bench/frontend.ts [--runs 200] [--warmup 50] [--cold-runs 5] [--json]
 *   npm run bench:frontend
 *
 * For each spec in stdlib/ it runs `parse` (dsl/parse.ts), `check` (compiler/check/checker.ts,
 * on the already parsed AST) and `parseAndCheck` (compiler/frontend.ts, the whole front end),
 * each --warmup times to warm the JIT and then --runs times, and prints the median of the runs.
 * Then it starts fresh Node processes (same flags, --cold-runs of them) that import the front
 * end and run parseAndCheck over the whole standard library, and reports the median cold times:
 * module loading (tsx's TypeScript transform, and chevrotain building the parser), the first
 * call on the first spec, the first pass over all specs and a second pass. When the esbuild
 * bundle dist/attnc.browser.js exists (npm run build), the same is measured for it in plain
 * Node, without tsx.
 *
 * This is a benchmark, not a test: it prints a table (Markdown) and exits 0.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const STDLIB = join(REPO, 'stdlib');

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v < 1) {
    process.stderr.write(`bench/frontend: --${name} needs a positive integer\n`);
    process.exit(2);
  }
  return v;
}

function stdlibSpecs(): { name: string; file: string; text: string }[] {
  return readdirSync(STDLIB)
    .filter((f) => f.endsWith('.attn'))
    .sort()
    .map((f) => ({ name: f.replace(/\.attn$/, ''), file: join('stdlib', f), text: readFileSync(join(STDLIB, f), 'utf8') }));
}

// ── cold mode: run in a fresh child process ────────────────────────────────────

if (process.argv.includes('--cold-child')) {
  const t0 = performance.now();
  const { parseAndCheck } = await import('../compiler/frontend.ts');
  const t1 = performance.now();
  const specs = stdlibSpecs();
  let first = 0;
  let ok = true;
  const t2 = performance.now();
  for (const [n, s] of specs.entries()) {
    const r = parseAndCheck(s.text, s.file);
    ok &&= r.ok;
    if (n === 0) first = performance.now() - t2;
  }
  const t3 = performance.now();
  // The second pass, for comparison: already warm-ish, but far from the steady state.
  for (const s of specs) parseAndCheck(s.text, s.file);
  const t4 = performance.now();
  process.stdout.write(JSON.stringify({ importMs: t1 - t0, firstSpecMs: first, firstPassMs: t3 - t2, secondPassMs: t4 - t3, specs: specs.length, ok }) + '\n');
  process.exit(0);
}

// ── warm mode ──────────────────────────────────────────────────────────────────

const { parse } = await import('../dsl/parse.ts');
const { check } = await import('../compiler/check/checker.ts');
const { parseAndCheck } = await import('../compiler/frontend.ts');
const { SourceFile } = await import('../compiler/diagnostics/source.ts');

const RUNS = arg('runs', 200);
const WARMUP = arg('warmup', 50);
const COLD_RUNS = arg('cold-runs', 5);
const asJson = process.argv.includes('--json');

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Median wall time of `fn` in milliseconds over RUNS runs, after WARMUP runs. */
function time(fn: () => unknown): number {
  for (let i = 0; i < WARMUP; i++) fn();
  const xs: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    fn();
    xs.push(performance.now() - t);
  }
  return median(xs);
}

interface Row {
  spec: string;
  family: string;
  lines: number;
  parseMs: number;
  checkMs: number;
  totalMs: number;
}

const specs = stdlibSpecs();
// Every spec must be valid, or the timings would measure error paths.
for (const s of specs) {
  const r = parseAndCheck(s.text, s.file);
  if (!r.ok) throw new Error(`bench/frontend: ${s.file} does not check: ${r.diagnostics.map((d) => d.message).join('; ')}`);
}
// One global warm-up pass so the first spec is not penalised for the JIT's early work.
for (let i = 0; i < WARMUP; i++) for (const s of specs) parseAndCheck(s.text, s.file);

const rows: Row[] = [];
let sink = 0;
for (const s of specs) {
  const src = new SourceFile(s.file, s.text);
  const parsed = parse(src);
  const parseMs = time(() => (sink += parse(new SourceFile(s.file, s.text)).file.specs.length));
  const checkMs = time(() => (sink += check(parsed.file, src).specs.length));
  const totalMs = time(() => (sink += parseAndCheck(s.text, s.file).specs.length));
  const family = parseAndCheck(s.text, s.file).specs[0]?.family ?? '?';
  rows.push({ spec: s.name, family, lines: s.text.split('\n').filter((l) => l.trim() && !l.trim().startsWith('#')).length, parseMs, checkMs, totalMs });
}
if (sink < 0) console.log(sink); // keep the results alive

interface Cold {
  importMs: number;
  firstSpecMs: number;
  firstPassMs: number;
  secondPassMs: number;
  specs: number;
  ok: boolean;
}

/** Run a fresh process COLD_RUNS times; the median of each figure. */
function coldRuns(args: string[], what: string): Cold {
  const rs: Cold[] = [];
  for (let i = 0; i < COLD_RUNS; i++) {
    const child = spawnSync(process.execPath, args, { cwd: REPO, encoding: 'utf8' });
    if (child.status !== 0) throw new Error(`bench/frontend: the cold run of ${what} failed:\n${child.stderr}`);
    rs.push(JSON.parse(child.stdout.trim().split('\n').pop()!) as Cold);
  }
  const med = (k: 'importMs' | 'firstSpecMs' | 'firstPassMs' | 'secondPassMs') => median(rs.map((r) => r[k]));
  return { importMs: med('importMs'), firstSpecMs: med('firstSpecMs'), firstPassMs: med('firstPassMs'), secondPassMs: med('secondPassMs'), specs: rs[0]!.specs, ok: rs.every((r) => r.ok) };
}

const cold = coldRuns([...process.execArgv, fileURLToPath(import.meta.url), '--cold-child'], 'the TypeScript sources');

// The same cold measurement with the esbuild bundle (npm run build), in plain Node without tsx:
// what a user of dist/attnc.browser.js pays, without the TypeScript transform.
const BUNDLE = join(REPO, 'dist', 'attnc.browser.js');
let bundleCold: Cold | undefined;
if (existsSync(BUNDLE)) {
  const code = `
    const { performance } = await import('node:perf_hooks');
    const { readdirSync, readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const files = readdirSync(${JSON.stringify(STDLIB)}).filter((f) => f.endsWith('.attn')).sort();
    const texts = files.map((f) => readFileSync(join(${JSON.stringify(STDLIB)}, f), 'utf8'));
    const t0 = performance.now();
    const { check } = await import(${JSON.stringify(pathToFileURL(BUNDLE).href)});
    const t1 = performance.now();
    let first = 0, ok = true;
    const t2 = performance.now();
    texts.forEach((t, n) => { ok = check(t, { name: files[n] }).ok && ok; if (n === 0) first = performance.now() - t2; });
    const t3 = performance.now();
    for (const [n, t] of texts.entries()) check(t, { name: files[n] });
    const t4 = performance.now();
    console.log(JSON.stringify({ importMs: t1 - t0, firstSpecMs: first, firstPassMs: t3 - t2, secondPassMs: t4 - t3, specs: files.length, ok }));`;
  bundleCold = coldRuns(['--input-type=module', '-e', code], 'the bundle');
}

if (asJson) {
  console.log(JSON.stringify({ runs: RUNS, warmup: WARMUP, node: process.version, rows, cold, bundleCold }, null, 2));
  process.exit(0);
}

const f = (x: number) => x.toFixed(3);
const sum = (k: 'parseMs' | 'checkMs' | 'totalMs') => rows.reduce((a, r) => a + r[k], 0);
const lines = [
  `Median of ${RUNS} runs after ${WARMUP} warm-up runs per spec (and ${WARMUP} warm-up passes over the whole library); times in ms.`,
  '`parse` = dsl/parse.ts `parse` (lex, parse, CST → AST); `check` = compiler/check/checker.ts `check` on the parsed AST;',
  '`total` = compiler/frontend.ts `parseAndCheck` (both, measured together). lines = non-blank, non-comment lines of the file.',
  '',
  '| spec | family | lines | parse ms | check ms | total ms |',
  '|---|---|---:|---:|---:|---:|',
  ...rows.map((r) => `| ${r.spec} | ${r.family} | ${r.lines} | ${f(r.parseMs)} | ${f(r.checkMs)} | ${f(r.totalMs)} |`),
  `| **all ${rows.length} specs (sum of medians)** | | | **${f(sum('parseMs'))}** | **${f(sum('checkMs'))}** | **${f(sum('totalMs'))}** |`,
  '',
  `Cold: a fresh process (\`node ${process.execArgv.join(' ')}\`) per run, median of ${COLD_RUNS} processes, ${cold.specs} specs${cold.ok ? '' : ' (SOME FAILED TO CHECK)'}:`,
  '',
  '| measurement | ms |',
  '|---|---:|',
  `| import compiler/frontend.ts (tsx's TypeScript transform, module evaluation, building the chevrotain parser) | ${cold.importMs.toFixed(1)} |`,
  `| first parseAndCheck call (${specs[0]!.name}) | ${cold.firstSpecMs.toFixed(1)} |`,
  `| first pass over the whole stdlib (first call included) | ${cold.firstPassMs.toFixed(1)} |`,
  `| second pass over the whole stdlib | ${cold.secondPassMs.toFixed(1)} |`,
];
if (bundleCold) {
  lines.push(
    '',
    `The same with the esbuild bundle \`dist/attnc.browser.js\` in plain \`node\` (no tsx), through its \`check\`, median of ${COLD_RUNS} processes:`,
    '',
    '| measurement | ms |',
    '|---|---:|',
    `| import dist/attnc.browser.js | ${bundleCold.importMs.toFixed(1)} |`,
    `| first check call (${specs[0]!.name}) | ${bundleCold.firstSpecMs.toFixed(1)} |`,
    `| first pass over the whole stdlib (first call included) | ${bundleCold.firstPassMs.toFixed(1)} |`,
    `| second pass over the whole stdlib | ${bundleCold.secondPassMs.toFixed(1)} |`,
  );
} else lines.push('', '(dist/attnc.browser.js is missing: run `npm run build` for the bundle\'s cold figures.)');
console.log(lines.join('\n'));
