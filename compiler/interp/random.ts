/** Random run inputs for tests, benchmarks and `attnc run`. */
import type { AttentionIR } from '../ir/attention-ir.ts';
import { expectedShapes, type RunInputs } from './inputs.ts';
import { interpret } from './interpret.ts';
import { tensor, type Tensor } from './tensor.ts';
import { Rng } from './values.ts';

export interface RandomOptions {
  B: number;
  T: number;
  H: number;
  /** Heads of particular inputs (GQA/GVA), e.g. { q: 2, k: 2 } with H = 4. */
  heads?: Record<string, number>;
  seed?: number;
  cuSeqlens?: number[];
  initialState?: boolean;
  /** Scale of the random normals of per-token inputs (default 1). */
  scale?: number;
}

export function randomInputs(ir: AttentionIR, o: RandomOptions): RunInputs {
  const rng = new Rng(o.seed ?? 0);
  const heads: Record<string, number> = {};
  for (const i of ir.inputs) if (i.type === 'real') heads[i.name] = o.heads?.[i.name] ?? o.H;
  const want = expectedShapes(ir, o.B, o.T, o.H, heads);
  const tensors: Record<string, Tensor> = {};
  const scale = o.scale ?? 1;
  for (const [name, shape] of Object.entries(want)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const inp = ir.inputs.find((i) => i.name === name);
    if (inp?.type === 'int') {
      // Segment ids: a few documents per row, in order.
      const d = new Float64Array(n);
      for (let b = 0; b < o.B; b++) {
        let id = 0;
        for (let t = 0; t < o.T; t++) {
          if (t > 0 && rng.uniform() < 4 / o.T) id++;
          d[b * o.T + t] = id;
        }
      }
      tensors[name] = tensor(shape, d);
    } else tensors[name] = tensor(shape, Float64Array.from({ length: n }, () => rng.normal() * (inp ? scale : 1)));
  }
  const out: RunInputs = { tensors };
  if (o.cuSeqlens) out.cuSeqlens = o.cuSeqlens;
  if (o.initialState && ir.family === 'recurrent' && ir.direction === 'causal') {
    // A state a real history could leave: the final state of a random prefix of 16 tokens per
    // sequence (a random matrix would be inconsistent with the normalizer state, say).
    const N = o.cuSeqlens ? o.cuSeqlens.length - 1 : o.B;
    const prefix = randomInputs(ir, { B: N, T: 16, H: o.H, ...(o.heads ? { heads: o.heads } : {}), seed: (o.seed ?? 0) + 7919, scale });
    for (const p of ir.params) prefix.tensors[p.name] = tensors[p.name]!;
    const r = interpret(ir, prefix, { form: 'recurrent', outputFinalState: true });
    if (r.finalState) out.initialState = r.finalState;
  }
  return out;
}
