/**
 * `attnc pack`: the package it writes is complete and standalone. The end-to-end test packs
 * gated_deltanet, makes the tarball with `npm pack`, installs it into a fresh project (with
 * `webgpu` from a local path, offline), typechecks a TypeScript consumer against the installed
 * package (exports map, types first) and runs the kernel there in a child Node process on WebGPU;
 * the output and final state are compared here with the float64 reference interpreter.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { lower } from '../../compiler/api.ts';
import { tsBindings } from '../../backends/ts/bindings.ts';
import type { WebGpuManifest } from '../../backends/wgsl/manifest.ts';
import type * as TS from 'typescript';
import { interpret } from '../../compiler/interp/interpret.ts';
import { randomInputs } from '../../compiler/interp/random.ts';
import { compareTensors } from '../../compiler/interp/tensor.ts';
import { REPO } from '../helpers/baseline.ts';
import { ensureDist } from '../api/dist.ts';
import { attnc } from './run-cli.ts';

const tmp = mkdtempSync(join(tmpdir(), 'attnc-pack-'));
// Packages copy dist/attnc-runtime.js: make sure it is built from the current sources.
test.before(() => ensureDist());
test.after(() => rmSync(tmp, { recursive: true, force: true }));

const SPEC = join(REPO, 'stdlib/gated_deltanet.attn');
const DIMS = { K: 8, V: 8 };

interface PackJson {
  ok: boolean;
  name: string;
  version: string;
  dir: string;
  files: string[];
  cuda: boolean;
  notes: string[];
}

async function pack(out: string, ...extra: string[]): Promise<PackJson> {
  const r = await attnc('pack', SPEC, '--dims', 'K=8,V=8', '--out', out, '--json', ...extra);
  assert.is(r.code, 0, r.stderr + r.stdout);
  return JSON.parse(r.stdout) as PackJson;
}

test('pack writes a standalone ESM package: exports with types first, no dependencies, every listed file present', async () => {
  const dir = join(tmp, 'unit');
  const j = await pack(dir, '--name', '@lab/gdn-kernels', '--pkg-version', '1.2.3', '--license', 'MIT');
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Record<string, unknown> & { exports: Record<string, unknown>; files: string[]; attnc: { dims: Record<string, number>; kernels: string[] } };
  assert.is(pkg['name'], '@lab/gdn-kernels');
  assert.is(pkg['version'], '1.2.3');
  assert.is(pkg['license'], 'MIT');
  assert.is(pkg['type'], 'module');
  assert.is(pkg['sideEffects'], false);
  assert.is(pkg['dependencies'], undefined, 'the runtime is copied in, not depended on');
  const root = pkg.exports['.'] as Record<string, string>;
  assert.equal(Object.keys(root)[0], 'types', 'types first in the exports map');
  assert.ok(existsSync(join(dir, root['types']!)) && existsSync(join(dir, root['default']!)));
  for (const f of pkg.files) assert.ok(existsSync(join(dir, f)), `listed file ${f} exists`);
  assert.equal(pkg.attnc.dims, DIMS);
  // The WGSL files are the manifest's kernels, byte for byte.
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { kernels: { name: string; code: string }[]; inputs: { name: string; shape: number[] }[]; params: { name: string }[] };
  assert.equal(pkg.attnc.kernels, manifest.kernels.map((k) => k.name));
  assert.equal(readdirSync(join(dir, 'wgsl')).sort(), manifest.kernels.map((k) => `${k.name}.wgsl`).sort());
  for (const k of manifest.kernels) assert.is(readFileSync(join(dir, 'wgsl', `${k.name}.wgsl`), 'utf8'), k.code);
  // Nothing imports attnc itself.
  const js = readFileSync(join(dir, 'index.js'), 'utf8');
  const imports = [...js.matchAll(/^\s*import\s[^;]*?from\s+'([^']+)'/gm)].map((m) => m[1]);
  assert.equal(imports, ['./attnc-runtime.js']);
  assert.not.match(readFileSync(join(dir, 'attnc-runtime.js'), 'utf8'), /^\s*import\s/m);
  // The README: the API, every tensor with its shape, and the spec text it came from.
  const readme = readFileSync(join(dir, 'README.md'), 'utf8');
  assert.ok(readme.includes(readFileSync(SPEC, 'utf8')), 'README holds the spec text');
  for (const i of manifest.inputs) assert.ok(readme.includes(`| \`${i.name}\` | [${['B', 'T', `H_${i.name}`, ...i.shape].join(', ')}]`), `README row for ${i.name}`);
  for (const p of manifest.params) assert.ok(readme.includes(`| \`${p.name}\` |`), `README row for ${p.name}`);
  for (const word of ['run(', 'encode(', 'bufferSizes(', 'requiredFeatures', 'requiredLimits', 'GatedDeltanet']) assert.ok(readme.includes(word), `README mentions ${word}`);
  // Without CUDA sources the README says why, and the package lists none.
  if (!j.cuda) {
    assert.match(readme, /This package has no CUDA sources: .+/);
    assert.not.ok(existsSync(join(dir, 'cuda')));
    assert.ok(j.notes.some((n) => n.startsWith('no CUDA sources')));
  } else assert.ok(readdirSync(join(dir, 'cuda')).length > 0);
});

test('pack: --no-cuda, repacking into the same folder, and bad usage', async () => {
  const dir = join(tmp, 'again');
  await pack(dir, '--no-cuda');
  const again = await pack(dir, '--no-cuda');
  assert.ok(again.ok, 'an earlier pack folder is reused');
  assert.match(readFileSync(join(dir, 'README.md'), 'utf8'), 'no CUDA sources: not requested (--no-cuda)');
  // A failed pack leaves the earlier package as it was.
  const broken = join(tmp, 'broken-again.attn');
  writeFileSync(broken, 'attention x {\n  dims K = 4, V = 4\n  input q: [K], k: [K], v: [V]\n  update nonsense\n}\n');
  const before = readdirSync(join(dir, 'wgsl'));
  assert.is((await attnc('pack', broken, '--out', dir)).code, 1);
  assert.equal(readdirSync(join(dir, 'wgsl')), before);
  const foreign = join(tmp, 'foreign');
  mkdirSync(foreign);
  writeFileSync(join(foreign, 'notes.txt'), 'mine');
  const r = await attnc('pack', SPEC, '--out', foreign);
  assert.is(r.code, 2);
  assert.match(r.stderr, 'is not empty');
  assert.is(readFileSync(join(foreign, 'notes.txt'), 'utf8'), 'mine');
  assert.is((await attnc('pack', SPEC, '--out', join(tmp, 'x'), '--name', 'Bad Name')).code, 2);
  assert.is((await attnc('pack', SPEC, '--out', join(tmp, 'x'), '--pkg-version', 'one')).code, 2);
  assert.is((await attnc('pack', SPEC, '--out', join(tmp, 'x'), '--dims', 'K=')).code, 2);
  assert.is((await attnc('pack')).code, 2, 'missing argument');
});

test('pack --profile: the WebGPU profile for the kernels, a CUDA profile for the CUDA sources (never for WGSL)', async () => {
  const dir = join(tmp, 'profiles');
  const j = await pack(dir, '--profile', 'webgpu-default,cuda-sm80');
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { target: string };
  assert.is(manifest.target, 'webgpu-default');
  if (j.cuda) assert.is((JSON.parse(readFileSync(join(dir, 'cuda/gated_deltanet.manifest.json'), 'utf8')) as { target: string }).target, 'cuda-sm80');
  // A CUDA profile alone leaves the WebGPU kernels on the default WebGPU profile (it used to plan them for CUDA's limits).
  const only = join(tmp, 'profiles-cuda');
  await pack(only, '--profile', 'cuda-sm80');
  assert.is((JSON.parse(readFileSync(join(only, 'manifest.json'), 'utf8')) as { target: string }).target, 'webgpu-large');
  assert.is((await attnc('pack', SPEC, '--out', join(tmp, 'x'), '--profile', 'webgpu-default,webgpu-naga')).code, 2);
  assert.is((await attnc('pack', SPEC, '--out', join(tmp, 'x'), '--cuda-profile', 'webgpu-default')).code, 2);
});

test("index.js and index.d.ts are what TypeScript makes of the bindings module (emitted directly, without TypeScript)", async () => {
  const ts = (await import('typescript')).default;
  /** Parse and print without comments, string and number literals re-made, so only the code is compared. */
  const normalize = (text: string, fileName: string): string => {
    const sf = ts.createSourceFile(fileName, text, ts.ScriptTarget.ES2022, true, fileName.endsWith('.js') ? ts.ScriptKind.JS : ts.ScriptKind.TS);
    const literals = (ctx: TS.TransformationContext) => (root: TS.SourceFile) => {
      const visit = (n: TS.Node): TS.Node => (ts.isStringLiteral(n) ? ts.factory.createStringLiteral(n.text) : ts.isNumericLiteral(n) ? ts.factory.createNumericLiteral(n.text) : ts.visitEachChild(n, visit, ctx));
      return ts.visitNode(root, visit) as TS.SourceFile;
    };
    return ts.createPrinter({ removeComments: true }).printFile(ts.transform(sf, [literals]).transformed[0]!);
  };
  for (const [spec, dims] of [['gated_deltanet', 'K=8,V=8'], ['mlstm', 'K=8,V=8'], ['softmax', 'D=16']] as const) {
    const dir = join(tmp, `emit-${spec}`);
    const r = await attnc('pack', join(REPO, `stdlib/${spec}.attn`), '--dims', dims, '--chunk', '16', '--out', dir, '--no-cuda', '--json');
    assert.is(r.code, 0, r.stderr);
    const js = readFileSync(join(dir, 'index.js'), 'utf8');
    // The package's declarations reference the GPU* types of @webgpu/types first.
    const reference = '/// <reference types="@webgpu/types" />\n';
    const fullDts = readFileSync(join(dir, 'index.d.ts'), 'utf8');
    assert.ok(fullDts.includes(reference) && fullDts.indexOf(reference) < fullDts.indexOf('import '), 'the @webgpu/types reference comes first');
    const dts = fullDts.replace(reference, '');
    // The TypeScript module `attnc compile --target ts` writes, with the package's compiledWith.
    const compiledWith = JSON.parse(js.slice(js.indexOf('export const compiledWith = ') + 'export const compiledWith = '.length).replace(/;\s*$/, '')) as Record<string, unknown>;
    assert.is(compiledWith['chunk'], 16);
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as WebGpuManifest;
    const source = `${tsBindings({ manifest, specText: readFileSync(join(REPO, `stdlib/${spec}.attn`), 'utf8'), source: `${spec}.attn` })}\nexport const compiledWith = ${JSON.stringify(compiledWith, null, 2)} as const;\n`;
    const compilerOptions = { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext, declaration: true };
    const want = ts.transpileModule(source, { compilerOptions, fileName: 'index.ts', reportDiagnostics: true });
    const wantDts = ts.transpileDeclaration(source, { compilerOptions, fileName: 'index.ts', reportDiagnostics: true });
    assert.equal([...(want.diagnostics ?? []), ...(wantDts.diagnostics ?? [])].map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')), []);
    assert.fixture(normalize(js, 'index.js'), normalize(want.outputText, 'want.js'), `${spec}: index.js`);
    assert.fixture(normalize(dts, 'index.d.ts'), normalize(wantDts.outputText, 'want.d.ts'), `${spec}: index.d.ts`);
    // The comparison sees a difference in a type.
    assert.ok(normalize(dts.replace('warmup(): Promise<void>;', 'warmup(): void;'), 'x.d.ts') !== normalize(wantDts.outputText, 'want.d.ts'));
  }
});

