/**
 * The CUDA backend on the machine's nvcc (CUDA 13; running the kernels needs a GPU, which CI never
 * has — bench/gpu/check.py does that on a GPU machine):
 *   - every stdlib spec at its declared dims (the real configurations), planned for cuda-sm80 and
 *     cuda-sm90 with bf16 storage, compiles (`nvcc -c -Xptxas -v`, kernels and host launchers)
 *     for sm_80 and sm_90 respectively, without a warning, a local-memory spill or a stack frame;
 *   - f16 and f32 storage compile too (two specs, one of each family), and so does the decode
 *     (recurrent) form of every state-recurrent spec (sm_90, bf16);
 *   - every C header compiles with a C compiler (all of them in one translation unit), and as C++;
 *   - every PyTorch loader is valid Python.
 * nvcc missing is a failure, not a skip. ATTNC_CUDA_REPORT=1 prints the register/spill table.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compileCuda } from '../../backends/cuda/index.ts';
import { renderDiagnostics } from '../../compiler/diagnostics/render.ts';
import type { Dtype } from '../../compiler/kernel-ir/types.ts';
import { lowerSource } from '../../compiler/pipeline.ts';
import { parsePtxas, type PtxasEntry } from '../helpers/ptxas.ts';
import { stdlibFiles } from '../helpers/stdlib.ts';

interface Job {
  spec: string;
  profile: 'cuda-sm80' | 'cuda-sm90';
  arch: string;
  dtype: Dtype;
  dir: string;
  form?: 'recurrent' | 'segments';
}

interface Result {
  job: Job;
  source: string;
  ok: boolean;
  output: string;
  entries: PtxasEntry[];
  seconds: number;
}

/** nvcc on the PATH, or a clear failure. */
function nvccVersion(): string {
  try {
    return execFileSync('nvcc', ['--version'], { encoding: 'utf8' });
  } catch (e) {
    throw new Error(`nvcc (CUDA 13) must be on the PATH for the CUDA backend tests: ${(e as Error).message}`);
  }
}

/** CUDA's include folder, as nvcc itself passes it (from a dry run). */
function cudaIncludes(): string[] {
  const out = execFileSync('nvcc', ['--dryrun', '-x', 'cu', '-c', '/dev/null', '-o', '/dev/null'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const all = out + '';
  const m = /INCLUDES="([^"]*)"/.exec(all);
  const paths = m ? [...m[1]!.matchAll(/-I"?([^"\s]+)"?/g)].map((x) => x[1]!) : [];
  return paths.length ? paths : ['/usr/local/cuda/include'];
}

function run(cmd: string, args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: number }).code ?? 1) : 0;
      resolve({ code: typeof code === 'number' ? code : 1, output: `${stdout}${stderr}` });
    });
  });
}

async function pool<T, R>(items: T[], width: number, fn: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!);
      }
    }),
  );
  return out;
}

const root = mkdtempSync(join(tmpdir(), 'attnc-cuda-'));
const jobs: Job[] = [];
const headers: string[] = [];
const loaders: string[] = [];

function generate(spec: string, text: string, path: string, profile: Job['profile'], dtype: Dtype, form?: Job['form']): Job {
  const l = lowerSource(text, path, {});
  assert.ok(l.ok, renderDiagnostics(l.diagnostics));
  const ir = l.irs[0]!;
  // 'segments': the segmented state passes (PlanOptions.segmentChunks), asked for.
  const more = form === 'recurrent' ? { form } : form === 'segments' ? { plan: { segmentChunks: 16, outputKernel: true } } : {};
  const r = compileCuda(ir, { profile, dtype, source: `${spec}.attn`, ...more });
  assert.ok(r.files.length, `${spec} (${profile}, ${dtype}${form ? `, ${form}` : ''}): ${renderDiagnostics(r.diagnostics)}`);
  const dir = join(root, profile, dtype, form ?? 'default', spec);
  mkdirSync(dir, { recursive: true });
  for (const f of r.files) writeFileSync(join(dir, f.path), f.contents);
  // The architecture the file says it needs (sm_90a where a kernel uses warpgroup MMA).
  return { spec, profile, arch: r.program!.manifest.arch, dtype, dir, ...(form ? { form } : {}) };
}

