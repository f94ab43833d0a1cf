/**
 * The programmatic API (compiler/api.ts): compile, lower, check, format, interpret — results and
 * diagnostics as values, options validated, never an exception on bad input.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as api from '../../compiler/api.ts';
import { interpret as interpretIR } from '../../compiler/interp/interpret.ts';
import { REPO } from '../helpers/baseline.ts';
import { attnc } from '../pack/run-cli.ts';

const GLA = readFileSync(join(REPO, 'stdlib/gla.attn'), 'utf8');
const TWO = `attention first {\n  dims K = 4, V = 4\n  input q: [K], k: [K], v: [V]\n  update additive\n}\n\nattention second {\n  dims K = 4, V = 4\n  input q: [K], k: [K], v: [V]\n  update delta(beta = 0.5)\n}\n`;

test('compile: every spec of a source by default, or the one named; artefacts are prefixed by the spec', () => {
  const all = api.compile(TWO);
  assert.ok(all.ok, api.renderText(all.diagnostics));
  assert.equal(all.specs.map((s) => s.ir.name), ['first', 'second']);
  assert.is(all.ir!.name, 'first');
  for (const s of all.specs) {
    assert.ok(s.manifest);
    assert.ok(s.artifacts.every((a) => a.path.startsWith(`${s.ir.name}/`)));
  }
  const one = api.compile(TWO, { spec: 'second', targets: ['wgsl'] });
  assert.equal(one.specs.map((s) => s.ir.name), ['second']);
  assert.not.ok(one.artifacts.some((a) => a.path.endsWith('.ts')), 'no bindings without the ts target');
  const missing = api.compile(TWO, { spec: 'third' });
  assert.is(missing.ok, false);
  assert.match(missing.diagnostics[0]!.message, "no spec named 'third'");
});

test('compile: options change the output (dims, dtype, profile) and bad options are diagnostics', () => {
  const small = api.compile(GLA, { dims: { K: 16, V: 16 } });
  const f16 = api.compile(GLA, { dims: { K: 16, V: 16 }, dtype: 'f16' });
  assert.is(small.specs[0]!.manifest!.keyDim, 16);
  assert.is(small.specs[0]!.manifest!.dtype, 'f32');
  assert.is(f16.specs[0]!.manifest!.dtype, 'f16');
  assert.ok(f16.specs[0]!.manifest!.requiredFeatures.includes('shader-f16'));
  const unknownProfile = api.compile(GLA, { profile: 'webgpu-huge' });
  assert.is(unknownProfile.ok, false);
  assert.is(unknownProfile.diagnostics[0]!.code, 'ATTN4003');
  const bad = api.compile(GLA, { chunk: -3, form: 'sideways' as 'chunk', dims: { K: 0 } });
  assert.is(bad.ok, false);
  assert.is(bad.diagnostics.length, 3);
  assert.ok(bad.diagnostics.every((d) => d.code === 'ATTN6005'));
});

test('compile: tiles are validated like chunk (ATTN6005), reach both plans, and sizes the spec does not allow are ATTN4006', () => {
  const dims = { K: 16, V: 16 };
  const cudaManifest = (r: api.CompileResult) => JSON.parse(r.artifacts.find((a) => a.path === 'gla/cuda/gla.manifest.json')!.contents) as { kernels: { grid: unknown }[]; notes: string[] };
  const auto = api.compile(GLA, { dims, targets: ['wgsl', 'cuda'] });
  const tiled = api.compile(GLA, { dims, targets: ['wgsl', 'cuda'], tiles: { BV: 8, BK: 8 } });
  assert.ok(tiled.ok, api.renderText(tiled.diagnostics));
  for (const target of ['webgpu-large', 'cuda-sm90']) assert.ok(tiled.specs[0]!.notes.some((n) => n.startsWith(`${target}: tiling: `) && n.includes('value tile 8 (requested), key slice 8 (requested)')), target);
  assert.ok(cudaManifest(tiled).notes.some((n) => n.includes('value tile 8 (requested)')), 'the CUDA manifest notes say so');
  assert.not.equal(cudaManifest(tiled).kernels.map((k) => k.grid), cudaManifest(auto).kernels.map((k) => k.grid), 'the CUDA grids change with the value tile');
  for (const tiles of [{ BV: 0 }, { BK: -8 }, { BV: 1.5 }, { BQ: 16 }, 'BV=32', null, [32]] as unknown as api.TileRequest[]) {
    const b = api.compile(GLA, { dims, tiles });
    assert.is(b.ok, false, JSON.stringify(tiles));
    assert.equal(b.diagnostics.map((d) => d.code), ['ATTN6005'], JSON.stringify(tiles));
    assert.match(b.diagnostics[0]!.message, 'tiles');
  }
  const notPow2 = api.compile(GLA, { dims, targets: ['wgsl', 'cuda'], tiles: { BV: 12 } });
  assert.is(notPow2.ok, false);
  assert.equal(notPow2.diagnostics.map((d) => d.code), ['ATTN4006'], 'said once for both plans');
});

test("compile to cuda: the CUDA backend's files (not ATTN4002), the same as `attnc compile --target cuda` writes", async () => {
  const r = api.compile(GLA, { name: 'gla.attn', targets: ['cuda'], dims: { K: 16, V: 16 } });
  assert.ok(r.ok, api.renderText(r.diagnostics));
  assert.not.ok(r.diagnostics.some((d) => d.code === 'ATTN4002'));
  assert.equal(r.artifacts.map((a) => a.path).sort(), ['gla/cuda/gla.cu', 'gla/cuda/gla.h', 'gla/cuda/gla.manifest.json', 'gla/cuda/gla_torch.py']);
  assert.is(r.specs[0]!.manifest, undefined, 'no WebGPU manifest without the wgsl or ts target');
  const manifest = JSON.parse(r.artifacts.find((a) => a.path.endsWith('.manifest.json'))!.contents) as { target: string; dtype: string; keyDim: number };
  assert.equal([manifest.target, manifest.dtype, manifest.keyDim], ['cuda-sm90', 'bfloat16', 16], 'defaults: cuda-sm90, bf16 storage');
  assert.match(r.artifacts.find((a) => a.path.endsWith('.cu'))!.contents, /__global__/);
  // Byte for byte what the CLI writes for the same spec and options.
  const out = mkdtempSync(join(tmpdir(), 'attnc-api-cuda-'));
  try {
    const file = join(out, 'gla.attn');
    writeFileSync(file, GLA);
    const cli = await attnc('compile', file, '--target', 'cuda', '--dims', 'K=16,V=16', '--out', out);
    assert.is(cli.code, 0, cli.stderr);
    for (const a of r.artifacts) assert.ok(readFileSync(join(out, a.path), 'utf8') === a.contents, `${a.path} as the CLI writes it`);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
  // Every target at once; `profile` naming a CUDA profile is the CUDA profile (like the CLI's --profile).
  const all = api.compile(GLA, { targets: ['wgsl', 'ts', 'cuda'], dims: { K: 16, V: 16 }, profile: 'cuda-sm80', dtype: 'f16' });
  assert.ok(all.ok, api.renderText(all.diagnostics));
  assert.ok(all.artifacts.some((a) => a.path.endsWith('.wgsl')) && all.artifacts.some((a) => a.path === 'gla/gla.ts'));
  assert.is(all.specs[0]!.manifest!.target, 'webgpu-large');
  const m80 = JSON.parse(all.artifacts.find((a) => a.path === 'gla/cuda/gla.manifest.json')!.contents) as { target: string; dtype: string };
  assert.equal([m80.target, m80.dtype], ['cuda-sm80', 'float16']);
  assert.ok(all.specs[0]!.notes.some((n) => n.startsWith('cuda-sm80: ')) && all.specs[0]!.notes.some((n) => n.startsWith('webgpu-large: ')), 'notes name their target when there are several plans');
  const viaCudaProfile = api.compile(GLA, { targets: ['cuda'], dims: { K: 16, V: 16 }, cudaProfile: 'cuda-sm80', dtype: 'f16' });
  assert.is(viaCudaProfile.artifacts.find((a) => a.path.endsWith('.cu'))!.contents, all.artifacts.find((a) => a.path.endsWith('.cu'))!.contents);
  // Profiles that no requested target uses are bad options.
  for (const o of [{ targets: ['wgsl'], profile: 'cuda-sm80' }, { targets: ['cuda'], profile: 'webgpu-default' }, { targets: ['cuda'], cudaProfile: 'webgpu-large' }, { targets: ['cuda'], profile: 'cuda-sm80', cudaProfile: 'cuda-sm90' }] as api.CompileOptions[]) {
    const b = api.compile(GLA, o);
    assert.is(b.ok, false, JSON.stringify(o));
    assert.equal(b.diagnostics.map((d) => d.code), ['ATTN6005'], JSON.stringify(o));
  }
});

test('JSON form in, same kernels out; a spec given as JSON with a schema error is a diagnostic', () => {
  const j = api.toJson(GLA).json;
  const a = api.compile(GLA, { dims: { K: 8, V: 8 }, targets: ['wgsl'] });
  const b = api.compile(j, { dims: { K: 8, V: 8 }, targets: ['wgsl'] });
  assert.equal(b.artifacts, a.artifacts);
  const broken = api.compile({ ...j[0]!, update: 42 } as unknown as api.SpecJson);
  assert.is(broken.ok, false);
  assert.match(broken.diagnostics[0]!.code, /^ATTN6\d{3}$/);
});

test('interpret: random inputs by shape, or given inputs; the result equals the internal interpreter', () => {
  const r = api.interpret(GLA, { dims: { K: 8, V: 8 }, random: { B: 2, T: 20, H: 2, seed: 1 }, outputFinalState: true });
  assert.ok(r.ok, api.renderText(r.diagnostics));
  assert.equal(r.output!.shape, [2, 20, 2, 8]);
  assert.equal(r.finalState!.S.shape, [2, 2, 8, 8]);
  const again = interpretIR(r.ir!, r.inputs!, { form: r.form! });
  assert.equal(Array.from(again.output!.data), Array.from(r.output!.data));
  // From an IR and given inputs, another form: the same output to float64 rounding.
  const rec = api.interpret(r.ir!, { inputs: r.inputs!, form: 'recurrent' });
  assert.ok(api.compareTensors(rec.output!.data, r.output!.data).relErr < 1e-9);
});

test('interpret: missing inputs, a bad shape and a wrong tensor are diagnostics', () => {
  const none = api.interpret(GLA);
  assert.is(none.ok, false);
  assert.is(none.diagnostics[0]!.code, 'ATTN6005');
  const badShape = api.interpret(GLA, { random: { B: 0, T: 4, H: 1 } });
  assert.is(badShape.diagnostics[0]!.code, 'ATTN5008');
  const r = api.interpret(GLA, { dims: { K: 4, V: 4 }, random: { B: 1, T: 4, H: 1 } });
  const inputs = { ...r.inputs!, tensors: { ...r.inputs!.tensors, q: api.tensor([1, 4, 1, 3]) } };
  const wrong = api.interpret(r.ir!, { inputs });
  assert.is(wrong.ok, false);
  assert.ok(wrong.diagnostics.some((d) => d.code === 'ATTN5002' && d.message.includes("'q'")));
});

test('bad profiles and interpreter options are diagnostics whatever the targets, never exceptions', () => {
  for (const o of [{ targets: ['cuda'], profile: 'cuda-sm70' }, { targets: ['cuda'], profile: 'nosuch' }, { targets: ['wgsl'], cudaProfile: 'nosuch' }] as api.CompileOptions[]) {
    const r = api.compile(GLA, o);
    assert.is(r.ok, false, JSON.stringify(o));
    assert.equal(r.diagnostics.map((d) => d.code), ['ATTN4003'], JSON.stringify(o));
  }
  const obj = api.compile(GLA, { targets: ['wgsl'], profile: { name: 'x' } as unknown as api.CompileOptions['profile'] });
  assert.is(obj.ok, false);
  assert.is(obj.diagnostics[0]!.code, 'ATTN6005');
  for (const chunkSize of [2.5, 0, -1]) {
    const r = api.interpret(GLA, { dims: { K: 4, V: 4 }, random: { B: 1, T: 4, H: 1 }, form: 'chunk', chunkSize });
    assert.is(r.ok, false, String(chunkSize));
    assert.is(r.diagnostics[0]!.code, 'ATTN6005');
  }
  const badForm = api.interpret(GLA, { dims: { K: 4, V: 4 }, random: { B: 1, T: 4, H: 1 }, form: 'sideways' as unknown as 'chunk' });
  assert.is(badForm.diagnostics[0]!.code, 'ATTN6005');
});

test('check, format and lower keep their contracts', () => {
  assert.ok(api.check(GLA).ok);
  assert.is(api.format(GLA).text, GLA, 'stdlib specs are formatted');
  assert.is(api.format('attention {').text, undefined);
  const l = api.lower(TWO);
  assert.ok(l.ok);
  assert.equal(l.irs.map((i) => [i.name, i.update!.cls]), [['first', 'additive'], ['second', 'delta']]);
  assert.ok(api.profiles.includes('webgpu-default'));
});

test.run();
