/**
 * `attnc run FILE`: run a spec on random or given inputs with the float64 reference interpreter
 * (or a GPU backend), print output statistics and time, and with --compare the errors between forms.
 */
import { readFileSync } from 'node:fs';
import type { AttentionIR, Form } from '../../compiler/ir/attention-ir.ts';
import { interpret, defaultForm, type InterpretResult } from '../../compiler/interp/interpret.ts';
import { type RunInputs } from '../../compiler/interp/inputs.ts';
import { randomInputs } from '../../compiler/interp/random.ts';
import { compareTensors, type Tensor } from '../../compiler/interp/tensor.ts';
import { parseNpz, parseTensorJson, toRunInputs } from '../../compiler/interp/tensor-io.ts';
import { diagnosticsJson, EXIT, printDiagnostics, printJson } from '../output.ts';
import { badChoice, FORMS, parseAssignments, parseChunk, parseDims, parseTiles, WEBGPU_DTYPES, WEBGPU_PROFILES } from '../options.ts';
import { loadIR, printWarnings } from '../load-ir.ts';
import type { WebGpuRunOptions } from './run-webgpu.ts';

export interface RunCmdOptions {
  backend?: string;
  form?: string;
  shape?: string;
  heads?: string;
  dims?: string;
  seed?: string;
  chunk?: string;
  tiles?: string;
  inputs?: string;
  cuSeqlens?: string;
  initialState?: boolean;
  compare?: boolean;
  check?: boolean;
  spec?: string;
  json?: boolean;
  dtype?: string;
  profile?: string;
}

function usage(msg: string): number {
  process.stderr.write(`attnc: ${msg}\n`);
  return EXIT.usage;
}

export function stats(t: Tensor) {
  let sum = 0;
  let sq = 0;
  let min = Infinity;
  let max = -Infinity;
  let nonFinite = 0;
  for (const x of t.data) {
    if (!Number.isFinite(x)) {
      nonFinite++;
      continue;
    }
    sum += x;
    sq += x * x;
    min = Math.min(min, x);
    max = Math.max(max, x);
  }
  const n = t.data.length - nonFinite;
  const mean = n ? sum / n : 0;
  return { shape: t.shape, mean, std: n ? Math.sqrt(Math.max(0, sq / n - mean * mean)) : 0, min, max, nonFinite };
}

