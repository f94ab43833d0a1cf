/**
 * The product commands of the CLI: exit codes (0 ok, 1 diagnostics, 2 usage) of pack, bench and
 * compile over folders, --json output a tool can read, --help with examples, --version.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { VERSION } from '../../compiler/version.ts';
import { progress } from '../../bin/output.ts';
import { REPO } from '../helpers/baseline.ts';
import { attnc } from '../pack/run-cli.ts';

const tmp = mkdtempSync(join(tmpdir(), 'attnc-cli-product-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));
const GLA = join(REPO, 'stdlib/gla.attn');
const BAD = 'attention bad {\n  dims K = 4, V = 4\n  input q: [K], k: [K], v: [V]\n  gate -softplus(alpha)\n  update additive\n}\n';

test('--version prints the version; every command has --help with examples (exit 0)', async () => {
  const v = await attnc('--version');
  assert.is(v.code, 0);
  assert.is(v.stdout.trim(), VERSION);
  for (const cmd of ['check', 'fmt', 'explain', 'compile', 'run', 'pack', 'bench']) {
    const h = await attnc(cmd, '--help');
    assert.is(h.code, 0, cmd);
    assert.match(h.stdout, `Usage: attnc ${cmd}`);
    assert.match(h.stdout, 'Examples:\n  attnc ' + cmd);
    assert.match(h.stdout, '--json');
  }
});

test('bad usage exits 2: unknown command, unknown option, missing argument, bad option values', async () => {
  assert.is((await attnc('frobnicate')).code, 2);
  assert.is((await attnc('pack', GLA, '--frobnicate')).code, 2);
  assert.is((await attnc('bench')).code, 2);
  const shape = await attnc('bench', GLA, '--shape', 'X=3');
  assert.is(shape.code, 2);
  assert.match(shape.stderr, "--shape takes B, T and H, found 'X'");
  assert.is((await attnc('bench', GLA, '--repeats', '0')).code, 2);
  assert.is((await attnc('bench', GLA, '--dtype', 'bf16')).code, 2);
  assert.is((await attnc('bench', GLA, '--profile', 'cuda-sm90')).code, 2);
  assert.is((await attnc('pack', GLA, '--form', 'sideways')).code, 2);
  const empty = join(tmp, 'empty');
  mkdirSync(empty);
  assert.is((await attnc('compile', empty)).code, 2, 'a folder without specs');
});

test('bench: a broken spec exits 1 with the diagnostic; a spec runs and reports consistent timings as JSON', async () => {
  const bad = join(tmp, 'bad.attn');
  writeFileSync(bad, BAD);
  const b = await attnc('bench', bad);
  assert.is(b.code, 1);
  assert.match(b.stderr, 'error[ATTN2001]');
  const r = await attnc('bench', GLA, '--dims', 'K=8,V=8', '--shape', 'B=1,T=24,H=2', '--repeats', '3', '--warmup', '1', '--json');
  assert.is(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { ok: boolean; shape: { B: number; T: number; K: number }; repeats: number; run: { msPerCall: number; tokensPerSecond: number; samplesMs: number[] }; encode: { msPerCall: number; tokensPerSecond: number; samplesMs: number[] } };
  assert.ok(j.ok);
  assert.is(j.shape.K, 8);
  for (const x of [j.run, j.encode]) {
    assert.is(x.samplesMs.length, 3);
    const sorted = [...x.samplesMs].sort((a, b) => a - b);
    assert.is(x.msPerCall, sorted[1], 'the median of the samples');
    assert.ok(Math.abs(x.tokensPerSecond - 24 / (x.msPerCall / 1000)) < 1e-6 * x.tokensPerSecond);
  }
  const text = await attnc('bench', GLA, '--dims', 'K=8,V=8', '--shape', 'B=1,T=16,H=1', '--repeats', '1', '--warmup', '0');
  assert.is(text.code, 0, text.stderr);
  assert.match(text.stdout, /run .* ms\/call .* tokens\/s/);
});

test('compile a folder: one result per spec file (JSON), exit 1 when one has errors', async () => {
  const dir = join(tmp, 'specs');
  mkdirSync(dir);
  for (const n of ['gla', 'retnet', 'simple_gla']) writeFileSync(join(dir, `${n}.attn`), (await import('node:fs')).readFileSync(join(REPO, 'stdlib', `${n}.attn`), 'utf8'));
  const out = join(tmp, 'out');
  const ok = await attnc('compile', dir, '--dims', 'K=8,V=8', '--out', out, '--json');
  assert.is(ok.code, 0, ok.stderr);
  const j = JSON.parse(ok.stdout) as { ok: boolean; results: { file: string; ok: boolean; spec: string; files: string[] }[] };
  assert.ok(j.ok);
  assert.equal(j.results.map((r) => r.spec), ['gla', 'retnet', 'simple_gla']);
  assert.equal(readdirSync(out).sort(), ['gla', 'retnet', 'simple_gla']);
  writeFileSync(join(dir, 'zz_bad.attn'), BAD);
  const mixed = await attnc('compile', dir, '--dims', 'K=8,V=8', '--out', out, '--json');
  assert.is(mixed.code, 1);
  const m = JSON.parse(mixed.stdout) as { ok: boolean; results: { ok: boolean; diagnostics?: { code: string }[] }[] };
  assert.is(m.ok, false);
  assert.equal(m.results.map((r) => r.ok), [true, true, true, false]);
  assert.is(m.results[3]!.diagnostics![0]!.code, 'ATTN2001');
});

test('the progress bar draws only on a terminal, and clears its line', () => {
  const writes: string[] = [];
  const fake = (isTTY: boolean) => ({ isTTY, columns: 60, write: (s: string) => writes.push(s) }) as unknown as NodeJS.WriteStream;
  const saved = { NO_PROGRESS: process.env['NO_PROGRESS'], CI: process.env['CI'] };
  delete process.env['NO_PROGRESS'];
  delete process.env['CI'];
  try {
    const off = progress(3, 'compile', { stream: fake(false) });
    off.tick('a');
    off.done();
    assert.equal(writes, []);
    const on = progress(4, 'compile', { stream: fake(true) });
    on.tick('a.attn');
    on.tick('b.attn');
    on.done();
    assert.match(writes[0]!, /compile \[#{6}\.{18}\] 1\/4 a\.attn/);
    assert.match(writes[1]!, /2\/4 b\.attn/);
    assert.is(writes[2], '\r\x1b[K');
    writes.length = 0;
    progress(4, 'compile', { stream: fake(true), json: true }).tick('x');
    assert.equal(writes, [], 'never with --json');
  } finally {
    for (const [k, v] of Object.entries(saved)) if (v !== undefined) process.env[k] = v;
  }
});

test.run();
