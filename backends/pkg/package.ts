/**
 * A complete npm package for one compiled spec (`attnc pack`): ESM `index.js` + `index.d.ts`
 * (the bindings, emitted directly as JavaScript and declarations: packing needs no TypeScript
 * compiler), the standalone WebGPU runtime they import, the manifest,
 * one `.wgsl` file per kernel, the CUDA sources and PyTorch loader when the CUDA backend made them,
 * the spec's source, and a README with the API, the tensors' shapes and dtypes and the spec text.
 *
 * The package depends on nothing: the runtime is copied in; `webgpu` (a GPU in Node) and
 * `@webgpu/types` (the GPU* types) are optional peer dependencies. No Node-only imports here: the
 * caller reads the runtime and writes the files.
 */
import Handlebars from 'handlebars';
import type { Artifact } from '../../compiler/compile.ts';
import type { AttentionIR } from '../../compiler/ir/attention-ir.ts';
import type { TileRequest } from '../../compiler/passes/plan.ts';
import { VERSION } from '../../compiler/version.ts';
import { constType, dtsBindings, jsBindings, typeName } from '../ts/bindings.ts';
import type { WebGpuManifest } from '../wgsl/manifest.ts';
import { workgroupStorageBytes } from './limits.ts';

export interface PackInput {
  ir: AttentionIR;
  manifest: WebGpuManifest;
  /** dist/attnc-runtime.js and its declarations. */
  runtime: { js: string; dts: string };
  specText: string;
  /** The spec file's name (e.g. gated_deltanet.attn). */
  source: string;
  /** CUDA artefacts (paths as compileIR gives them); `missing` says why there are none. */
  cuda: { artifacts: Artifact[]; missing?: string };
  /** package.json fields; defaults: attnc-<spec>, 0.1.0, UNLICENSED. */
  name?: string;
  version?: string;
  license?: string;
  /** Version ranges of the optional peer dependencies (attnc's own). */
  peers?: { webgpu?: string; webgpuTypes?: string };
  /** The options the kernels were compiled with, recorded in the package. */
  options?: { dims?: Record<string, number>; chunk?: number; tiles?: TileRequest };
}

export interface PackOutput {
  /** Files relative to the package root. */
  files: Artifact[];
  packageJson: PackageJson;
  notes: string[];
}

export interface PackageJson {
  name: string;
  version: string;
  description: string;
  type: 'module';
  main: string;
  types: string;
  exports: Record<string, string | Record<string, string>>;
  files: string[];
  sideEffects: false;
  keywords: string[];
  license: string;
  peerDependencies: Record<string, string>;
  peerDependenciesMeta: Record<string, { optional: true }>;
  attnc: Record<string, unknown>;
}

