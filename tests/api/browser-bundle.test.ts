/**
 * The browser bundle (dist/attnc.browser.js) runs where there is no Node: it is evaluated in a bare
 * `node:vm` context — no `process`, `require`, `Buffer`, `fs`, not even `TextEncoder` — and
 * compiles a stdlib spec from its source text there. Its results must equal the sources' own
 * (compiler/api.ts in this process), and a broken spec gives diagnostics with codes and spans.
 * The bundle is rebuilt (scripts/build.mjs) when it is missing or older than the sources (./dist.ts).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import vm from 'node:vm';
import { build, transform } from 'esbuild';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as api from '../../compiler/api.ts';
import { REPO } from '../helpers/baseline.ts';
import { ensureDist } from './dist.ts';

const BUNDLE = join(REPO, 'dist/attnc.browser.js');

let ctx: vm.Context | undefined;
/** A bare context with the bundle's exports as `attnc`. */
async function browserContext(): Promise<vm.Context> {
  if (ctx) return ctx;
  ensureDist();
  const esm = readFileSync(BUNDLE, 'utf8');
  // Only the module format changes (ESM → a script that assigns the exports), so vm can run it.
  const script = await transform(esm, { format: 'iife', globalName: '__attnc', loader: 'js', target: 'es2022' });
  const c = vm.createContext({});
  vm.runInContext(`${script.code}\nglobalThis.attnc = __attnc;`, c, { filename: 'attnc.browser.js' });
  ctx = c;
  return c;
}

/** Evaluate `expr` in the context with `vars` bound; results come back as JSON (one realm). */
function inBrowser<T>(c: vm.Context, expr: string, vars: Record<string, unknown> = {}): T {
  c['__vars'] = JSON.stringify(vars);
  return JSON.parse(vm.runInContext(`(() => { const v = JSON.parse(__vars); return JSON.stringify((${expr})); })()`, c) as string) as T;
}

const GDN = readFileSync(join(REPO, 'stdlib/gated_deltanet.attn'), 'utf8');
const BROKEN = 'attention broken {\n  dims K = 4, V = 4\n  input q: [K], k: [K], v: [V]\n  gate -softplus(alpha)\n  update additive\n}\n';
const SYNTAX = 'attention s {\n  dims K = 4 V = 4\n  input q: [K], k: [K], v: [V]\n  update additive\n  mask causal &\n}\n';

test('the bare context really has no Node: process, require, Buffer are undefined there', async () => {
  const c = await browserContext();
  assert.equal(inBrowser<string[]>(c, "['process', 'require', 'Buffer', 'module', 'TextEncoder'].map((n) => typeof globalThis[n])"), ['undefined', 'undefined', 'undefined', 'undefined', 'undefined']);
  const exported = inBrowser<string[]>(c, 'Object.keys(attnc)');
  for (const f of ['compile', 'check', 'format', 'interpret', 'lower', 'AttentionKernels', 'VERSION']) assert.ok(exported.includes(f), `exports ${f}`);
});