test('pack without TypeScript: an install of attnc without devDependencies packs (the bundled CLI, no node_modules)', () => {
  // attnc as npm installs it for a user: package.json, bin/attnc and the built dist/ files — and no
  // typescript (a devDependency) anywhere Node would look for it.
  const root = join(tmp, 'installed-attnc');
  for (const f of ['package.json', 'bin/attnc', 'dist/attnc.js', 'dist/attnc-runtime.js', 'dist/attnc-runtime.d.ts']) {
    mkdirSync(dirname(join(root, f)), { recursive: true });
    copyFileSync(join(REPO, f), join(root, f));
  }
  assert.throws(() => createRequire(join(root, 'dist/attnc.js')).resolve('typescript'), /Cannot find module/, 'typescript is not reachable from the install');
  const out = join(tmp, 'packed-without-ts');
  let stdout = '';
  try {
    stdout = execFileSync(process.execPath, [join(root, 'bin/attnc'), 'pack', SPEC, '--dims', 'K=8,V=8', '--no-cuda', '--out', out, '--json'], { cwd: tmp, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const x = e as { status?: number; stdout?: string; stderr?: string };
    assert.unreachable(`attnc pack failed without typescript (status ${x.status}):\n${x.stdout}\n${x.stderr}`);
  }
  assert.ok((JSON.parse(stdout) as PackJson).ok);
  for (const f of ['index.js', 'index.d.ts', 'attnc-runtime.js', 'package.json']) assert.ok(existsSync(join(out, f)), f);
  // The emitted module loads and exports the API (no GPU needed to import it).
  const exported = execFileSync(process.execPath, ['--input-type=module', '-e', `const m = await import(${JSON.stringify(pathToFileURL(join(out, 'index.js')).href)}); console.log(Object.keys(m).sort().join(','))`], { cwd: tmp, encoding: 'utf8' }).trim().split(',');
  for (const name of ['GatedDeltanet', 'createGatedDeltanet', 'compiledWith', 'manifest', 'requiredFeatures', 'requiredLimits', 'specSource', 'wgsl']) assert.ok(exported.includes(name), `exports ${name}`);
});

test('pack a broken spec: exit 1 with diagnostics (codes, lines), no package', async () => {
  const bad = join(tmp, 'bad.attn');
  writeFileSync(bad, 'attention bad {\n  dims K = 4, V = 4\n  input q: [K], k: [K], v: [V]\n  gate -softplus(alpha)\n  update additive\n}\n');
  const out = join(tmp, 'bad-pkg');
  const r = await attnc('pack', bad, '--out', out, '--json');
  assert.is(r.code, 1);
  const j = JSON.parse(r.stdout) as { ok: boolean; diagnostics: { code: string; start: { line: number } }[] };
  assert.is(j.ok, false);
  assert.is(j.diagnostics[0]!.code, 'ATTN2001');
  assert.is(j.diagnostics[0]!.start.line, 4);
  assert.not.ok(existsSync(out));
  const t = await attnc('pack', bad, '--out', out);
  assert.is(t.code, 1);
  assert.match(t.stderr, 'error[ATTN2001]');
  assert.not.match(t.stderr, /\n\s+at /, 'no stack trace');
});

test('npm pack → npm install in a fresh project → typecheck and run on WebGPU there, against the reference', async () => {
  const started = Date.now();
  const dir = join(tmp, 'e2e-pkg');
  const j = await pack(dir);
  const npm = (args: string[], cwd: string) => execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' } });
  const packed = JSON.parse(npm(['pack', '--json', '--pack-destination', tmp], dir)) as { filename: string; files: { path: string }[] }[];
  const tarball = join(tmp, packed[0]!.filename);
  assert.ok(existsSync(tarball));
  assert.ok(packed[0]!.files.some((f) => f.path === 'attnc-runtime.js'), 'the runtime is in the tarball');

  // A fresh project: the tarball, plus webgpu and @webgpu/types from local paths (offline).
  const project = join(tmp, 'consumer');
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module' }));
  npm(['install', '--prefer-offline', '--no-audit', '--no-fund', tarball, join(REPO, 'node_modules/webgpu'), join(REPO, 'node_modules/@webgpu/types')], project);
  const installed = join(project, 'node_modules', j.name);
  assert.ok(lstatSync(installed).isDirectory() && !lstatSync(installed).isSymbolicLink(), 'installed from the tarball, not linked');
  assert.ok(realpathSync(installed).startsWith(realpathSync(project)));

  // Inputs and the reference, computed here with the interpreter.
  const l = lower(readFileSync(SPEC, 'utf8'), { name: SPEC, dims: DIMS });
  assert.ok(l.ok);
  const ir = l.irs[0]!;
  const shape = { B: 2, T: 45, H: 2 };
  const inputs = randomInputs(ir, { ...shape, seed: 11, initialState: true });
  const ref = interpret(ir, inputs, { form: 'recurrent', outputFinalState: true });
  writeFileSync(join(project, 'inputs.json'), JSON.stringify({ dims: shape, tensors: Object.fromEntries(Object.entries(inputs.tensors).map(([n, t]) => [n, Array.from(t.data)])), initialState: Array.from(inputs.initialState!.S.data) }));

  // A TypeScript consumer typechecks against the installed package (strict, nodenext).
  writeFileSync(
    join(project, 'check.ts'),
    `import { GatedDeltanet, requiredFeatures, requiredLimits, compiledWith, type GatedDeltanetTensors } from '${j.name}';
export async function use(device: GPUDevice, t: GatedDeltanetTensors): Promise<Float32Array> {
  const f: GPUFeatureName[] = requiredFeatures;
  const l: Record<string, number> = requiredLimits;
  const k: 8 = compiledWith.dims.K;
  void f; void l; void k;
  const attn = new GatedDeltanet(device);
  const sizes: number = attn.bufferSizes({ B: 1, T: 8, H: 2 }).q;
  void sizes;
  return (await attn.run(t, { B: 1, T: 8, H: 2 })).output;
}
`,
  );
  writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({ compilerOptions: { strict: true, noEmit: true, target: 'es2022', module: 'nodenext', moduleResolution: 'nodenext', types: ['@webgpu/types'] }, files: ['check.ts'] }));
  const tsc = join(REPO, 'node_modules/typescript/bin/tsc');
  let tscOut = '';
  try {
    execFileSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: project, stdio: 'pipe' });
  } catch (e) {
    tscOut = String((e as { stdout?: Buffer }).stdout ?? e);
  }
  assert.is(tscOut, '', tscOut);

  // Run the kernel in a child Node process that only sees the fresh project.
  writeFileSync(
    join(project, 'run.mjs'),
    `import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { create, globals } from 'webgpu';
import { GatedDeltanet, requiredFeatures, requiredLimits, wgsl } from '${j.name}';
Object.assign(globalThis, globals);
const require = createRequire(import.meta.url);
const manifestFile = require.resolve('${j.name}/manifest.json');
const gpu = create([]);
const adapter = await gpu.requestAdapter();
const device = await adapter.requestDevice({ requiredFeatures, requiredLimits });
const input = JSON.parse(readFileSync('inputs.json', 'utf8'));
const attn = new GatedDeltanet(device);
const res = await attn.run(input.tensors, input.dims, { S: input.initialState });
writeFileSync('output.json', JSON.stringify({ output: Array.from(res.output), S: Array.from(res.finalState.S), kernels: Object.keys(wgsl), manifestFile }));
attn.destroy();
device.destroy();
process.exit(0);
`,
  );
  try {
    execFileSync(process.execPath, ['run.mjs'], { cwd: project, stdio: 'pipe', env: { ...process.env, NODE_PATH: '' } });
  } catch (e) {
    const x = e as { status?: number; signal?: string; stderr?: Buffer; stdout?: Buffer };
    assert.unreachable(`the consumer failed (status ${x.status}, signal ${x.signal}):\n${x.stdout}\n${x.stderr}`);
  }
  const got = JSON.parse(readFileSync(join(project, 'output.json'), 'utf8')) as { output: number[]; S: number[]; kernels: string[]; manifestFile: string };
  assert.ok(got.manifestFile.startsWith(realpathSync(project)) || got.manifestFile.startsWith(project), 'manifest.json resolves through the exports map');
  assert.ok(got.kernels.length > 0);
  const eOut = compareTensors(Float64Array.from(got.output), ref.output!.data);
  const eS = compareTensors(Float64Array.from(got.S), ref.finalState!.S.data);
  assert.ok(eOut.relErr <= 1e-4, `output relative RMSE ${eOut.relErr}`);
  assert.ok(eS.relErr <= 1e-4, `final state relative RMSE ${eS.relErr}`);
  assert.ok(Date.now() - started < 60_000, `took ${Date.now() - started} ms`);
});

test('pack --tiles: the kernels use the requested value tile, and compiledWith records it', async () => {
  const dir = join(tmp, 'tiles');
  await pack(dir, '--tiles', 'BV=8', '--no-cuda');
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { valueDim: number; kernels: { name: string; grid: { k: string; v?: number }[] }[] };
  const main = manifest.kernels[manifest.kernels.length - 1]!;
  assert.equal(main.grid[0], { k: 'const', v: Math.ceil(manifest.valueDim / 8), t: 'i' }, `${main.name}: one workgroup per value tile of 8`);
  assert.match(readFileSync(join(dir, 'index.js'), 'utf8'), /"tiles": \{\s*"BV": 8\s*\}/);
  const bad = await attnc('pack', SPEC, '--out', join(tmp, 'tiles-bad'), '--tiles', 'BV=x');
  assert.is(bad.code, 2);
});

test.run();