export async function runCommand(file: string, opts: RunCmdOptions): Promise<number> {
  const backend = opts.backend ?? 'reference';
  if (backend !== 'reference' && backend !== 'webgpu') return usage(`unknown backend '${backend}' (reference, webgpu)`);
  const dims = parseDims(opts.dims);
  if (typeof dims === 'string') return usage(dims);
  const shape = parseAssignments(opts.shape ?? 'B=2,T=128,H=4', '--shape');
  if (typeof shape === 'string') return usage(shape);
  for (const k of Object.keys(shape)) if (!['B', 'T', 'H'].includes(k)) return usage(`--shape takes B, T and H, found '${k}'`);
  const heads = opts.heads ? parseAssignments(opts.heads, '--heads') : {};
  if (typeof heads === 'string') return usage(heads);
  const seed = Number(opts.seed ?? 0);
  if (!(Number.isInteger(seed) && seed >= 0)) return usage(`--seed takes a non-negative integer, found '${opts.seed}'`);
  const chunk = parseChunk(opts.chunk);
  if (typeof chunk === 'string') return usage(chunk);
  const tiles = parseTiles(opts.tiles);
  if (typeof tiles === 'string') return usage(tiles);
  if (tiles && backend !== 'webgpu') return usage('--tiles is for --backend webgpu (the reference interpreter has no tiles)');
  // The same value lists as compile's (bin/options.ts); --dtype and --profile are WebGPU's.
  const bad = badChoice('--form', opts.form, FORMS) ?? badChoice('--dtype', opts.dtype, WEBGPU_DTYPES, ' (the storage type on webgpu)') ?? badChoice('--profile', opts.profile, WEBGPU_PROFILES, ' (a WebGPU profile)');
  if (bad) return usage(bad);
  const form = opts.form as Form | undefined;
  const cu = opts.cuSeqlens ? opts.cuSeqlens.split(',').map((x) => Number(x.trim())) : undefined;

  const l = loadIR(file, { ...(dims ? { dims } : {}), ...(opts.spec ? { spec: opts.spec } : {}) });
  if (l.usage) return usage(l.usage);
  if (!l.ir) {
    if (opts.json) printJson({ ok: false, diagnostics: diagnosticsJson(l.diagnostics) });
    else printDiagnostics(l.diagnostics);
    return EXIT.diagnostics;
  }
  const ir = l.ir;
  if (!opts.json) printWarnings(l.diagnostics);

  let run: RunInputs;
  if (opts.inputs) {
    try {
      const bytes = readFileSync(opts.inputs);
      run = toRunInputs(opts.inputs.endsWith('.npz') ? parseNpz(new Uint8Array(bytes)) : parseTensorJson(bytes.toString('utf8')));
    } catch (e) {
      return usage(`cannot read inputs '${opts.inputs}': ${(e as Error).message}`);
    }
    if (cu) run.cuSeqlens = cu;
  } else {
    const B = cu ? 1 : (shape['B'] ?? 2);
    const T = cu ? cu[cu.length - 1]! : (shape['T'] ?? 128);
    run = randomInputs(ir, { B, T, H: shape['H'] ?? 4, heads, seed, ...(cu ? { cuSeqlens: cu } : {}), initialState: opts.initialState ?? false });
  }

  if (backend === 'webgpu') {
    const { runWebGpuCommand } = await import('./run-webgpu.ts');
    return runWebGpuCommand(ir, run, { ...opts, ...(chunk ? { chunkSize: chunk } : {}), tiles } as WebGpuRunOptions);
  }

  const chosen = form ?? defaultForm(ir);
  const t0 = performance.now();
  const res = interpret(ir, run, { form: chosen, ...(chunk ? { chunkSize: chunk } : {}), outputFinalState: ir.family === 'recurrent' && ir.direction === 'causal' });
  const ms = performance.now() - t0;
  if (!res.output) {
    if (opts.json) printJson({ ok: false, diagnostics: diagnosticsJson(res.diagnostics) });
    else printDiagnostics(res.diagnostics);
    return EXIT.diagnostics;
  }
  const comparisons = opts.compare ? compareForms(ir, run, res, chosen, chunk) : [];
  const st = stats(res.output);
  const ok = st.nonFinite === 0 && comparisons.every((c) => c.relErr <= 1e-9);
  if (opts.json) {
    printJson({ ok, spec: ir.name, backend, form: chosen, shape: res.shape && { B: res.shape.B, T: res.shape.T, H: res.shape.H, N: res.shape.N }, output: st, ms, tiles: res.tiles ?? null, comparisons });
  } else {
    const out = process.stdout;
    out.write(`${ir.name}: ${backend} backend, ${chosen} form, B=${res.shape!.B} T=${res.shape!.T} H=${res.shape!.H}${cu ? ` (${res.shape!.N} packed sequences)` : ''}\n`);
    out.write(`  output ${JSON.stringify(st.shape)}: mean ${st.mean.toExponential(3)}, std ${st.std.toExponential(3)}, min ${st.min.toExponential(3)}, max ${st.max.toExponential(3)}${st.nonFinite ? `, ${st.nonFinite} NON-FINITE` : ''}\n`);
    out.write(`  time ${ms.toFixed(1)} ms (float64 reference interpreter)\n`);
    if (res.tiles) out.write(`  tiles: ${res.tiles.visited} visited (${res.tiles.full} unmasked), ${res.tiles.skipped} skipped by the mask\n`);
    for (const c of comparisons) out.write(`  ${c.form.padEnd(9)} vs ${c.against}: rel. error ${c.relErr.toExponential(2)}, max abs ${c.maxAbs.toExponential(2)}${c.finalStateRelErr !== undefined ? `, final state rel. error ${c.finalStateRelErr.toExponential(2)}` : ''}\n`);
  }
  return ok ? EXIT.ok : EXIT.diagnostics;
}

interface Comparison {
  form: Form;
  against: Form;
  relErr: number;
  maxAbs: number;
  finalStateRelErr?: number;
}

function compareForms(ir: AttentionIR, run: RunInputs, res: InterpretResult, chosen: Form, chunk: number | undefined): Comparison[] {
  const ref: Form = 'recurrent';
  const base = chosen === ref ? res : interpret(ir, run, { form: ref, outputFinalState: true });
  const out: Comparison[] = [];
  for (const f of ir.forms) {
    if (f === ref) continue;
    const r = f === chosen ? res : interpret(ir, run, { form: f, ...(chunk ? { chunkSize: chunk } : {}), outputFinalState: true });
    if (!r.output || !base.output) continue;
    const c = compareTensors(r.output.data, base.output.data);
    const cmp: Comparison = { form: f, against: ref, relErr: c.relErr, maxAbs: c.maxAbs };
    if (r.finalState && base.finalState) cmp.finalStateRelErr = compareTensors(r.finalState.S.data, base.finalState.S.data).relErr;
    out.push(cmp);
  }
  return out;
}