let results: Result[] = [];
let wall = 0;

test('nvcc is on the PATH (CUDA 13)', () => {
  const v = nvccVersion();
  assert.match(v, /release 1[3-9]\./, `expected CUDA 13 or later:\n${v}`);
});

test('every stdlib spec generates CUDA artefacts for cuda-sm80 and cuda-sm90', () => {
  for (const f of stdlibFiles()) {
    for (const profile of ['cuda-sm80', 'cuda-sm90'] as const) {
      const job = generate(f.name, f.text, f.path, profile, 'bf16');
      jobs.push(job);
      headers.push(join(job.dir, `${f.name}.h`));
      loaders.push(join(job.dir, `${f.name}_torch.py`));
    }
  }
  for (const name of ['gated_deltanet', 'softmax']) {
    const f = stdlibFiles().find((x) => x.name === name)!;
    for (const dtype of ['f16', 'f32'] as const) jobs.push(generate(f.name, f.text, f.path, 'cuda-sm90', dtype));
  }
  // The decode (recurrent) form of every state-recurrent spec: a kernel of its own (chunks of one).
  for (const f of stdlibFiles()) {
    const ir = lowerSource(f.text, f.path, {}).irs[0];
    if (ir?.update) jobs.push(generate(f.name, f.text, f.path, 'cuda-sm90', 'bf16', 'recurrent'));
  }
  // The segmented state passes with a scalar and a vector gate (key tiles, one key slice).
  for (const name of ['simple_gla', 'gla']) {
    const f = stdlibFiles().find((x) => x.name === name)!;
    const job = generate(f.name, f.text, f.path, 'cuda-sm90', 'bf16', 'segments');
    assert.match(readFileSync(join(job.dir, `${name}.cu`), 'utf8'), new RegExp(`attnc_${name}_segment\\(`), `${name}: the segment pass`);
    jobs.push(job);
  }
});

