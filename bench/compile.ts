/**
 * Compile-speed benchmark: how long attnc takes to turn each standard-library spec into WGSL
 * kernels, the manifest and TypeScript bindings.
 *
 *   node --import tsx bench/compile.ts [--cold-runs 3] [--runs 20] [--warmup 5] [--json]
 *   npm run bench:compile
 *
 * cold CLI  wall time of a fresh `node bin/attnc compile stdlib/X.attn --target wgsl,ts --out DIR`
 *           (the built bundle dist/attnc.js), from spawning the process until it has exited with
 *           its artefacts written; the median of --cold-runs processes. For scale, the table's
 *           header gives the same for `node -e ''` (Node alone) and `bin/attnc --version` (Node
 *           and the bundle loaded, nothing compiled).
 * warm API  `compile(text, { targets: ['wgsl', 'ts'] })` of the programmatic API in this process
 *           (the browser bundle dist/attnc.browser.js, as a page would load it): --warmup calls,
 *           then the median of --runs calls. Front end, lowering, planning passes, WGSL and
 *           bindings; nothing is written.
 *
 * A benchmark, not a test: it prints a Markdown table and exits 0 (2 on bad usage).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
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
    process.stderr.write(`bench/compile: --${name} needs a positive integer\n`);
    process.exit(2);
  }
  return v;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

const coldRuns = arg('cold-runs', 3);
const runs = arg('runs', 20);
const warmup = arg('warmup', 5);
const asJson = process.argv.includes('--json');

for (const f of ['dist/attnc.js', 'dist/attnc.browser.js']) {
  if (!existsSync(join(REPO, f))) {
    process.stderr.write(`bench/compile: ${f} is missing; run \`npm run build\` first\n`);
    process.exit(2);
  }
}

type Api = typeof import('../compiler/api.ts');
const api = (await import(pathToFileURL(join(REPO, 'dist/attnc.browser.js')).href)) as Api;

function timeProcess(args: string[]): { ms: number; status: number | null } {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
  return { ms: performance.now() - t0, status: r.status };
}

const nodeAlone = median(Array.from({ length: coldRuns }, () => timeProcess(['-e', '']).ms));
const versionOnly = median(Array.from({ length: coldRuns }, () => timeProcess([join(REPO, 'bin/attnc'), '--version']).ms));

interface Row {
  spec: string;
  family: string;
  kernels: number;
  wgslKiB: number;
  coldMs: number;
  warmMs: number;
  ok: boolean;
}

const rows: Row[] = [];
const out = mkdtempSync(join(tmpdir(), 'attnc-bench-compile-'));
try {
  for (const file of readdirSync(STDLIB).filter((f) => f.endsWith('.attn')).sort()) {
    const path = join('stdlib', file);
    const text = readFileSync(join(REPO, path), 'utf8');
    const first = api.compile(text, { name: path, targets: ['wgsl', 'ts'] });
    const spec = first.ir?.name ?? file.replace(/\.attn$/, '');
    for (let i = 0; i < warmup; i++) api.compile(text, { name: path, targets: ['wgsl', 'ts'] });
    const warm: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      api.compile(text, { name: path, targets: ['wgsl', 'ts'] });
      warm.push(performance.now() - t0);
    }
    const cold: number[] = [];
    let coldOk = true;
    for (let i = 0; i < coldRuns; i++) {
      const dir = join(out, `${spec}-${i}`);
      const r = timeProcess([join(REPO, 'bin/attnc'), 'compile', path, '--target', 'wgsl,ts', '--out', dir]);
      coldOk &&= r.status === 0 && existsSync(join(dir, spec, `${spec}.ts`));
      cold.push(r.ms);
    }
    const wgsl = first.artifacts.filter((a) => a.path.endsWith('.wgsl'));
    rows.push({
      spec,
      family: first.ir?.family ?? '?',
      kernels: wgsl.length,
      wgslKiB: wgsl.reduce((n, a) => n + a.contents.length, 0) / 1024,
      coldMs: median(cold),
      warmMs: median(warm),
      ok: first.ok && coldOk,
    });
    process.stderr.write(`\r${rows.length} specs`);
  }
} finally {
  rmSync(out, { recursive: true, force: true });
}
process.stderr.write('\n');

const machine = `${cpus().length} CPUs (${cpus()[0]?.model.trim() ?? 'unknown'}), ${Math.round(totalmem() / 2 ** 30)} GiB RAM, Node ${process.version}`;
if (asJson) {
  process.stdout.write(JSON.stringify({ machine, coldRuns, runs, warmup, nodeAloneMs: nodeAlone, versionOnlyMs: versionOnly, rows }, null, 2) + '\n');
} else {
  const f = (x: number, d = 1) => x.toFixed(d);
  const lines = [
    `Machine: ${machine}. Cold: median of ${coldRuns} processes; warm: median of ${runs} calls after ${warmup} warm-up calls.`,
    `For scale: \`node -e ''\` ${f(nodeAlone)} ms; \`bin/attnc --version\` (Node + the CLI bundle, nothing compiled) ${f(versionOnly)} ms.`,
    '',
    '| spec | family | kernels | WGSL KiB | cold CLI ms | warm API ms |',
    '|---|---|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.spec}${r.ok ? '' : ' (failed)'} | ${r.family} | ${r.kernels} | ${f(r.wgslKiB)} | ${f(r.coldMs, 0)} | ${f(r.warmMs, 2)} |`),
    `| **median** | | | | ${f(median(rows.map((r) => r.coldMs)), 0)} | ${f(median(rows.map((r) => r.warmMs)), 2)} |`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
}
