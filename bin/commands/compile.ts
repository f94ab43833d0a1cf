/** `attnc compile FILE --target wgsl,ts,cuda --out DIR`: write the generated artefacts. */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { compileIR, type TargetKind } from '../../compiler/compile.ts';
import type { KernelForm } from '../../compiler/passes/plan.ts';
import { diagnosticsJson, EXIT, printDiagnostics, printJson } from '../output.ts';
import { parseDims } from '../options.ts';
import { loadIR, printWarnings } from '../load-ir.ts';
import { runtimeFiles } from '../paths.ts';
import { cudaArtifacts } from './compile-cuda.ts';

export interface CompileCmdOptions {
  target?: string;
  out?: string;
  profile?: string;
  cudaProfile?: string;
  dtype?: string;
  chunk?: string;
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
  for (const t of targets) if (!['wgsl', 'ts', 'cuda'].includes(t)) return usage(`unknown target '${t}' (wgsl, ts, cuda)`);
  const dims = parseDims(o.dims);
  if (typeof dims === 'string') return usage(dims);
  if (o.dtype && !['f32', 'f16', 'bf16'].includes(o.dtype)) return usage(`--dtype is f32, f16 or bf16, found '${o.dtype}'`);
  if (o.form && !['chunk', 'recurrent', 'parallel'].includes(o.form)) return usage(`--form is chunk, recurrent or parallel, found '${o.form}'`);
  const chunk = o.chunk ? Number(o.chunk) : undefined;
  if (chunk !== undefined && !(Number.isInteger(chunk) && chunk > 0)) return usage('--chunk takes a positive integer');
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
  const res = compileIR(ir, {
    targets: targets.filter((t) => t !== 'cuda'),
    ...(o.profile ? { webgpuProfile: o.profile } : {}),
    ...(o.form ? { form: o.form as KernelForm } : {}),
    ...(o.dtype ? { dtype: o.dtype as 'f32' } : {}),
    ...(chunk ? { chunk } : {}),
    specText,
    source: basename(file),
  });
  if (targets.includes('cuda')) {
    const c = cudaArtifacts(ir, { profile: o.cudaProfile ?? 'cuda-sm90', ...(o.form ? { form: o.form as KernelForm } : {}), ...(chunk ? { chunk } : {}), dtype: (o.dtype ?? 'bf16') as 'bf16', specText });
    res.artifacts.push(...c.artifacts);
    res.diagnostics.push(...c.diagnostics);
  }
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
  if (o.json) printJson({ ok: true, spec: ir.name, files: res.artifacts.map((a) => join(outDir, a.path)), notes: res.plans.flatMap((p) => p.notes) });
  else {
    for (const p of res.plans) for (const n of p.notes) process.stderr.write(`note: ${n}\n`);
    for (const a of res.artifacts) process.stdout.write(`${join(outDir, a.path)}\n`);
  }
  return EXIT.ok;
}
