/**
 * The float64 reference interpreter: runs the attention IR in any of its forms on [B, T, H, D]
 * inputs, with initial/final state, cu_seqlens and GQA/GVA head mapping. It is the oracle every
 * kernel is tested against; it is written for clarity, not speed.
 */
import type { AttentionIR, Form } from '../ir/attention-ir.ts';
import { diag, type Diagnostic } from '../diagnostics/diagnostic.ts';
import { NO_SPAN } from '../diagnostics/source.ts';
import { chunkForward } from './chunk.ts';
import { stateShapes, validateInputs, type RunInputs, type RunShape, type StateTensors } from './inputs.ts';
import { parallelForward } from './parallel.ts';
import { applyEpilogue, compileIR, prepare, TokenReader } from './prepare.ts';
import { bidirectionalForward, equationStates, recurrentEquations, recurrentForward } from './recurrent.ts';
import { pairEvaluator, softmaxParallel, softmaxRecurrent, softmaxTiled, type TileStats } from './softmax.ts';
import { loadState, storeState } from './state.ts';
import { tensor, type Tensor } from './tensor.ts';

export interface InterpretOptions {
  form?: Form;
  /** Chunk size of the chunk form (recurrent family); default: the spec's, else 64. */
  chunkSize?: number;
  /** Tile sizes of the chunk (tiled) form of softmax specs; default: the spec's, else 64 × 64. */
  tiles?: [number, number];
  outputFinalState?: boolean;
}

export interface InterpretResult {
  /** [B, T, H, V'] */
  output?: Tensor;
  finalState?: StateTensors;
  shape?: RunShape;
  /** Tiles visited and skipped by the tiled softmax form. */
  tiles?: TileStats;
  diagnostics: Diagnostic[];
}

export function defaultForm(ir: AttentionIR): Form {
  return ir.forms.includes('chunk') ? 'chunk' : ir.forms[0]!;
}

export function interpret(ir: AttentionIR, run: RunInputs, opts: InterpretOptions = {}): InterpretResult {
  const form = opts.form ?? defaultForm(ir);
  if (!ir.forms.includes(form)) {
    return { diagnostics: [diag('FormUnavailable', NO_SPAN, [form, ir.name, ir.unavailable[form] ?? 'not implemented'])] };
  }
  const v = validateInputs(ir, run);
  if (!v.shape) return { diagnostics: v.diagnostics };
  const shape = v.shape;
  const { B, T, H, N } = shape;
  const V = ir.valueDim;
  const output = tensor([B, T, H, V]);
  const wantState = (opts.outputFinalState ?? false) && ir.family === 'recurrent' && ir.direction === 'causal';
  const shapes = stateShapes(ir, N, H);
  const finalState: StateTensors | undefined = wantState
    ? { S: tensor(shapes.S), ...(shapes.z ? { z: tensor(shapes.z) } : {}), ...(shapes.m ? { m: tensor(shapes.m) } : {}) }
    : undefined;
  const chunk = opts.chunkSize ?? (ir.chunk.kind === 'size' ? ir.chunk.size : 64);
  const tiles = opts.tiles ?? (ir.chunk.kind === 'tiles' ? [ir.chunk.q, ir.chunk.k] : [64, 64]);
  const stats: TileStats = { visited: 0, skipped: 0, full: 0 };
  const cir = compileIR(ir);

  shape.sequences.forEach((seq, n) => {
    for (let h = 0; h < H; h++) {
      const reader = new TokenReader(ir, run, shape, { n, ...seq }, h);
      const p = prepare(cir, reader);
      let rows: Float64Array[];
      if (ir.family === 'softmax') {
        const pe = pairEvaluator(ir, reader, p);
        rows = form === 'parallel' ? softmaxParallel(ir, p, pe) : form === 'recurrent' ? softmaxRecurrent(ir, p, pe) : softmaxTiled(ir, reader, p, pe, tiles[0], tiles[1], stats);
      } else if (ir.update!.cls === 'general-linear' || ir.update!.cls === 'vector-state') {
        rows = recurrentEquations(ir, reader, p, equationStates(ir));
      } else if (ir.direction === 'bidirectional') {
        rows = form === 'parallel' ? parallelForward(ir, p, loadState(ir, undefined, n, h, H)) : bidirectionalForward(ir, p);
      } else {
        const st = loadState(ir, run.initialState, n, h, H);
        rows = form === 'recurrent' ? recurrentForward(ir, p, st) : form === 'chunk' ? chunkForward(ir, p, st, chunk) : parallelForward(ir, p, st);
        if (finalState) storeState(ir, finalState, st, n, h, H);
      }
      for (let t = 0; t < p.T; t++) {
        const o = applyEpilogue(cir, reader, t, rows[t]!);
        output.data.set(o, ((seq.b * T + seq.start + t) * H + h) * V);
      }
    }
  });
  const result: InterpretResult = { output, shape, diagnostics: v.diagnostics };
  if (finalState) result.finalState = finalState;
  if (ir.family === 'softmax' && form === 'chunk') result.tiles = stats;
  return result;
}