/** npm's rules for package names (lower case, URL-safe, optional scope, ≤ 214 characters). */
export function validPackageName(name: string): boolean {
  return name.length <= 214 && /^(@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*$/.test(name);
}

/** Semantic version x.y.z with optional pre-release and build. */
export function validVersion(v: string): boolean {
  return /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/.test(v);
}

export function defaultPackageName(spec: string): string {
  return `attnc-${spec.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '')}`;
}

/** WebGPU's default maxComputeWorkgroupStorageSize: no request needed up to this. */
const DEFAULT_WORKGROUP_STORAGE = 16384;

/**
 * The limits a package ships must hold for the WGSL it ships: WebGPU counts each workgroup
 * variable rounded up to 16 bytes, which the planner's tile sums may miss. Raise the request
 * when the shaders need more (with a note), never lower it.
 */
export function checkedManifest(m: WebGpuManifest): { manifest: WebGpuManifest; note?: string } {
  const need = Math.max(0, ...m.kernels.map((k) => workgroupStorageBytes(k.code) ?? k.sharedBytes));
  const asked = m.requiredLimits['maxComputeWorkgroupStorageSize'] ?? DEFAULT_WORKGROUP_STORAGE;
  if (need <= asked) return { manifest: m };
  return {
    manifest: { ...m, requiredLimits: { ...m.requiredLimits, maxComputeWorkgroupStorageSize: need } },
    note: `requiredLimits.maxComputeWorkgroupStorageSize raised from ${asked} to ${need}: the WGSL's workgroup variables, each rounded up to 16 bytes as WebGPU counts them`,
  };
}

export function npmPackage(input: PackInput): PackOutput {
  const ir = input.ir;
  const notes: string[] = [];
  const checked = checkedManifest(input.manifest);
  if (checked.note) notes.push(checked.note);
  const m = checked.manifest;
  const Type = typeName(m.spec);
  const name = input.name ?? defaultPackageName(m.spec);
  const bindings = { manifest: m, specText: input.specText, source: input.source };
  const compiledWith = {
    attnc: VERSION,
    spec: m.spec,
    source: input.source,
    dims: { ...ir.dims },
    target: m.target,
    form: m.form,
    dtype: m.dtype,
    ...(input.options?.chunk ? { chunk: input.options.chunk } : {}),
    ...(input.options?.tiles ? { tiles: input.options.tiles } : {}),
  };
  // `export const compiledWith = {…} as const`, as JavaScript and as its declaration.
  const compiledDoc = '/** How these kernels were compiled: attnc version, the spec, its dims, the target profile, form and storage type. */';
  const js = `${jsBindings(bindings)}\n${compiledDoc}\nexport const compiledWith = ${JSON.stringify(compiledWith, null, 2)};\n`;
  const header = `// ${name}: WebGPU kernels for the attention spec '${m.spec}', generated by attnc ${VERSION} from ${input.source}. Do not edit.\n`;
  const dts = `${header}/// <reference types="@webgpu/types" />\n${dtsBindings(bindings)}\n${compiledDoc}\nexport declare const compiledWith: ${constType(compiledWith)};\n`;

  const files: Artifact[] = [
    { path: 'index.js', contents: js },
    { path: 'index.d.ts', contents: dts },
    { path: 'attnc-runtime.js', contents: input.runtime.js },
    { path: 'attnc-runtime.d.ts', contents: input.runtime.dts },
    { path: 'manifest.json', contents: JSON.stringify(m, null, 2) + '\n' },
    { path: `spec/${specFileName(input.source, m.spec)}`, contents: input.specText },
    ...m.kernels.map((k) => ({ path: `wgsl/${k.name}.wgsl`, contents: k.code })),
  ];
  // compileIR names CUDA files SPEC/cuda/FILE (or SPEC/FILE); the package keeps them in cuda/.
  const cudaFiles = input.cuda.artifacts.map((a) => ({ path: `cuda/${a.path.replace(new RegExp(`^${m.spec}/`), '').replace(/^cuda\//, '')}`, contents: a.contents }));
  files.push(...cudaFiles);
  if (!cudaFiles.length) notes.push(`no CUDA sources: ${input.cuda.missing ?? 'the CUDA backend produced none'}`);

  const exports: PackageJson['exports'] = {
    '.': { types: './index.d.ts', default: './index.js' },
    './manifest.json': './manifest.json',
    './wgsl/*': './wgsl/*',
    './spec/*': './spec/*',
    ...(cudaFiles.length ? { './cuda/*': './cuda/*' } : {}),
    './package.json': './package.json',
  };
  const pkg: PackageJson = {
    name,
    version: input.version ?? '0.1.0',
    description: `${m.family === 'softmax' ? 'Softmax' : 'State-recurrent'} attention '${m.spec}' as WebGPU kernels${cudaFiles.length ? ' and CUDA sources' : ''}, generated by attnc ${VERSION}`,
    type: 'module',
    main: './index.js',
    types: './index.d.ts',
    exports,
    files: ['index.js', 'index.d.ts', 'attnc-runtime.js', 'attnc-runtime.d.ts', 'manifest.json', 'wgsl', 'spec', ...(cudaFiles.length ? ['cuda'] : []), 'README.md'],
    sideEffects: false,
    keywords: ['attention', 'webgpu', 'wgsl', ...(cudaFiles.length ? ['cuda'] : []), 'attnc', m.spec],
    license: input.license ?? 'UNLICENSED',
    peerDependencies: { '@webgpu/types': input.peers?.webgpuTypes ?? '*', webgpu: input.peers?.webgpu ?? '*' },
    peerDependenciesMeta: { '@webgpu/types': { optional: true }, webgpu: { optional: true } },
    attnc: { ...compiledWith, kernels: m.kernels.map((k) => k.name), requiredFeatures: m.requiredFeatures, requiredLimits: m.requiredLimits, cuda: cudaFiles.length > 0 },
  };
  files.push({ path: 'package.json', contents: JSON.stringify(pkg, null, 2) + '\n' });
  files.push({ path: 'README.md', contents: readme({ input: { ...input, manifest: m }, pkg, Type, cudaFiles, compiledWith }) });
  return { files, packageJson: pkg, notes };
}

function specFileName(source: string, spec: string): string {
  const base = source.split(/[\\/]/).pop() ?? '';
  return /\.attn(\.json)?$/.test(base) ? base : `${spec}.attn`;
}

const README = Handlebars.compile(
  `# {{name}}

{{description}}.

The kernels implement the attention spec \`{{spec}}\` ({{family}} family), compiled from
\`{{source}}\` with dims {{dimsText}} for the WebGPU profile \`{{target}}\` — {{form}} form,
{{dtype}} storage. Every kernel attnc emits is tested against its float64 reference interpreter.
The package has no dependencies: the WebGPU runtime (\`attnc-runtime.js\`) is included. Bring your
own \`GPUDevice\`.

## Use

In a browser:

\`\`\`js
import { {{Type}}, requiredFeatures, requiredLimits } from '{{name}}';

const adapter = await navigator.gpu.requestAdapter();
const device = await adapter.requestDevice({ requiredFeatures, requiredLimits });
const attn = new {{Type}}(device);
const { output{{#if recurrent}}, finalState{{/if}} } = await attn.run({ {{tensorNames}} }, { B, T, H });
\`\`\`

In Node, a \`GPUDevice\` comes from the \`webgpu\` package (Dawn), an optional peer dependency:

\`\`\`js
import { create, globals } from 'webgpu';
import { {{Type}}, requiredFeatures, requiredLimits } from '{{name}}';

Object.assign(globalThis, globals);
const gpu = create([]); // keep this reference for as long as the device is in use
const adapter = await gpu.requestAdapter();
const device = await adapter.requestDevice({ requiredFeatures, requiredLimits });
\`\`\`

TypeScript types come with the package (\`index.d.ts\`); the \`GPU*\` types are those of
\`@webgpu/types\` (an optional peer dependency).

## API

| export | what it is |
|---|---|
| \`class {{Type}}(device)\` | the kernels on a device; pipelines are created on first use and cached |
| \`{{Type}}#run(tensors, dims{{#if recurrent}}, initialState?{{/if}})\` | upload host arrays, run, read back: \`{ output: Float32Array{{#if recurrent}}, finalState?: { S{{#if hasZ}}, z{{/if}}{{#if hasM}}, m{{/if}} }{{/if}} }\` |
| \`{{Type}}#encode(encoderOrPass, buffers, dims)\` | record the kernels into your own \`GPUCommandEncoder\` (or compute pass) over your \`GPUBuffer\`s |
| \`{{Type}}#bufferSizes(dims)\` | bytes each buffer of \`encode\` needs for these dims |
| \`{{Type}}#warmup()\` / \`destroy()\` | create every pipeline now / free internal buffers |
| \`requiredFeatures\`, \`requiredLimits\` | what to pass to \`requestDevice\` |
| \`manifest\`, \`wgsl\` | kernels, buffers and sizes as data; the WGSL of each kernel as a string |
| \`specSource\`, \`compiledWith\` | the spec text; the options the kernels were compiled with |
| \`{{name}}/manifest.json\`, \`{{name}}/wgsl/*.wgsl\` | the same as files |

\`dims\` is \`{ B, T, H }\`, with optional \`heads\` (per-input head counts for GQA/GVA: an input
with H_x heads serves output head h from its head ⌊h·H_x/H⌋), \`cuSeqlens\` (packed
variable-length sequences, B = 1){{#if recurrent}}, and for \`encode\` \`hasInitialState\` /
\`storeFinalState\`{{/if}}. Wrong sizes and missing features or limits throw an \`AttncError\` that
names the tensor and the size it needs.

## Tensors

Sequence-first, as in flash-linear-attention. Host arrays for \`run\` are \`Float32Array\` or
\`number[]\` (int inputs: \`Int32Array\`); buffers for \`encode\` hold {{dtype}}.

| tensor | shape | dtype | role |
|---|---|---|---|
{{#each tensors}}| \`{{name}}\` | {{shape}} | {{dtype}} | {{role}} |
{{/each}}

{{#if requirements}}## Device requirements

{{#each requirements}}- {{this}}
{{/each}}

{{/if}}## Kernels

| kernel | threads | workgroup memory |
|---|---:|---:|
{{#each kernels}}| \`{{name}}\` | {{threads}} | {{sharedBytes}} B |
{{/each}}

## CUDA

{{#if cuda}}The CUDA C sources, the C ABI header and the PyTorch loader are in \`cuda/\`:

{{#each cuda}}- \`cuda/{{this}}\`
{{/each}}

{{#if torchModule}}
From Python (PyTorch with a CUDA GPU; the first call builds the \`.cu\` with nvcc):

\`\`\`python
import sys
sys.path.insert(0, 'node_modules/{{name}}/cuda')
import {{torchModule}} as attn

o = attn.forward({{torchArgs}})
o, final_state = attn.forward({{torchArgs}}, initial_state=None, output_final_state=True)
\`\`\`
{{/if}}
{{else}}This package has no CUDA sources: {{cudaMissing}}.
{{/if}}

## The spec

From \`{{source}}\` (also in \`spec/\`):

\`\`\`
{{specText}}\`\`\`

Generated by attnc {{attnc}}. Do not edit: change the spec and pack it again
(\`attnc pack {{source}}\`).
`,
  { noEscape: true, strict: true },
);

function readme(a: { input: PackInput; pkg: PackageJson; Type: string; cudaFiles: Artifact[]; compiledWith: { dims: Record<string, number> } }): string {
  const m = a.input.manifest;
  const recurrent = m.family === 'recurrent';
  const tensors: { name: string; shape: string; dtype: string; role: string }[] = [];
  for (const i of m.inputs) {
    const used = m.buffers.some((b) => b.name === `in_${i.name}`);
    if (!used) continue;
    tensors.push(i.type === 'int' ? { name: i.name, shape: '[B, T]', dtype: 'i32', role: 'input (integer ids)' } : { name: i.name, shape: `[${['B', 'T', `H_${i.name}`, ...i.shape].join(', ')}]`, dtype: m.dtype, role: 'input' });
  }
  for (const p of m.params) tensors.push({ name: p.name, shape: `[${(p.perHead ? ['H', ...p.shape] : p.shape).join(', ')}]`, dtype: bufferDtype(m, `p_${p.name}`), role: 'parameter' });
  tensors.push({ name: 'out', shape: `[B, T, H, ${m.valueDim}]`, dtype: bufferDtype(m, 'out'), role: 'output' });
  for (const b of m.buffers.filter((x) => x.role === 'state-in' || x.role === 'state-out')) {
    const shape = b.name.endsWith('_z') ? `[N, H, ${m.keyDim}]` : b.name.endsWith('_m') ? '[N, H]' : `[N, H, ${m.keyDim}, ${m.valueDim}]`;
    tensors.push({ name: b.name, shape, dtype: b.dtype, role: `${b.role === 'state-in' ? 'initial' : 'final'} state (N = sequences)` });
  }
  const requirements = [
    ...m.requiredFeatures.map((f) => `feature \`${f}\``),
    ...Object.entries(m.requiredLimits).map(([k, v]) => `limit \`${k}\` ≥ ${v}`),
  ];
  const torch = a.cudaFiles.find((f) => f.path.endsWith('_torch.py'));
  const text = README({
    name: a.pkg.name,
    description: a.pkg.description,
    spec: m.spec,
    family: m.family === 'softmax' ? 'softmax' : 'state-recurrent',
    source: a.input.source,
    dimsText: Object.entries(a.compiledWith.dims).map(([k, v]) => `${k} = ${v}`).join(', ') || '(none)',
    target: m.target,
    form: m.form,
    dtype: m.dtype,
    Type: a.Type,
    recurrent,
    hasZ: m.buffers.some((b) => b.name === 'final_z'),
    hasM: m.buffers.some((b) => b.name === 'final_m'),
    tensorNames: tensors.filter((t) => t.role === 'input' || t.role === 'parameter' || t.role.startsWith('input')).map((t) => t.name).join(', '),
    tensors,
    requirements: requirements.length ? requirements : false,
    kernels: m.kernels.map((k) => ({ name: k.name, threads: k.threads, sharedBytes: k.sharedBytes })),
    cuda: a.cudaFiles.length ? a.cudaFiles.map((f) => f.path.slice('cuda/'.length)) : false,
    torchModule: torch ? torch.path.slice('cuda/'.length, -'.py'.length) : false,
    torchArgs: [...m.inputs.filter((i) => m.buffers.some((b) => b.name === `in_${i.name}`)).map((i) => i.name), ...m.params.map((p) => p.name)].join(', '),
    cudaMissing: a.input.cuda.missing ?? 'the CUDA backend produced none',
    specText: a.input.specText.endsWith('\n') ? a.input.specText : a.input.specText + '\n',
    attnc: VERSION,
  });
  return text.endsWith('\n') ? text : text + '\n';
}

function bufferDtype(m: WebGpuManifest, name: string): string {
  return m.buffers.find((b) => b.name === name)?.dtype ?? m.dtype;
}