test('nvcc compiles every kernel and launcher: no warning, no spill, no stack frame', async () => {
  const t0 = performance.now();
  results = await pool(jobs, 2, async (job) => {
    const s = performance.now();
    const r = await run('nvcc', ['-c', `-arch=${job.arch}`, '-std=c++17', '-O3', '-Xptxas', '-v', '-o', join(job.dir, `${job.spec}.o`), join(job.dir, `${job.spec}.cu`)]);
    const source = readFileSync(join(job.dir, `${job.spec}.cu`), 'utf8');
    return { job, source, ok: r.code === 0, output: r.output, entries: parsePtxas(r.output), seconds: (performance.now() - s) / 1000 };
  });
  wall = (performance.now() - t0) / 1000;
  const problems: string[] = [];
  for (const r of results) {
    const label = `${r.job.spec} (${r.job.profile}, ${r.job.dtype}, ${r.job.arch}${r.job.form ? `, ${r.job.form}` : ''})`;
    if (!r.ok) {
      problems.push(`${label}: nvcc failed:\n${r.output.slice(0, 4000)}`);
      continue;
    }
    const warnings = r.output.split('\n').filter((l) => /warning/i.test(l));
    if (warnings.length) problems.push(`${label}: nvcc warnings:\n${warnings.slice(0, 10).join('\n')}`);
    if (!r.entries.length) problems.push(`${label}: no ptxas report`);
    for (const e of r.entries) {
      if (e.spillStores || e.spillLoads) problems.push(`${label}: ${e.fn} spills (${e.spillStores} bytes stored, ${e.spillLoads} loaded; ${e.registers} registers)`);
      // A stack frame without spills is a local array: a register tile that left registers. The one
      // exception is sinf/cosf's slow path for huge arguments (Payne–Hanek reduction, 28 bytes).
      const trig = /\b(sin|cos)f\(/.test(r.source);
      if (e.stack > (trig ? 32 : 0)) problems.push(`${label}: ${e.fn} has a ${e.stack}-byte stack frame (local memory)`);
    }
  }
  if (process.env['ATTNC_CUDA_REPORT']) {
    const rows = results.flatMap((r) => r.entries.filter((e) => !e.fn.includes('__')).map((e) => `${r.job.spec.padEnd(22)} ${r.job.dtype.padEnd(5)} ${e.arch.padEnd(6)} ${e.fn.padEnd(44)} ${String(e.registers).padStart(4)} regs  ${e.spillStores}/${e.spillLoads} spill  ${e.stack} stack  ${r.seconds.toFixed(1)}s`));
    process.stderr.write(`\nptxas (${results.length} compilations, ${wall.toFixed(0)} s wall):\n${rows.join('\n')}\n`);
  }
  assert.ok(problems.length === 0, problems.join('\n'));
});

test('the C headers compile as C (all in one translation unit) and as C++', () => {
  const inc = cudaIncludes();
  for (const profile of ['cuda-sm80', 'cuda-sm90']) {
    const hs = headers.filter((h) => h.includes(`/${profile}/`));
    const file = join(root, `headers-${profile}.c`);
    writeFileSync(file, `${hs.map((h) => `#include "${h}"`).join('\n')}\nint main(void) { return ATTNC_OK; }\n`);
    for (const [cc, std] of [['gcc', '-std=c99'], ['g++', '-std=c++17']] as const) {
      try {
        execFileSync(cc, ['-fsyntax-only', std, '-Wall', '-Wextra', '-Werror', ...(cc === 'g++' ? ['-x', 'c++'] : []), ...inc.flatMap((i) => ['-isystem', i]), file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      } catch (e) {
        const err = e as { stderr?: string; message: string };
        assert.unreachable(`${cc} ${profile} headers:\n${err.stderr ?? err.message}`);
      }
    }
  }
});

test('the host launcher (no GPU needed): workspace size and every argument check, through the C ABI', async () => {
  const job = jobs.find((j) => j.spec === 'gated_deltanet' && j.profile === 'cuda-sm90' && j.dtype === 'bf16')!;
  const driver = join(job.dir, 'driver.cpp');
  writeFileSync(
    driver,
    `#include <stdio.h>
#include "gated_deltanet.h"
static attnc_gated_deltanet_args base(void) {
  attnc_gated_deltanet_args a = {};
  a.B = 2; a.T = 100; a.H = 4;
  void* fake = (void*)0x1000;  // never dereferenced: every call below fails before a kernel runs
  a.q = a.k = a.v = a.a = a.b = fake; a.A_log = a.dt_bias = (const float*)fake; a.o = fake;
  return a;
}
static void report(const char* what, int st) { printf("%s %d %s\\n", what, st, attnc_gated_deltanet_last_error()); }
int main(void) {
  attnc_gated_deltanet_args a = base();
  size_t n = 0;
  report("workspace", attnc_gated_deltanet_workspace_bytes(&a, &n));
  printf("bytes %zu\\n", n);
  report("null", attnc_gated_deltanet_forward(NULL, 0));
  a = base(); a.heads_q = 3; report("heads", attnc_gated_deltanet_forward(&a, 0));
  a = base(); a.cu_seqlens = (const int32_t*)0x1000; a.num_seqs = 2; report("cu_batch", attnc_gated_deltanet_forward(&a, 0));
  a = base(); a.H = 0; report("shape", attnc_gated_deltanet_forward(&a, 0));
  a = base(); a.q = NULL; report("missing", attnc_gated_deltanet_forward(&a, 0));
  a = base(); a.T = 1 << 28; report("large", attnc_gated_deltanet_forward(&a, 0));
  a = base(); a.workspace = (void*)0x1000; a.workspace_bytes = 16; report("workspace_small", attnc_gated_deltanet_forward(&a, 0));
  a = base(); report("no_gpu", attnc_gated_deltanet_forward(&a, 0));
  a = base(); a.T = 0; a.q = NULL; size_t z = 1; report("empty", attnc_gated_deltanet_workspace_bytes(&a, &z)); printf("empty_bytes %zu\\n", z);
  printf("status %s\\n", attnc_gated_deltanet_status_string(ATTNC_ERR_BAD_HEADS));
  return 0;
}
`,
  );
  const exe = join(job.dir, 'driver');
  const build = await run('nvcc', [`-arch=${job.arch}`, '-std=c++17', '-o', exe, join(job.dir, `${job.spec}.cu`), driver]);
  assert.is(build.code, 0, build.output);
  const out = await run(exe, []);
  assert.is(out.code, 0, out.output);
  const st = Object.fromEntries(out.output.trim().split('\n').map((l) => [l.split(' ')[0]!, l.split(' ').slice(1).join(' ')]));
  // N·H = 8 chains: cuda-sm90's shape plan for few chains (chunks of 64, three kernels). No sequence
  // offsets (without cu_seqlens the kernels take n·T); the prepared factors 1/‖q‖ and 1/‖k‖ (NT · H
  // floats each); the intra-chunk results: w_a (NT · H · C scores, C = 64, bf16: the output kernel
  // alone reads them, with bf16 operands), w_b (NT · H gate sums), w_w and w_u (NT · H · 128 WY
  // factors each; W stored like the inputs, bf16 here, U in f32), w_x (the corrected values for
  // the output kernel, NT · H · 128, bf16 for its bf16 operands); the states before each chunk, w_h
  // (⌊NT / C⌋ + N + 1 = 6 slots × H × 128 × 128, bf16); every slice 256-byte aligned.
  const align = (x: number) => Math.ceil(x / 256) * 256;
  const rows = 200 * 4;
  const slots = Math.floor(200 / 64) + 2 + 1;
  assert.is(st['workspace'], '0 ');
  assert.is(Number(st['bytes']), 2 * align(rows * 4) + align(rows * 64 * 2) + align(rows * 4) + align(rows * 128 * 2) + align(rows * 128 * 4) + align(rows * 128 * 2) + align(slots * 4 * 128 * 128 * 2));
  assert.match(st['null']!, /^1 the args pointer is NULL/);
  assert.match(st['heads']!, /^3 q has 3 heads, which must divide H = 4/);
  assert.match(st['cu_batch']!, /^4 a packed batch \(cu_seqlens\) has B = 1; found B = 2/);
  assert.match(st['shape']!, /^2 B = 2, T = 100, H = 0/);
  assert.match(st['missing']!, /^5 q \[B, T, heads_q, 128\] is NULL/);
  assert.match(st['large']!, /^6 /);
  assert.match(st['workspace_small']!, /^7 the workspace has 16 bytes; this shape needs \d+/);
  // Without a GPU (or a driver) the first CUDA call fails, and says so.
  assert.match(st['no_gpu']!, /^8 allocating \d+ workspace bytes: cuda/);
  assert.is(st['empty'], '0 ');
  // No tokens: only the per-chunk states' N + 1 spare slots (⌊0 / 64⌋ + 2 + 1 = 3) are left.
  assert.is(Number(st['empty_bytes']), align(3 * 4 * 128 * 128 * 2), 'no tokens: the spare state slots alone');
  assert.is(st['status'], 'bad head counts');
});

test("the host launcher takes cuda-sm90's shape plan by the run's chains (N·H ≤ 16) where its sizes fit and the workspace given holds it, else the default plan", async () => {
  const job = jobs.find((j) => j.spec === 'retnet' && j.profile === 'cuda-sm90' && j.dtype === 'bf16' && !j.form)!;
  const cu = readFileSync(join(job.dir, 'retnet.cu'), 'utf8');
  assert.match(cu, /if \(shape_plans && N \* H <= 16\) \{/);
  assert.match(cu, /attnc_few__retnet_output<<</, 'the shape plan launches its own kernels');
  const align = (x: number) => Math.ceil(x / 256) * 256;
  // The default (two kernels, chunk 32): w_a (NT·H·32 f32 scores), w_b (NT·H gate sums). The shape
  // plan (three kernels, chunk 64): w_a (NT·H·64, bf16: its output kernel alone reads them, with
  // bf16 operands), w_b, and w_h, the bf16 state [128, 128] before each chunk: (NT/64 + N + 1)
  // chunk slots per head.
  const twoKernels = (NT: number, H: number) => align(NT * H * 32 * 4) + align(NT * H * 4);
  const shapePlan = (NT: number, H: number, N: number) => align(NT * H * 64 * 2) + align(NT * H * 4) + align((Math.floor(NT / 64) + N + 1) * H * 128 * 128 * 2);
  const driver = join(job.dir, 'shape_driver.cpp');
  writeFileSync(
    driver,
    `#include <stdio.h>
#include <string.h>
#include "retnet.h"
static void bytes(const char* what, long long B, long long T, long long H, int seqs) {
  attnc_retnet_args a = {};
  a.B = B; a.T = T; a.H = H;
  if (seqs) { a.cu_seqlens = (const int32_t*)0x1000; a.num_seqs = seqs; }
  size_t n = 0;
  const int st = attnc_retnet_workspace_bytes(&a, &n);
  printf("%s %d %zu\\n", what, st, n);
}
// forward() with fake pointers and a workspace of the given size: no GPU, so the first launch fails
// and last_error() names the kernel, which says which plan was taken.
static void launch(const char* what, size_t workspace) {
  attnc_retnet_args a = {};
  a.B = 1; a.T = 100; a.H = 16;
  void* fake = (void*)0x1000;
  a.q = a.k = a.v = a.o = fake;
  a.workspace = fake; a.workspace_bytes = workspace;
  const int st = attnc_retnet_forward(&a, 0);
  const char* m = attnc_retnet_last_error();
  printf("%s %d %s\\n", what, st, strstr(m, "attnc_few__retnet_") ? "few" : strstr(m, "attnc_retnet_intra") ? "default" : m);
}
int main(void) {
  bytes("b1h16", 1, 100, 16, 0);
  bytes("b2h8", 2, 100, 8, 0);
  bytes("b2h16", 2, 100, 16, 0);
  bytes("varlen16", 1, 300, 16, 1);
  bytes("varlen32", 1, 300, 16, 2);
  bytes("huge", 1, 600000, 16, 0);
  launch("ws_few", ${shapePlan(100, 16, 1)});
  launch("ws_default", ${twoKernels(100, 16)});
  return 0;
}
`,
  );
  const exe = join(job.dir, 'shape_driver');
  const build = await run('nvcc', [`-arch=${job.arch}`, '-std=c++17', '-o', exe, join(job.dir, 'retnet.cu'), driver]);
  assert.is(build.code, 0, build.output);
  const out = await run(exe, []);
  assert.is(out.code, 0, out.output);
  const got = Object.fromEntries(out.output.trim().split('\n').map((l) => l.split(' ')).map(([w, st, n]) => [w!, { st: Number(st), n: Number(n) }]));
  assert.equal(got['b1h16'], { st: 0, n: shapePlan(100, 16, 1) }, 'B=1 H=16: 16 chains, the shape plan');
  assert.equal(got['b2h8'], { st: 0, n: shapePlan(200, 8, 2) }, 'B=2 H=8: 16 chains, the shape plan');
  assert.equal(got['b2h16'], { st: 0, n: twoKernels(200, 16) }, 'B=2 H=16: 32 chains, the default');
  assert.equal(got['varlen16'], { st: 0, n: shapePlan(300, 16, 1) }, 'one packed sequence: 16 chains');
  assert.equal(got['varlen32'], { st: 0, n: twoKernels(300, 16) }, 'two packed sequences: 32 chains');
  // B=1 T=600000 H=16: the shape plan's states (w_h) would pass 2^31 elements; the default plan's sizes fit.
  assert.equal(got['huge'], { st: 0, n: twoKernels(600000, 16) }, 'too large for the shape plan: the default plan');
  const launched = Object.fromEntries(out.output.trim().split('\n').map((l) => l.split(' ')).filter(([w]) => w!.startsWith('ws_')).map(([w, st, plan]) => [w!, `${st} ${plan}`]));
  assert.is(launched['ws_few'], '8 few', "a workspace for the shape plan: its kernels (the launch fails without a GPU: status 8)");
  assert.is(launched['ws_default'], '8 default', 'a workspace sized for the default plan: the default plan');
});

test('the PyTorch loaders are valid Python', () => {
  try {
    execFileSync('python3', ['-c', 'import py_compile, sys\nfor f in sys.argv[1:]:\n    py_compile.compile(f, doraise=True, cfile=f + "c")', ...loaders], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    assert.unreachable(`py_compile:\n${err.stderr ?? err.message}`);
  }
});

test.after(() => {
  rmSync(root, { recursive: true, force: true });
});

test.run();
