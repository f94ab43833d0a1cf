/**
 * The host side of a program, in one place: from run inputs to the flat buffers and uniform
 * params the kernels expect (buffers.ts describes the layout), and back from the output buffers to
 * tensors. The kernel-IR interpreter uses it directly; the generated TypeScript bindings implement
 * the same contract on GPU buffers.
 */
import type { AttentionIR } from '../ir/attention-ir.ts';
import { stateShapes, validateInputs, type RunInputs, type RunShape, type StateTensors } from '../interp/inputs.ts';
import { tensor, type Tensor } from '../interp/tensor.ts';
import type { Diagnostic } from '../diagnostics/diagnostic.ts';
import { headsParam, inputBuf, paramBuf } from '../passes/buffers.ts';
import type { Program, SExpr } from './types.ts';
import { binaryOps, unaryOps } from '../interp/eval.ts';

export interface HostRun {
  shape: RunShape;
  params: Record<string, number>;
  buffers: Record<string, Float64Array>;
}

/** Evaluate a size expression over the params (no tiles, buffers or workgroup ids). */
export function evalSize(e: SExpr, params: Record<string, number>): number {
  switch (e.k) {
    case 'const':
      return e.v;
    case 'var': {
      const v = params[e.name];
      if (v === undefined) throw new Error(`internal: size uses unknown param ${e.name}`);
      return v;
    }
    case 'un':
      return e.fn === 'int' ? Math.trunc(evalSize(e.a, params)) : e.fn === 'float' ? evalSize(e.a, params) : (unaryOps as Record<string, (x: number) => number>)[e.fn]!(evalSize(e.a, params));
    case 'bin': {
      const a = evalSize(e.a, params);
      const b = evalSize(e.b, params);
      if (e.fn === 'idiv') return Math.trunc(a / b);
      if (e.fn === 'mod') return a % b;
      return (binaryOps as Record<string, (a: number, b: number) => number>)[e.fn]!(a, b);
    }
    case 'sel':
      return evalSize(e.c, params) ? evalSize(e.a, params) : evalSize(e.b, params);
    default:
      throw new Error(`internal: ${e.k} in a size expression`);
  }
}

export function hostParams(ir: AttentionIR, shape: RunShape, hasInit: boolean, storeFinal: boolean): Record<string, number> {
  const params: Record<string, number> = {
    B: shape.B,
    T: shape.T,
    H: shape.H,
    N: shape.N,
    NT: shape.B * shape.T,
    MAXLEN: Math.max(0, ...shape.sequences.map((s) => s.length)),
    HAS_INIT: hasInit ? 1 : 0,
    STORE_FINAL: storeFinal ? 1 : 0,
  };
  for (const i of ir.inputs) if (i.type === 'real') params[headsParam(i.name)] = shape.heads[i.name] ?? shape.H;
  return params;
}

/** Sequence offsets in the flattened token axis: [0, T, 2T, …] or the given cu_seqlens. */
export function cuOffsets(shape: RunShape): number[] {
  const cu = shape.sequences.map((s) => s.b * shape.T + s.start);
  cu.push(shape.B * shape.T);
  return cu;
}

export function tokinfo(shape: RunShape): Float64Array {
  const out = new Float64Array(shape.B * shape.T * 2);
  for (const s of shape.sequences) {
    for (let t = 0; t < s.length; t++) {
      const tok = s.b * shape.T + s.start + t;
      out[2 * tok] = t;
      out[2 * tok + 1] = s.length;
    }
  }
  return out;
}

export function prepareHostRun(ir: AttentionIR, program: Program, run: RunInputs, storeFinal: boolean): { host?: HostRun; diagnostics: Diagnostic[] } {
  const v = validateInputs(ir, run);
  if (!v.shape) return { diagnostics: v.diagnostics };
  const shape = v.shape;
  const params = hostParams(ir, shape, run.initialState !== undefined, storeFinal);
  const buffers: Record<string, Float64Array> = {};
  for (const bd of program.buffers) {
    const n = evalSize(bd.elems, params);
    buffers[bd.name] = new Float64Array(n);
  }
  for (const i of ir.inputs) if (buffers[inputBuf(i.name)]) buffers[inputBuf(i.name)]!.set(run.tensors[i.name]!.data);
  for (const p of ir.params) if (buffers[paramBuf(p.name)]) buffers[paramBuf(p.name)]!.set(run.tensors[p.name]!.data);
  if (buffers['cu']) buffers['cu'].set(cuOffsets(shape));
  if (buffers['tokinfo']) buffers['tokinfo'].set(tokinfo(shape));
  if (run.initialState) {
    if (buffers['state']) buffers['state'].set(run.initialState.S.data);
    if (buffers['state_z'] && run.initialState.z) buffers['state_z'].set(run.initialState.z.data);
    if (buffers['state_m'] && run.initialState.m) buffers['state_m'].set(run.initialState.m.data);
  }
  return { host: { shape, params, buffers }, diagnostics: v.diagnostics };
}

export function readOutputs(ir: AttentionIR, h: HostRun, wantState: boolean): { output: Tensor; finalState?: StateTensors } {
  const { B, T, H, N } = h.shape;
  const output = tensor([B, T, H, ir.valueDim], h.buffers['out']!);
  if (!wantState || ir.family !== 'recurrent') return { output };
  const s = stateShapes(ir, N, H);
  const finalState: StateTensors = { S: tensor(s.S, h.buffers['state']!) };
  if (s.z) finalState.z = tensor(s.z, h.buffers['state_z']!);
  if (s.m) finalState.m = tensor(s.m, h.buffers['state_m']!);
  return { output, finalState };
}
