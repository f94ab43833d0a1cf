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
import { inputBuf, paramBuf } from '../passes/buffers.ts';
import type { Program } from './types.ts';
import { evalSize, sequenceOffsets, tokenInfo, uniformParams, type RunDims } from './host-contract.ts';

export interface HostRun {
  shape: RunShape;
  params: Record<string, number>;
  buffers: Record<string, Float64Array>;
}

/** The run dims of validated inputs, in the host contract's terms. */
export function runDims(shape: RunShape, hasInit: boolean, storeFinal: boolean, cuSeqlens?: number[]): RunDims {
  return { B: shape.B, T: shape.T, H: shape.H, heads: shape.heads, ...(cuSeqlens ? { cuSeqlens } : {}), hasInitialState: hasInit, storeFinalState: storeFinal };
}

export function prepareHostRun(ir: AttentionIR, program: Program, run: RunInputs, storeFinal: boolean): { host?: HostRun; diagnostics: Diagnostic[] } {
  const v = validateInputs(ir, run);
  if (!v.shape) return { diagnostics: v.diagnostics };
  const shape = v.shape;
  const dims = runDims(shape, run.initialState !== undefined, storeFinal, run.cuSeqlens);
  const params = uniformParams(dims, ir.inputs.filter((i) => i.type === 'real').map((i) => i.name));
  const buffers: Record<string, Float64Array> = {};
  for (const bd of program.buffers) {
    const n = evalSize(bd.elems, params);
    buffers[bd.name] = new Float64Array(n);
  }
  for (const i of ir.inputs) if (buffers[inputBuf(i.name)]) buffers[inputBuf(i.name)]!.set(run.tensors[i.name]!.data);
  for (const p of ir.params) if (buffers[paramBuf(p.name)]) buffers[paramBuf(p.name)]!.set(run.tensors[p.name]!.data);
  if (buffers['cu']) buffers['cu'].set(sequenceOffsets(dims));
  if (buffers['tokinfo']) buffers['tokinfo'].set(tokenInfo(dims));
  if (run.initialState) {
    if (buffers['initial_state']) buffers['initial_state'].set(run.initialState.S.data);
    if (buffers['initial_z'] && run.initialState.z) buffers['initial_z'].set(run.initialState.z.data);
    if (buffers['initial_m'] && run.initialState.m) buffers['initial_m'].set(run.initialState.m.data);
  }
  return { host: { shape, params, buffers }, diagnostics: v.diagnostics };
}

export function readOutputs(ir: AttentionIR, h: HostRun, wantState: boolean): { output: Tensor; finalState?: StateTensors } {
  const { B, T, H, N } = h.shape;
  const output = tensor([B, T, H, ir.valueDim], h.buffers['out']!);
  if (!wantState || ir.family !== 'recurrent') return { output };
  const s = stateShapes(ir, N, H);
  const finalState: StateTensors = { S: tensor(s.S, h.buffers['final_state']!) };
  if (s.z) finalState.z = tensor(s.z, h.buffers['final_z']!);
  if (s.m) finalState.m = tensor(s.m, h.buffers['final_m']!);
  return { output, finalState };
}
