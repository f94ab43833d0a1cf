/**
 * Reference data for the CUDA equivalence check (bench/gpu/check.py, on a GPU machine): for every
 * stdlib spec at its declared dims, random inputs and the float64 reference outputs of the
 * interpreter, as NumPy .npz archives, plus the compiled CUDA artefacts for each storage type.
 *
 *   node --import tsx bench/gpu/export_reference.ts [--out DIR] [--specs a,b] [--dtypes bf16,f16,f32]
 *        [--profile cuda-sm90] [--form recurrent] [--B 2] [--T 100] [--H 4] [--seed 7]
 *
 * DIR/index.json       what was exported (specs, cases, dtypes, tolerances, profile)
 * DIR/SPEC/CASE.npz    inputs by name (float32 [B, T, heads, …]; int32 [B, T] for int inputs),
 *                      parameters (float32), cu_seqlens (int32), initial_state[_z|_m] (float32),
 *                      ref_o (float64 [B, T, H, V']), ref_final_state[_z|_m] (float64)
 * DIR/SPEC/DTYPE/      SPEC.cu, SPEC.h, SPEC.manifest.json, SPEC_torch.py (attnc compile --target cuda)
 *
 * --form compiles that form (`recurrent`: the decode kernels) of the specs that have it and skips
 * the others; by default each spec's own choice (the chunk form where it exists).
 *
 * Cases: `plain` (B × T, the final state without an initial one), `gqa_state` (fewer heads for
 * two inputs, an initial and a final state), `varlen` (B = 1, cu_seqlens with an empty and a
 * one-token sequence, an initial and a final state). T = 100 is ragged against every chunk size.
 * Where the profile has shape plans (plans the launchers take for few chains, N·H), `gqa_state`
 * has enough sequences (B) to exceed every plan's bound, so it runs the default plan while `plain`
 * and `varlen` run the shape plan.
 * Real inputs are rounded to values that bf16 and f16 hold exactly (8 significant bits, |x| ≥
 * 2^-14 or 0), parameters and states to float32: every storage type sees the same numbers, and the
 * reference is computed from exactly those numbers.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { compileCuda } from '../../backends/cuda/index.ts';
import { renderDiagnostics } from '../../compiler/diagnostics/render.ts';
import type { AttentionIR } from '../../compiler/ir/attention-ir.ts';
import { PROFILES } from '../../compiler/targets/profiles.ts';
import type { RunInputs } from '../../compiler/interp/inputs.ts';
import { interpret } from '../../compiler/interp/interpret.ts';
import { randomInputs } from '../../compiler/interp/random.ts';
import type { Tensor } from '../../compiler/interp/tensor.ts';
import type { Dtype } from '../../compiler/kernel-ir/types.ts';
import { lowerSource } from '../../compiler/pipeline.ts';

type NpyArray = { dtype: '<f4' | '<f8' | '<i4'; shape: number[]; data: ArrayLike<number> };

/** One .npy file (format 1.0, little-endian, C order). */
export function npy(a: NpyArray): Uint8Array {
  const shape = a.shape.length === 1 ? `(${a.shape[0]},)` : `(${a.shape.join(', ')})`;
  let header = `{'descr': '${a.dtype}', 'fortran_order': False, 'shape': ${shape}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const size = a.dtype === '<f8' ? 8 : 4;
  const n = a.shape.reduce((x, y) => x * y, 1);
  if (a.data.length !== n) throw new Error(`npy: ${a.data.length} values for shape ${shape}`);
  const out = new Uint8Array(10 + header.length + n * size);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  const body = a.dtype === '<f8' ? new Float64Array(n) : a.dtype === '<f4' ? new Float32Array(n) : new Int32Array(n);
  for (let i = 0; i < n; i++) body[i] = a.data[i]!;
  out.set(new Uint8Array(body.buffer), 10 + header.length);
  return out;
}

export function npz(arrays: Record<string, NpyArray>): Uint8Array {
  return zipSync(Object.fromEntries(Object.entries(arrays).map(([k, v]) => [`${k}.npy`, [npy(v), { level: 6 }]])));
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Round to the nearest value that bf16 and f16 both hold exactly. */
export function roundHalfExact(x: number): number {
  f32[0] = x;
  const bits = u32[0]!;
  const rounded = (bits + 0x7fff + ((bits >>> 16) & 1)) & 0xffff0000;
  u32[0] = rounded >>> 0;
  const y = f32[0]!;
  if (Math.abs(y) < 2 ** -14) return 0;
  return Math.max(-65504, Math.min(65504, y));
}

const roundTensor = (t: Tensor, fn: (x: number) => number): Tensor => ({ ...t, data: Float64Array.from(t.data, fn) });

/** The run with inputs every storage type holds exactly, parameters and states in float32. */
function exactInputs(ir: AttentionIR, run: RunInputs): RunInputs {
  const tensors: Record<string, Tensor> = {};
  for (const [name, t] of Object.entries(run.tensors)) {
    const inp = ir.inputs.find((i) => i.name === name);
    tensors[name] = inp?.type === 'real' ? roundTensor(t, roundHalfExact) : inp ? t : roundTensor(t, Math.fround);
  }
  const out: RunInputs = { tensors };
  if (run.cuSeqlens) out.cuSeqlens = run.cuSeqlens;
  if (run.initialState) {
    const s = run.initialState;
    out.initialState = { S: roundTensor(s.S, Math.fround), ...(s.z ? { z: roundTensor(s.z, Math.fround) } : {}), ...(s.m ? { m: roundTensor(s.m, Math.fround) } : {}) };
  }
  return out;
}

interface CaseSpec {
  name: string;
  B: number;
  T: number;
  heads?: Record<string, number>;
  cuSeqlens?: number[];
  initialState: boolean;
  note: string;
}

function cases(ir: AttentionIR, B: number, T: number, H: number, manyB?: number): CaseSpec[] {
  const recurrent = ir.family === 'recurrent';
  const names = new Set(ir.inputs.filter((i) => i.type === 'real').map((i) => i.name));
  // GQA for softmax (fewer key/value heads), GVA for the recurrent family (fewer query/key heads).
  const fewer = (recurrent ? ['q', 'k'] : ['k', 'v']).filter((n) => names.has(n));
  const heads = H % 2 === 0 && fewer.length ? Object.fromEntries(fewer.map((n) => [n, H / 2])) : undefined;
  // Four sequences, 2T tokens: one of 0.37·T, an empty one, a single token, and the rest.
  const first = Math.round(T * 0.37);
  const lens = [first, 0, 1, 2 * T - first - 1];
  const cu = [0];
  for (const l of lens) cu.push(cu[cu.length - 1]! + l);
  // More sequences than a shape plan takes (manyB·H chains): the first two lengths again, then the rest split.
  const many = manyB ? [...lens.slice(0, 2), ...Array.from({ length: manyB - 2 }, (_, i) => Math.floor((2 * T - first) / (manyB - 2)) + (i === 0 ? (2 * T - first) % (manyB - 2) : 0))] : [];
  const cuMany = [0];
  for (const l of many) cuMany.push(cuMany[cuMany.length - 1]! + l);
  return [
    { name: 'plain', B, T, initialState: false, note: `B=${B}, T=${T}, H=${H}${recurrent ? ', final state from a zero state' : ''}` },
    { name: 'gqa_state', B: manyB ?? B, T, ...(heads ? { heads } : {}), initialState: recurrent, note: `B=${manyB ?? B}, T=${T}, H=${H}${heads ? `, ${Object.keys(heads).join('/')} with ${H / 2} heads` : ''}${recurrent ? ', initial and final state' : ''}` },
    { name: 'varlen', B: 1, T: cu[cu.length - 1]!, cuSeqlens: cu, initialState: recurrent, note: `cu_seqlens ${JSON.stringify(cu)}, H=${H}${recurrent ? ', initial and final state' : ''}` },
    ...(manyB ? [{ name: 'varlen_many', B: 1, T: cuMany[cuMany.length - 1]!, cuSeqlens: cuMany, initialState: recurrent, note: `cu_seqlens ${JSON.stringify(cuMany)}, H=${H}${recurrent ? ', initial and final state' : ''}` }] : []),
  ];
}

function arg(argv: string[], name: string, dflt: string): string {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] ? argv[i + 1]! : dflt;
}

export function main(argv: string[]): number {
  const out = arg(argv, 'out', 'bench/gpu/out');
  const profile = arg(argv, 'profile', 'cuda-sm90');
  const dtypes = arg(argv, 'dtypes', 'bf16,f16,f32').split(',') as Dtype[];
  const B = Number(arg(argv, 'B', '2'));
  const T = Number(arg(argv, 'T', '100'));
  const H = Number(arg(argv, 'H', '4'));
  const seed = Number(arg(argv, 'seed', '7'));
  // gqa_state's batch: more chains (B·H) than any shape plan of the profile takes.
  const maxChains = Math.max(0, ...(PROFILES[profile]?.shapePlans ?? []).map((s) => s.maxChains));
  const manyB = Math.max(B, Math.floor(maxChains / H) + 1);
  const stdlib = arg(argv, 'stdlib', 'stdlib');
  const only = arg(argv, 'specs', '').split(',').filter(Boolean);
  const form = arg(argv, 'form', '') as AttentionIR['forms'][number] | '';
  const files = readdirSync(stdlib).filter((f) => f.endsWith('.attn')).sort().filter((f) => !only.length || only.includes(f.replace(/\.attn$/, '')));
  mkdirSync(out, { recursive: true });
  const index: { profile: string; dtypes: string[]; tolerance: Record<string, number>; specs: { name: string; family: string; normalizer: string; cases: { name: string; file: string; note: string; cuSeqlens: boolean; initialState: boolean; finalState: boolean }[] }[] } = {
    profile,
    dtypes,
    tolerance: { bf16: 5e-3, f16: 5e-3, f32: 1e-4 },
    specs: [],
  };
  let failed = 0;
  for (const f of files) {
    const name = f.replace(/\.attn$/, '');
    const text = readFileSync(join(stdlib, f), 'utf8');
    const l = lowerSource(text, f, {});
    if (!l.ok) {
      process.stderr.write(`${name}: ${renderDiagnostics(l.diagnostics)}\n`);
      failed++;
      continue;
    }
    const ir = l.irs[0]!;
    if (form && !ir.forms.includes(form)) continue;
    const dir = join(out, name);
    const compiled = dtypes.map((dtype) => compileCuda(ir, { profile, dtype, source: f, ...(form ? { form } : {}) }));
    // A form that the interpreter has but the kernels do not (softmax step by step): not exported.
    if (form && compiled.every((r) => !r.files.length && r.diagnostics.some((d) => d.code === 'ATTN4002'))) {
      process.stderr.write(`${name}: no '${form}' kernels: skipped\n`);
      continue;
    }
    mkdirSync(dir, { recursive: true });
    for (const [i, dtype] of dtypes.entries()) {
      const r = compiled[i]!;
      if (!r.files.length) {
        process.stderr.write(`${name} (${dtype}): ${renderDiagnostics(r.diagnostics)}\n`);
        failed++;
        continue;
      }
      mkdirSync(join(dir, dtype), { recursive: true });
      for (const file of r.files) writeFileSync(join(dir, dtype, file.path), file.contents);
    }
    const entry = { name, family: ir.family, normalizer: ir.normalizer, cases: [] as (typeof index.specs)[number]['cases'] };
    const t0 = performance.now();
    // Specs with shape plans: gqa_state and varlen_many run the default plan (more chains than any
    // shape plan takes), plain and varlen the shape plan.
    const shaped = compiled.some((r) => (r.shapePlans ?? []).length > 0);
    cases(ir, B, T, H, shaped ? manyB : undefined).forEach((c, ci) => {
      const raw = randomInputs(ir, { B: c.B, T: c.T, H, seed: seed * 100 + ci, initialState: c.initialState, ...(c.heads ? { heads: c.heads } : {}), ...(c.cuSeqlens ? { cuSeqlens: c.cuSeqlens } : {}) });
      const run = exactInputs(ir, raw);
      const form = ir.forms.includes('recurrent') ? 'recurrent' : ir.forms[0]!;
      const ref = interpret(ir, run, { form, outputFinalState: true });
      if (!ref.output) throw new Error(`${name} ${c.name}: ${renderDiagnostics(ref.diagnostics)}`);
      const arrays: Record<string, NpyArray> = {};
      for (const [tn, t] of Object.entries(run.tensors)) {
        const inp = ir.inputs.find((i) => i.name === tn);
        arrays[tn] = { dtype: inp?.type === 'int' ? '<i4' : '<f4', shape: t.shape, data: t.data };
      }
      if (run.cuSeqlens) arrays['cu_seqlens'] = { dtype: '<i4', shape: [run.cuSeqlens.length], data: run.cuSeqlens };
      const s0 = run.initialState;
      if (s0) {
        arrays['initial_state'] = { dtype: '<f4', shape: s0.S.shape, data: s0.S.data };
        if (s0.z) arrays['initial_state_z'] = { dtype: '<f4', shape: s0.z.shape, data: s0.z.data };
        if (s0.m) arrays['initial_state_m'] = { dtype: '<f4', shape: s0.m.shape, data: s0.m.data };
      }
      arrays['ref_o'] = { dtype: '<f8', shape: ref.output.shape, data: ref.output.data };
      const fs = ref.finalState;
      if (fs) {
        arrays['ref_final_state'] = { dtype: '<f8', shape: fs.S.shape, data: fs.S.data };
        if (fs.z) arrays['ref_final_state_z'] = { dtype: '<f8', shape: fs.z.shape, data: fs.z.data };
        if (fs.m) arrays['ref_final_state_m'] = { dtype: '<f8', shape: fs.m.shape, data: fs.m.data };
      }
      const file = `${c.name}.npz`;
      writeFileSync(join(dir, file), npz(arrays));
      entry.cases.push({ name: c.name, file: `${name}/${file}`, note: c.note, cuSeqlens: !!c.cuSeqlens, initialState: !!s0, finalState: !!fs });
    });
    index.specs.push(entry);
    process.stderr.write(`${name}: ${entry.cases.length} cases, ${dtypes.length} builds (${((performance.now() - t0) / 1000).toFixed(1)} s)\n`);
  }
  writeFileSync(join(out, 'index.json'), JSON.stringify(index, null, 2) + '\n');
  process.stderr.write(`wrote ${join(out, 'index.json')}${failed ? ` (${failed} failures)` : ''}\n`);
  return failed ? 1 : 0;
}

if (process.argv[1] && /export_reference\.(ts|mjs|js)$/.test(process.argv[1])) process.exitCode = main(process.argv.slice(2));
