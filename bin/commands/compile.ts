/** `attnc compile FILE --target wgsl,ts,cuda --out DIR`: write the generated artefacts. */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { compileIR, planNotes, type TargetKind } from '../../compiler/compile.ts';
import type { Dtype } from '../../compiler/kernel-ir/types.ts';
import type { KernelForm } from '../../compiler/passes/plan.ts';
import { diagnosticsJson, EXIT, printDiagnostics, printJson } from '../output.ts';
import { badChoice, DTYPES, FORMS, orList, parseChunk, parseDims, parseProfiles, parseTiles, resolveProfiles, TARGETS, WEBGPU_PROFILES } from '../options.ts';
import { loadIR, printWarnings } from '../load-ir.ts';
import { runtimeFiles } from '../paths.ts';

export interface CompileCmdOptions {
  target?: string;
  out?: string;
  /** Repeated and/or comma-separated; WebGPU and CUDA profiles, one of each kind. */
  profile?: string | string[];
  /** An alias for a CUDA profile in --profile. */
  cudaProfile?: string;
  dtype?: string;
  chunk?: string;
  /** `BV=32,BK=64`: tiles instead of the planner's choice. */
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

export async function compileCommand(file: string, o: CompileCmdOptions): Promise<number> {
  const targets = (o.target ?? 'wgsl,ts').split(',').map((t) => t.trim()) as TargetKind[];
  for (const t of targets) if (!TARGETS.includes(t)) return usage(`unknown target '${t}' (${TARGETS.join(', ')})`);
  const dims = parseDims(o.dims);
  if (typeof dims === 'string') return usage(dims);
  const badValue = badChoice('--dtype', o.dtype, DTYPES) ?? badChoice('--form', o.form, FORMS);
  if (badValue) return usage(badValue);
  const chunk = parseChunk(o.chunk);
  if (typeof chunk === 'string') return usage(chunk);
  const tiles = parseTiles(o.tiles);
  if (typeof tiles === 'string') return usage(tiles);
  // --profile names the WebGPU profile, the CUDA profile, or one of each; --cuda-profile is an alias.
  const choice = parseProfiles(o.profile, o.cudaProfile);
  if (typeof choice === 'string') return usage(choice);
  const wantsWgsl = targets.includes('wgsl') || targets.includes('ts');
  const profiles = resolveProfiles(
    choice,
    { wgsl: wantsWgsl, cuda: targets.includes('cuda') },
    {
      cuda: `--target ${targets.join(',')} has no cuda (add cuda to --target, or name a WebGPU profile: ${orList(WEBGPU_PROFILES)})`,
      wgsl: `--target ${targets.join(',')} has neither wgsl nor ts`,
    },
  );
  if (typeof profiles === 'string') return usage(profiles);
  const l = loadIR(file, { ...(dims ? { dims } : {}), ...(o.spec ? { spec: o.spec } : {}) });
  if (l.usage) return usage(l.usage);
  if (!l.ir) {
    if (o.json) printJson({ ok: false, diagnostics: diagnosticsJson(l.diagnostics) });
    else printDiagnostics(l.diagnostics);
    return EXIT.diagnostics;
  }
  if (!o.json) printWarnings(l.diagnostics);
  const ir = l.ir;
  const specText = readFileSync(file, 'utf8');
  // The same compileIR as the programmatic API's compile(): WGSL, TS bindings and CUDA sources.
  const res = compileIR(ir, {
    targets,
    webgpuProfile: profiles.wgsl,
    cudaProfile: profiles.cuda,
    ...(o.form ? { form: o.form as KernelForm } : {}),
    ...(o.dtype ? { dtype: o.dtype as Dtype } : {}),
    ...(chunk ? { chunk } : {}),
    ...(tiles ? { tiles } : {}),
    specText,
    source: basename(file),
  });
  const errors = res.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length) {
    if (o.json) printJson({ ok: false, diagnostics: diagnosticsJson(res.diagnostics) });
    else printDiagnostics(res.diagnostics);
    return EXIT.diagnostics;
  }
  if (targets.includes('ts')) {
    const rt = await runtimeFiles();
    res.artifacts.push({ path: `${ir.name}/attnc-runtime.js`, contents: rt.js }, { path: `${ir.name}/attnc-runtime.d.ts`, contents: rt.dts });
  }
  const outDir = o.out ?? 'out';
  for (const a of res.artifacts) {
    const p = join(outDir, a.path);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, a.contents);
  }
  const notes = planNotes(res.plans);
  // Warnings of lowering and planning (ATTN2023, ATTN3002, …) go into the JSON too.
  const warnings = [...l.diagnostics, ...res.diagnostics].filter((d) => d.severity !== 'error');
  if (o.json) printJson({ ok: true, spec: ir.name, files: res.artifacts.map((a) => join(outDir, a.path)), notes, diagnostics: diagnosticsJson(warnings) });
  else {
    for (const n of notes) process.stderr.write(`note: ${n}\n`);
    for (const a of res.artifacts) process.stdout.write(`${join(outDir, a.path)}\n`);
  }
  return EXIT.ok;
}
