/**
 * `attnc pack FILE --out DIR`: a complete npm package for one spec — ESM index.js + index.d.ts,
 * the standalone WebGPU runtime, WGSL files, the manifest, CUDA sources when the CUDA backend makes
 * them, and a README with the API, shapes, dtypes and the spec text. `npm pack DIR` makes the
 * tarball.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { compileIR, type Artifact } from '../../compiler/compile.ts';
import type { KernelForm, TileRequest } from '../../compiler/passes/plan.ts';
import { defaultPackageName, npmPackage, validPackageName, validVersion } from '../../backends/pkg/package.ts';
import { diagnosticsJson, EXIT, printDiagnostics, printJson } from '../output.ts';
import { badChoice, FORMS, parseChunk, parseDims, parseProfiles, parseTiles, resolveProfiles, WEBGPU_DTYPES } from '../options.ts';
import { loadIR, printWarnings } from '../load-ir.ts';
import { packageRoot, runtimeFiles } from '../paths.ts';

export interface PackCmdOptions {
  out?: string;
  name?: string;
  pkgVersion?: string;
  license?: string;
  /** Repeated and/or comma-separated: the WebGPU profile, the CUDA profile, or one of each. */
  profile?: string | string[];
  /** An alias for a CUDA profile in --profile. */
  cudaProfile?: string;
  cuda?: boolean;
  dtype?: string;
  chunk?: string;
  tiles?: string;
  form?: string;
  dims?: string;
  spec?: string;
  json?: boolean;
}

const usage = (m: string) => {
  process.stderr.write(`attnc: ${m}\n`);
  return EXIT.usage;
};

const isCudaFile = (p: string) => /(^|\/)cuda\//.test(p) || /\.(cu|cuh|h|hpp|cpp|py)$/.test(p);

export async function packCommand(file: string, o: PackCmdOptions): Promise<number> {
  const dims = parseDims(o.dims);
  if (typeof dims === 'string') return usage(dims);
  const bad = badChoice('--dtype', o.dtype, WEBGPU_DTYPES, ' for WebGPU packages') ?? badChoice('--form', o.form, FORMS);
  if (bad) return usage(bad);
  const choice = parseProfiles(o.profile, o.cudaProfile);
  if (typeof choice === 'string') return usage(choice);
  const profiles = resolveProfiles(choice, { wgsl: true, cuda: o.cuda !== false }, { cuda: '--no-cuda leaves the CUDA sources out' });
  if (typeof profiles === 'string') return usage(profiles);
  const chunk = parseChunk(o.chunk);
  if (typeof chunk === 'string') return usage(chunk);
  const tiles = parseTiles(o.tiles);
  if (typeof tiles === 'string') return usage(tiles);
  if (o.name !== undefined && !validPackageName(o.name)) return usage(`--name '${o.name}' is not a valid npm package name (lower case letters, digits, '-', '.', '_', '~', optionally @scope/)`);
  if (o.pkgVersion !== undefined && !validVersion(o.pkgVersion)) return usage(`--pkg-version '${o.pkgVersion}' is not a semantic version (x.y.z)`);

  const l = loadIR(file, { ...(dims ? { dims } : {}), ...(o.spec ? { spec: o.spec } : {}) });
  if (l.usage) return usage(l.usage);
  if (!l.ir) return fail(l.diagnostics, o);
  if (!o.json) printWarnings(l.diagnostics);
  const ir = l.ir;
  const name = o.name ?? defaultPackageName(ir.name);
  const outDir = o.out ?? join('out', name);
  const unusable = checkOutDir(outDir);
  if (unusable) return usage(unusable);

  const specText = readFileSync(file, 'utf8');
  const common = { ...(o.form ? { form: o.form as KernelForm } : {}), ...(chunk ? { chunk } : {}), ...(tiles ? { tiles } : {}) };
  const web = compileIR(ir, { targets: ['wgsl'], webgpuProfile: profiles.wgsl, ...common, ...(o.dtype ? { dtype: o.dtype as 'f32' } : {}), specText, source: basename(file) });
  if (web.diagnostics.some((d) => d.severity === 'error') || !web.manifest) return fail(web.diagnostics, o);

  // CUDA is best effort: the package builds without it and its README says why.
  let cuda: { artifacts: Artifact[]; missing?: string } = { artifacts: [], missing: 'not requested (--no-cuda)' };
  if (o.cuda !== false) cuda = cudaFiles(ir, profiles.cuda, common, specText, basename(file));

  const rt = await runtimeFiles();
  const attncPkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { dependencies?: Record<string, string>; devDependencies?: Record<string, string> };
  let out;
  try {
    out = npmPackage({
      ir,
      manifest: web.manifest,
      runtime: rt,
      specText,
      source: basename(file),
      cuda,
      name,
      ...(o.pkgVersion ? { version: o.pkgVersion } : {}),
      ...(o.license ? { license: o.license } : {}),
      peers: { ...(attncPkg.dependencies?.['webgpu'] ? { webgpu: attncPkg.dependencies['webgpu'] } : {}), ...(attncPkg.devDependencies?.['@webgpu/types'] ? { webgpuTypes: attncPkg.devDependencies['@webgpu/types'] } : {}) },
      options: { ...(dims ? { dims } : {}), ...(chunk ? { chunk } : {}), ...(tiles ? { tiles } : {}) },
    });
  } catch (e) {
    process.stderr.write(`attnc: pack: ${(e as Error).message}\n`);
    return EXIT.diagnostics;
  }
  // Only now, with the package made, clear what an earlier pack generated there.
  for (const sub of ['wgsl', 'cuda', 'spec']) rmSync(join(outDir, sub), { recursive: true, force: true });
  for (const f of out.files) {
    const p = join(outDir, f.path);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, f.contents);
  }
  const notes = [...web.plans.flatMap((p) => p.notes), ...out.notes];
  if (o.json) {
    printJson({ ok: true, spec: ir.name, name: out.packageJson.name, version: out.packageJson.version, dir: outDir, files: out.files.map((f) => f.path), cuda: cuda.artifacts.length > 0, notes });
  } else {
    for (const n of notes) process.stderr.write(`note: ${n}\n`);
    for (const f of out.files) process.stdout.write(`${join(outDir, f.path)}\n`);
    process.stderr.write(`packed ${out.packageJson.name}@${out.packageJson.version} in ${outDir} (${out.files.length} files); \`npm pack ${outDir}\` makes the tarball\n`);
  }
  return EXIT.ok;
}

