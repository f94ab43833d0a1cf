/**
 * The examples run: examples/node/run-gdn.mjs in a child process (it packs gated_deltanet with the
 * built CLI, runs it on WebGPU and prints its error against the reference), and the browser
 * example's logic (examples/browser/app.js) with the browser bundle and Dawn standing in for
 * navigator.gpu.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { REPO } from '../helpers/baseline.ts';
import { ensureDist } from '../api/dist.ts';

interface AppResult {
  ok: boolean;
  codes: string[];
  diagnostics: string;
  spec?: string;
  kernels: { name: string; code: string }[];
  run?: { skipped?: string; relErr?: number; ok?: boolean; ms?: number };
}
type App = {
  compileAndRun: (attnc: unknown, source: string, o: { dims?: Record<string, number>; shape?: { B: number; T: number; H: number }; gpu?: unknown; seed?: number }) => Promise<AppResult>;
  parseDims: (s: string) => Record<string, number> | Error | undefined;
};

test('examples/node/run-gdn.mjs packs, runs on WebGPU and prints a small error (exit 0)', () => {
  ensureDist();
  let stdout = '';
  try {
    stdout = execFileSync(process.execPath, [join(REPO, 'examples/node/run-gdn.mjs'), '--dims', 'K=8,V=8', '--B', '2', '--T', '40', '--H', '2', '--seed', '3'], { cwd: REPO, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const x = e as { status?: number; stdout?: string; stderr?: string };
    assert.unreachable(`the example failed (status ${x.status}):\n${x.stdout}\n${x.stderr}`);
  }
  assert.match(stdout, "spec 'gated_deltanet'");
  const m = /relative error vs the float64 reference: ([0-9.e+-]+)/.exec(stdout);
  assert.ok(m, stdout);
  const err = Number(m![1]);
  assert.ok(Number.isFinite(err) && err <= 1e-4, `error ${err}`);
});

test('examples/browser/app.js: compiles typed text, runs it on a GPU against the reference, reports diagnostics', async () => {
  ensureDist();
  const attnc = (await import(pathToFileURL(join(REPO, 'dist/attnc.browser.js')).href)) as Record<string, unknown>;
  const app = (await import(pathToFileURL(join(REPO, 'examples/browser/app.js')).href)) as App;
  const { create, globals } = await import('webgpu');
  Object.assign(globalThis, globals);
  const gpu = create([]);
  const source = readFileSync(join(REPO, 'stdlib/gated_deltanet.attn'), 'utf8');
  const r = await app.compileAndRun(attnc, source, { dims: { K: 8, V: 8 }, shape: { B: 1, T: 40, H: 2 }, gpu, seed: 2 });
  assert.ok(r.ok, r.diagnostics);
  assert.is(r.spec, 'gated_deltanet');
  assert.ok(r.kernels.length > 0 && r.kernels.every((k) => k.code.includes('@compute')));
  assert.ok(r.run && r.run.relErr !== undefined, JSON.stringify(r.run));
  assert.ok(r.run!.relErr! <= 1e-4, `error ${r.run!.relErr}`);
  // Without a GPU: compile only, and it says why it did not run.
  const noGpu = await app.compileAndRun(attnc, source, { dims: { K: 8, V: 8 } });
  assert.match(noGpu.run!.skipped!, 'navigator.gpu');
  // A typo gives diagnostics with codes and a code frame, and nothing runs.
  const bad = await app.compileAndRun(attnc, source.replace('softplus(a + dt_bias[h])', 'softplus(a + dt_bais[h])'), { gpu });
  assert.is(bad.ok, false);
  assert.is(bad.codes[0], 'ATTN2001');
  assert.match(bad.diagnostics, "spec.attn:12:43: error[ATTN2001]: unknown name 'dt_bais'");
  assert.match(bad.diagnostics, "did you mean 'dt_bias'?");
  assert.match(bad.diagnostics, '^');
  assert.is(bad.run, undefined);
  assert.ok(app.parseDims('K=16, V=8') && !(app.parseDims('K=16, V=8') instanceof Error));
  assert.instance(app.parseDims('K=x'), Error);
});

test.run();
