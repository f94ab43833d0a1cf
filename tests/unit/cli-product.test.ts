/**
 * The product commands of the CLI: exit codes (0 ok, 1 diagnostics, 2 usage) of pack, bench and
 * compile over folders, --json output a tool can read, --help with examples, --version.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
  const seed = await attnc('run', GLA, '--seed', 'abc');
  assert.is(seed.code, 2);
  assert.match(seed.stderr, "--seed takes a non-negative integer, found 'abc'");
  assert.is((await attnc('pack', GLA, '--form', 'sideways')).code, 2);
  const empty = join(tmp, 'empty');
  mkdirSync(empty);
  assert.is((await attnc('compile', empty)).code, 2, 'a folder without specs');
});

test('explain and run check --form and --dtype as compile does: an unknown value is a usage error (exit 2) that lists the allowed values', async () => {
  const out = join(tmp, 'never');
  const commands = [
    ['explain', GLA],
    ['explain', GLA, '--target', 'webgpu-default'],
    ['run', GLA, '--dims', 'K=8,V=8', '--shape', 'B=1,T=8,H=1'],
    ['compile', GLA, '--out', out],
  ];
  for (const cmd of commands) {
    const f = await attnc(...cmd, '--form', 'sideways');
    assert.is(f.code, 2, `${cmd.join(' ')} --form sideways: ${f.stdout}`);
    assert.match(f.stderr, "--form is chunk, recurrent or parallel, found 'sideways'");
    assert.is(f.stdout, '', 'nothing printed but the usage error');
    const d = await attnc(...cmd, '--dtype', 'f8');
    assert.is(d.code, 2, `${cmd.join(' ')} --dtype f8: ${d.stdout}`);
    assert.match(d.stderr, cmd[0] === 'run' ? "--dtype is f32 or f16 (the storage type on webgpu), found 'f8'" : "--dtype is f32, f16 or bf16, found 'f8'");
  }
  assert.not.ok(existsSync(out));
  // run's --dtype and --profile are WebGPU's; explain plans for CUDA profiles too, so bf16 is fine there.
  assert.is((await attnc('run', GLA, '--dtype', 'bf16')).code, 2);
  assert.match((await attnc('run', GLA, '--backend', 'webgpu', '--profile', 'cuda-sm90')).stderr, "--profile is webgpu-default, webgpu-large or webgpu-naga (a WebGPU profile), found 'cuda-sm90'");
  const bf16 = await attnc('explain', GLA, '--dims', 'K=16,V=16', '--target', 'cuda-sm90', '--dtype', 'bf16', '--form', 'recurrent');
  assert.is(bf16.code, 0, bf16.stderr);
  assert.match(bf16.stdout, 'recurrent form');
  const ok = await attnc('run', GLA, '--dims', 'K=8,V=8', '--shape', 'B=1,T=8,H=1', '--form', 'recurrent', '--dtype', 'f16', '--json');
  assert.is(ok.code, 0, ok.stderr);
  assert.is((JSON.parse(ok.stdout) as { form: string }).form, 'recurrent');
});

test('--tiles on compile, explain, bench and run: bad syntax, unknown or repeated names and non-positive sizes are usage errors (exit 2); sizes the spec does not allow are ATTN4006 (exit 1)', async () => {
  const out = join(tmp, 'never-tiles');
  const commands = [
    ['compile', GLA, '--out', out],
    ['explain', GLA],
    ['bench', GLA],
    ['run', GLA, '--backend', 'webgpu'],
  ];
  const cases: [string, string][] = [
    ['BV=abc', "--tiles expects NAME=INTEGER pairs separated by commas (e.g. BV=32,BK=64), found 'BV=abc'"],
    ['BV:32', "--tiles expects NAME=INTEGER pairs separated by commas (e.g. BV=32,BK=64), found 'BV:32'"],
    ['BQ=16', "--tiles takes BV or BK, found 'BQ' (the chunk or query tile is --chunk)"],
    ['BV=32,bk=8', "--tiles takes BV or BK, found 'bk'"],
    ['BV=0', '--tiles: BV takes a positive integer, found 0'],
    ['BV=16,BV=32', '--tiles names BV twice'],
    [',', '--tiles names no tile (e.g. BV=32,BK=64)'],
  ];
  for (const cmd of commands)
    for (const [value, message] of cases) {
      const r = await attnc(...cmd, '--dims', 'K=8,V=8', '--tiles', value);
      assert.is(r.code, 2, `${cmd.join(' ')} --tiles ${value}: ${r.stderr}`);
      assert.is(r.stderr, `attnc: ${message}\n`, `${cmd.join(' ')} --tiles ${value}`);
      assert.is(r.stdout, '');
    }
  assert.not.ok(existsSync(out));
  const reference = await attnc('run', GLA, '--dims', 'K=8,V=8', '--tiles', 'BV=8');
  assert.is(reference.code, 2);
  assert.match(reference.stderr, '--tiles is for --backend webgpu');
  for (const cmd of ['compile', 'explain', 'bench', 'run']) assert.match((await attnc(cmd, '--help')).stdout, '--tiles <list>', cmd);
  const notPow2 = await attnc('compile', GLA, '--dims', 'K=16,V=16', '--target', 'wgsl,cuda', '--tiles', 'BV=12', '--out', out);
  assert.is(notPow2.code, 1);
  assert.match(notPow2.stderr, "error[ATTN4006]: tile size BV=12 is not allowed for spec 'gla': the value tile must be one of 8, 16 (V' = 16)");
  assert.is(notPow2.stderr.split('error[ATTN4006]').length, 2, 'said once for both plans');
  const tooBig = await attnc('explain', join(REPO, 'stdlib/gated_deltanet.attn'), '--tiles', 'BV=128,BK=128');
  assert.is(tooBig.code, 1);
  assert.match(tooBig.stderr, "error[ATTN4001]: the tile request BV=128, BK=128 for spec 'gated_deltanet' does not fit target 'webgpu-default'");
  assert.not.ok(existsSync(out));
});

test('explain --tiles plans with the requested tiles (webgpu-default without --target); compile writes kernels with them', async () => {
  const gdn = join(REPO, 'stdlib/gated_deltanet.attn');
  const r = await attnc('explain', gdn, '--tiles', 'BV=16');
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, 'plan for gated_deltanet on webgpu-default');
  assert.match(r.stdout, /tiling: chunk \d+, value tile 16 \(requested\), key slice \d+/);
  const j = await attnc('explain', gdn, '--target', 'cuda-sm90', '--tiles', 'BV=32,BK=64', '--json');
  assert.is(j.code, 0, j.stderr);
  const t = (JSON.parse(j.stdout) as { tiling: { C: number; BV: number; BK: number } }).tiling;
  assert.equal([t.C, t.BV, t.BK], [32, 32, 64]); // chunk 32: cuda-sm90's chunkPlan
  const sm = await attnc('explain', join(REPO, 'stdlib/softmax.attn'), '--target', 'cuda-sm90', '--tiles', 'BK=32');
  assert.is(sm.code, 0, sm.stderr);
  assert.match(sm.stdout, 'key tiles of 32 (requested)');
  const q = await attnc('explain', join(REPO, 'stdlib/softmax.attn'), '--target', 'webgpu-large', '--chunk', '32', '--tiles', 'BK=8');
  assert.is(q.code, 0, q.stderr);
  assert.match(q.stdout, 'query tiles of 32 and key tiles of 8 (requested)');
  const badChunk = await attnc('explain', gdn, '--chunk', '0');
  assert.is(badChunk.code, 2);
  assert.match(badChunk.stderr, '--chunk takes a positive integer');
  const out = join(tmp, 'tiles-out');
  const c = await attnc('compile', gdn, '--target', 'cuda', '--chunk', '32', '--tiles', 'BV=32', '--out', out, '--json');
  assert.is(c.code, 0, c.stderr);
  const notes = (JSON.parse(c.stdout) as { notes: string[] }).notes;
  assert.ok(notes.some((n) => n.includes('chunk 32, value tile 32 (requested)')), notes.join('\n'));
});

test("compile --profile: a CUDA profile is the CUDA backend's; one of each kind for wgsl and cuda together; --cuda-profile is an alias; bad combinations exit 2", async () => {
  const cudaTarget = (dir: string) => JSON.parse(readFileSync(join(dir, 'gla/cuda/gla.manifest.json'), 'utf8')) as { target: string };
  const wgslTarget = (dir: string) => JSON.parse(readFileSync(join(dir, 'gla/gla.manifest.json'), 'utf8')) as { target: string };
  const compile = async (dir: string, ...args: string[]) => {
    const r = await attnc('compile', GLA, '--dims', 'K=8,V=8', '--out', join(tmp, dir), ...args);
    assert.is(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    return join(tmp, dir);
  };
  assert.is(cudaTarget(await compile('p1', '--target', 'cuda', '--profile', 'cuda-sm80')).target, 'cuda-sm80');
  assert.is(cudaTarget(await compile('p2', '--target', 'cuda')).target, 'cuda-sm90', 'the default CUDA profile');
  assert.is(cudaTarget(await compile('p3', '--target', 'cuda', '--cuda-profile', 'cuda-sm80')).target, 'cuda-sm80', '--cuda-profile still works');
  for (const args of [
    ['--profile', 'webgpu-default,cuda-sm80'],
    ['--profile', 'cuda-sm80', '--profile', 'webgpu-default'],
    ['--profile', 'webgpu-default', '--cuda-profile', 'cuda-sm80'],
  ]) {
    const dir = await compile(`p4-${args.length}-${args[1]}`, '--target', 'wgsl,cuda', ...args);
    assert.is(wgslTarget(dir).target, 'webgpu-default', args.join(' '));
    assert.is(cudaTarget(dir).target, 'cuda-sm80', args.join(' '));
  }
  const usage = async (pattern: string, ...args: string[]) => {
    const r = await attnc('compile', GLA, '--dims', 'K=8,V=8', '--out', join(tmp, 'p-bad'), ...args);
    assert.is(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, pattern);
  };
  await usage("--profile cuda-sm80 is a CUDA profile, but --target wgsl has no cuda", '--target', 'wgsl', '--profile', 'cuda-sm80');
  await usage("--profile cuda-sm80 is a CUDA profile, but --target wgsl,ts has no cuda", '--profile', 'cuda-sm80');
  await usage('--cuda-profile cuda-sm80 is a CUDA profile, but --target wgsl,ts has no cuda', '--cuda-profile', 'cuda-sm80');
  await usage("--profile webgpu-default is a WebGPU profile, but --target cuda has neither wgsl nor ts", '--target', 'cuda', '--profile', 'webgpu-default');
  await usage("--profile names two CUDA profiles, 'cuda-sm80' and 'cuda-sm90'", '--target', 'cuda', '--profile', 'cuda-sm80,cuda-sm90');
  await usage("--profile names two WebGPU profiles", '--profile', 'webgpu-default', '--profile', 'webgpu-large');
  await usage('--profile and --cuda-profile name two CUDA profiles', '--target', 'cuda', '--profile', 'cuda-sm80', '--cuda-profile', 'cuda-sm90');
  await usage("--cuda-profile takes a CUDA profile (cuda-sm80 or cuda-sm90), found 'webgpu-large'", '--target', 'cuda', '--cuda-profile', 'webgpu-large');
  await usage("--profile 'webgpu-huge' is not a profile: WebGPU webgpu-default, webgpu-large or webgpu-naga; CUDA cuda-sm80 or cuda-sm90", '--profile', 'webgpu-huge');
  assert.not.ok(existsSync(join(tmp, 'p-bad')));
  // pack takes the same --profile: the CUDA one for its CUDA sources, never for its WebGPU kernels.
  const pk = await attnc('pack', GLA, '--dims', 'K=8,V=8', '--out', join(tmp, 'p-pack'), '--no-cuda', '--profile', 'cuda-sm80');
  assert.is(pk.code, 2);
  assert.match(pk.stderr, '--profile cuda-sm80 is a CUDA profile, but --no-cuda leaves the CUDA sources out');
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
  // f16 with an odd number of elements in an input (T = 15, one head: the gate's a and b): the
  // resident buffers are written in whole words, no internal error.
  const odd = await attnc('bench', join(REPO, 'stdlib/gated_deltanet.attn'), '--dims', 'K=16,V=16', '--shape', 'B=1,T=15,H=1', '--dtype', 'f16', '--repeats', '1', '--warmup', '0', '--json');
  assert.is(odd.code, 0, odd.stderr);
  assert.is((JSON.parse(odd.stdout) as { ok: boolean }).ok, true);
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

test('a general-linear spec (S = W @ S + …): compile (wgsl, cuda) and pack refuse it with a diagnostic, not a crash; the reference interpreter runs it', async () => {
  const f = join(tmp, 'left_matrix.attn');
  writeFileSync(f, 'attention left_matrix {\n  dims K = 8, V = 6\n  input q: [K], k: [K], v: [V]\n  param W: [K, K]\n  state S: [K, V]\n  update S = W @ S + k ⊗ v\n  output o = Sᵀ @ q\n}\n');
  const out = join(tmp, 'out-left-matrix');
  for (const argv of [['compile', f, '--out', out], ['compile', f, '--target', 'cuda', '--form', 'recurrent', '--out', out], ['pack', f, '--out', out]]) {
    const r = await attnc(...argv);
    assert.is(r.code, 1, `${argv.join(' ')}: ${r.stderr}`);
    assert.not.match(r.stderr, 'internal error');
    assert.match(r.stderr, 'error[ATTN4002]');
    assert.match(r.stderr, 'no kernel target compiles a general-linear update: only the reference interpreter runs it, in the recurrent form');
    assert.match(r.stderr, 'hint: run it with `attnc run FILE --backend reference --form recurrent`');
  }
  const run = await attnc('run', f, '--backend', 'reference', '--form', 'recurrent', '--shape', 'B=1,T=8,H=1');
  assert.is(run.code, 0, run.stderr);
  assert.match(run.stderr, 'warning[ATTN3002]');
  assert.match(run.stderr, 'only the reference interpreter runs it');
  assert.not.match(run.stderr, 'compiles to the recurrent form');
  const ex = await attnc('explain', f);
  assert.is(ex.code, 0, ex.stderr);
  assert.match(ex.stdout, 'general-linear');
  // run --backend webgpu --json: the refusal as JSON on stdout (a GPU adapter is needed to get there).
  const wj = await attnc('run', f, '--backend', 'webgpu', '--json', '--shape', 'B=1,T=8,H=1');
  assert.is(wj.code, 1, wj.stderr);
  const j = JSON.parse(wj.stdout) as { ok: boolean; diagnostics?: { code: string }[]; error?: string };
  assert.is(j.ok, false);
  assert.ok(j.diagnostics?.some((d) => d.code === 'ATTN4002') || j.error !== undefined, wj.stdout);
});

test('a state equation whose decay is > 1 is an error (ATTN3010) for every command that lowers it', async () => {
  const f = join(tmp, 'growing.attn');
  writeFileSync(f, 'attention growing {\n  dims K = 8, V = 6\n  input q: [K], k: [K], v: [V]\n  state S: [K, V]\n  update S = 2 * S + k ⊗ v\n  output o = Sᵀ @ q\n}\n');
  for (const cmd of ['explain', 'compile', 'run']) {
    const r = await attnc(cmd, f);
    assert.is(r.code, 1, `${cmd}: ${r.stderr}`);
    assert.match(r.stderr, `${f}:5:14: error[ATTN3010]: the decay of 'S' is greater than 1`);
  }
});

test('explain: --form/--dtype alone plan (webgpu-default); a failed plan under --json is JSON with ok: false', async () => {
  const gdn = join(REPO, 'stdlib/gated_deltanet.attn');
  const par = await attnc('explain', gdn, '--form', 'parallel');
  assert.is(par.code, 1, par.stdout);
  assert.match(par.stderr, 'error[ATTN4002]');
  const j = await attnc('explain', gdn, '--dims', 'K=16,V=16', '--tiles', 'BV=7', '--json');
  assert.is(j.code, 1);
  const out = JSON.parse(j.stdout) as { ok: boolean; diagnostics: { code: string }[] };
  assert.is(out.ok, false);
  assert.equal(out.diagnostics.map((d) => d.code), ['ATTN4006']);
  const rec = await attnc('explain', gdn, '--form', 'recurrent', '--json');
  assert.is(rec.code, 0, rec.stderr);
  assert.is((JSON.parse(rec.stdout) as { form: string }).form, 'recurrent');
});

test('compile --json carries lowering warnings in diagnostics', async () => {
  const f = join(tmp, 'warn.attn');
  writeFileSync(f, 'attention warn {\n  dims K = 8, V = 8\n  input q: [K], k: [K], v: [V], g: scalar\n  state S: [K, V]\n  update S = exp(g) * S + k ⊗ v\n  output o = Sᵀ @ q\n}\n');
  const r = await attnc('compile', f, '--out', join(tmp, 'warn-out'), '--json');
  assert.is(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { ok: boolean; diagnostics: { code: string; severity: string }[] };
  assert.ok(j.ok);
  assert.ok(j.diagnostics.some((d) => d.code === 'ATTN2023' && d.severity === 'warning'), JSON.stringify(j.diagnostics));
});

test.run();