function fail(ds: Parameters<typeof printDiagnostics>[0], o: PackCmdOptions): number {
  if (o.json) printJson({ ok: false, diagnostics: diagnosticsJson(ds) });
  else printDiagnostics(ds);
  return EXIT.diagnostics;
}

/** CUDA sources from compileIR's 'cuda' target (bf16 storage); why there are none, when none. */
function cudaFiles(ir: Parameters<typeof compileIR>[0], profile: string, common: { form?: KernelForm; chunk?: number; tiles?: TileRequest }, specText: string, source: string): { artifacts: Artifact[]; missing?: string } {
  const reasons: string[] = [];
  try {
    const c = compileIR(ir, { targets: ['cuda'], cudaProfile: profile, ...common, dtype: 'bf16', specText, source });
    const files = c.artifacts.filter((a) => isCudaFile(a.path));
    if (files.length && !c.diagnostics.some((d) => d.severity === 'error')) return { artifacts: files };
    reasons.push(...c.diagnostics.filter((d) => d.severity === 'error').map((d) => d.message));
  } catch (e) {
    reasons.push(`the CUDA backend failed: ${(e as Error).message}`);
  }
  return { artifacts: [], missing: reasons[0] ?? 'the CUDA backend produced no files for this spec' };
}

/** Why `dir` cannot take the package: it must be new, empty, or a package an earlier `attnc pack` wrote. */
function checkOutDir(dir: string): string | undefined {
  if (!existsSync(dir)) return undefined;
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return `--out '${dir}' is not a folder`;
  }
  if (!entries.length) return undefined;
  const pj = join(dir, 'package.json');
  let ours = false;
  try {
    ours = existsSync(pj) && typeof (JSON.parse(readFileSync(pj, 'utf8')) as { attnc?: unknown }).attnc === 'object';
  } catch {
    ours = false;
  }
  if (!ours) return `--out '${dir}' is not empty and holds no package made by attnc pack; choose an empty or new folder`;
  return undefined;
}