test('compile a stdlib spec from its source text in the bundle: the same WGSL, manifest and bindings as the sources give', async () => {
  const c = await browserContext();
  const got = inBrowser<{ ok: boolean; diagnostics: unknown[]; ir: string; artifacts: { path: string; contents: string }[] }>(
    c,
    "(() => { const r = attnc.compile(v.src, { name: 'gated_deltanet.attn', dims: { K: 32, V: 32 } }); return { ok: r.ok, diagnostics: r.diagnostics.map(attnc.diagnosticToJson), ir: r.ir && r.ir.name, artifacts: r.artifacts }; })()",
    { src: GDN },
  );
  assert.ok(got.ok, JSON.stringify(got.diagnostics));
  assert.is(got.ir, 'gated_deltanet');
  const here = api.compile(GDN, { name: 'gated_deltanet.attn', dims: { K: 32, V: 32 } });
  assert.ok(here.ok);
  assert.equal(got.artifacts.map((a) => a.path), here.artifacts.map((a) => a.path));
  for (let i = 0; i < here.artifacts.length; i++) assert.ok(got.artifacts[i]!.contents === here.artifacts[i]!.contents, `${here.artifacts[i]!.path} differs`);
  // The WGSL holds the manifest's kernels, each a compute entry point, at the dims asked for.
  const manifest = JSON.parse(got.artifacts.find((a) => a.path.endsWith('.manifest.json'))!.contents) as { kernels: { name: string; code: string }[]; keyDim: number; valueDim: number };
  assert.is(manifest.keyDim, 32);
  assert.ok(manifest.kernels.length >= 1);
  for (const k of manifest.kernels) {
    const wgsl = got.artifacts.find((a) => a.path === `gated_deltanet/${k.name}.wgsl`);
    assert.ok(wgsl, `a .wgsl file for kernel ${k.name}`);
    assert.is(wgsl!.contents, k.code);
    assert.match(wgsl!.contents, /@compute @workgroup_size\(\d+/);
    assert.match(wgsl!.contents, /fn main\(/);
  }
  const ts = got.artifacts.find((a) => a.path.endsWith('.ts'))!.contents;
  assert.match(ts, 'export class GatedDeltanet');
  assert.ok(ts.includes(JSON.stringify(GDN)), 'the bindings embed the spec text');
});

test('the cuda target in the bundle: the CUDA backend runs without Node and gives the same files as the sources', async () => {
  const c = await browserContext();
  const opts = { name: 'gated_deltanet.attn', dims: { K: 32, V: 32 }, targets: ['cuda'], profile: 'cuda-sm80' } as const;
  const got = inBrowser<{ ok: boolean; diagnostics: unknown[]; artifacts: { path: string; contents: string }[] }>(
    c,
    '(() => { const r = attnc.compile(v.src, v.opts); return { ok: r.ok, diagnostics: r.diagnostics.map(attnc.diagnosticToJson), artifacts: r.artifacts }; })()',
    { src: GDN, opts },
  );
  assert.ok(got.ok, JSON.stringify(got.diagnostics));
  assert.equal(got.artifacts.map((a) => a.path).sort(), ['gated_deltanet/cuda/gated_deltanet.cu', 'gated_deltanet/cuda/gated_deltanet.h', 'gated_deltanet/cuda/gated_deltanet.manifest.json', 'gated_deltanet/cuda/gated_deltanet_torch.py']);
  const here = api.compile(GDN, { ...opts, targets: [...opts.targets] });
  assert.ok(here.ok);
  assert.equal(got.artifacts.map((a) => a.path), here.artifacts.map((a) => a.path));
  for (let i = 0; i < here.artifacts.length; i++) assert.ok(got.artifacts[i]!.contents === here.artifacts[i]!.contents, `${here.artifacts[i]!.path} differs`);
  assert.match(got.artifacts.find((a) => a.path.endsWith('.cu'))!.contents, 'cuda-sm80');
});

test('a broken spec in the bundle: no artefacts, diagnostics with ATTN codes and spans that point at the problem', async () => {
  const c = await browserContext();
  const r = inBrowser<{ ok: boolean; n: number; ds: { code: string; severity: string; message: string; start: { line: number; column: number; offset: number }; end: { offset: number } }[]; text: string }>(
    c,
    '(() => { const r = attnc.compile(v.src, { name: "broken.attn" }); return { ok: r.ok, n: r.artifacts.length, ds: r.diagnostics.map(attnc.diagnosticToJson), text: attnc.renderText(r.diagnostics) }; })()',
    { src: BROKEN },
  );
  assert.is(r.ok, false);
  assert.is(r.n, 0);
  const d = r.ds[0]!;
  assert.match(d.code, /^ATTN\d{4}$/);
  assert.is(d.severity, 'error');
  assert.is(BROKEN.slice(d.start.offset, d.end.offset), 'alpha');
  assert.is(d.start.line, 4);
  assert.match(r.text, 'broken.attn:4:');
  assert.match(r.text, '^^^^^', 'a code frame with a caret');
  // Syntax errors: recovery reports more than one, each with a code and a non-empty span.
  const s = inBrowser<{ code: string; start: { offset: number }; end: { offset: number } }[]>(c, 'attnc.check(v.src).diagnostics.map(attnc.diagnosticToJson)', { src: SYNTAX });
  assert.ok(s.length >= 2, `several syntax errors, found ${s.length}`);
  for (const x of s) {
    assert.match(x.code, /^ATTN1\d{3}$/);
    assert.ok(x.end.offset >= x.start.offset && x.start.offset <= SYNTAX.length);
  }
  // Bad options are diagnostics too, never exceptions.
  const o = inBrowser<{ ok: boolean; codes: string[] }>(c, '(() => { const r = attnc.compile(v.src, { targets: ["metal"], dtype: "f8" }); return { ok: r.ok, codes: r.diagnostics.map((d) => d.code) }; })()', { src: GDN });
  assert.is(o.ok, false);
  assert.ok(o.codes.length === 2 && o.codes.every((x) => x === o.codes[0]), JSON.stringify(o.codes));
});

test('format, the JSON form and the interpreter in the bundle agree with the sources', async () => {
  const c = await browserContext();
  const fmt = inBrowser<{ text: string }>(c, 'attnc.format(v.src)', { src: GDN });
  assert.is(fmt.text, api.format(GDN).text);
  const viaJson = inBrowser<{ ok: boolean; wgsl: string[] }>(c, '(() => { const j = attnc.toJson(v.src).json; const r = attnc.compile(j, { dims: { K: 16, V: 16 } }); return { ok: r.ok, wgsl: r.artifacts.filter((a) => a.path.endsWith(".wgsl")).map((a) => a.contents) }; })()', { src: GDN });
  assert.ok(viaJson.ok);
  const direct = api.compile(GDN, { dims: { K: 16, V: 16 } }).artifacts.filter((a) => a.path.endsWith('.wgsl')).map((a) => a.contents);
  assert.equal(viaJson.wgsl, direct);
  const out = inBrowser<{ ok: boolean; data: number[] }>(c, '(() => { const r = attnc.interpret(v.src, { dims: { K: 8, V: 8 }, random: { B: 1, T: 12, H: 2, seed: 5 } }); return { ok: r.ok, data: Array.from(r.output.data) }; })()', { src: GDN });
  assert.ok(out.ok);
  const ref = api.interpret(GDN, { dims: { K: 8, V: 8 }, random: { B: 1, T: 12, H: 2, seed: 5 } });
  assert.equal(out.data, Array.from(ref.output!.data));
});

test('the compiler core has no Node-only imports: compiler/api.ts bundles for the browser with nothing external', async () => {
  const r = await build({ entryPoints: [join(REPO, 'compiler/api.ts')], bundle: true, write: false, platform: 'browser', format: 'esm', metafile: true, logLevel: 'silent' });
  const imports = Object.values(r.metafile!.inputs).flatMap((i) => i.imports);
  assert.equal(imports.filter((i) => i.external || i.path.startsWith('node:')), []);
  const local = Object.keys(r.metafile!.inputs).filter((p) => !p.includes('node_modules'));
  assert.ok(local.every((p) => /^(compiler|dsl|backends)\//.test(p)), `only compiler/, dsl/ and backends/ sources: ${local.filter((p) => !/^(compiler|dsl|backends)\//.test(p)).join(', ')}`);
  assert.not.ok(local.some((p) => p.includes('node-device')), 'the Node WebGPU device is not part of the core');
  assert.ok(local.some((p) => p.startsWith('backends/cuda/')), 'the CUDA backend is part of the core (compile targets cuda)');
});

test.run();
