/**
 * For every stdlib spec: recurrent = chunked (chunk sizes 16, 32, 64 and 24, which divides
 * neither test length) = parallel (where it exists), to relative error ≤ 1e-9 in float64, with an
 * initial state, the final state, and a packed cu_seqlens batch. The recurrent form is the
 * reference (it is the equations of DESIGN.md §1, token by token).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { AttentionIR, Form } from '../../compiler/ir/attention-ir.ts';
import { interpret } from '../../compiler/interp/interpret.ts';
import { type RunInputs } from '../../compiler/interp/inputs.ts';
import { randomInputs } from '../../compiler/interp/random.ts';
import { compareTensors } from '../../compiler/interp/tensor.ts';
import { renderDiagnostics } from '../../compiler/diagnostics/render.ts';
import { stdlibFiles } from '../helpers/stdlib.ts';
import { stdlibIR } from '../helpers/ir.ts';

const TOL = 1e-9;
const CHUNKS = [16, 32, 64, 24];

function run(ir: AttentionIR, inputs: RunInputs, form: Form, chunk?: number) {
  const r = interpret(ir, inputs, { form, ...(chunk ? { chunkSize: chunk, tiles: [chunk, chunk === 24 ? 40 : chunk] } : {}), outputFinalState: true });
  assert.ok(r.output, renderDiagnostics(r.diagnostics));
  return r;
}

function agree(ir: AttentionIR, inputs: RunInputs, label: string) {
  const ref = run(ir, inputs, 'recurrent');
  for (const x of ref.output!.data) assert.ok(Number.isFinite(x), `${label}: recurrent output finite`);
  const variants: { form: Form; chunk?: number }[] = [];
  if (ir.forms.includes('chunk')) for (const c of CHUNKS) variants.push({ form: 'chunk', chunk: c });
  if (ir.forms.includes('parallel')) variants.push({ form: 'parallel' });
  assert.ok(variants.length > 0, `${ir.name} has a second form to compare`);
  for (const v of variants) {
    const r = run(ir, inputs, v.form, v.chunk);
    const what = `${label}: ${v.form}${v.chunk ? ` (chunk ${v.chunk})` : ''} vs recurrent`;
    const c = compareTensors(r.output!.data, ref.output!.data);
    assert.ok(c.relErr <= TOL, `${what}: output rel. error ${c.relErr}`);
    if (ref.finalState) {
      assert.ok(r.finalState, `${what}: final state`);
      const s = compareTensors(r.finalState!.S.data, ref.finalState.S.data);
      assert.ok(s.relErr <= TOL, `${what}: final state rel. error ${s.relErr}`);
      if (ref.finalState.z) assert.ok(compareTensors(r.finalState!.z!.data, ref.finalState.z.data).relErr <= TOL, `${what}: normalizer state`);
      if (ref.finalState.m) assert.ok(compareTensors(r.finalState!.m!.data, ref.finalState.m.data).relErr <= TOL, `${what}: stabiliser`);
    }
  }
}

for (const f of stdlibFiles()) {
  test(`${f.name}: forms agree (B=2, T=100, initial state)`, () => {
    const ir = stdlibIR(f.name);
    agree(ir, randomInputs(ir, { B: 2, T: 100, H: 2, seed: 11, initialState: true }), f.name);
  });
  test(`${f.name}: forms agree on a packed batch (cu_seqlens 0, 37, 37, 90, 128)`, () => {
    const ir = stdlibIR(f.name);
    agree(ir, randomInputs(ir, { B: 1, T: 128, H: 2, seed: 12, cuSeqlens: [0, 37, 37, 90, 128], initialState: true }), `${f.name} varlen`);
  });
}

test('a packed batch equals its sequences run separately', () => {
  for (const name of ['gated_deltanet', 'gla', 'softmax', 'mlstm']) {
    const ir = stdlibIR(name);
    const packed = randomInputs(ir, { B: 1, T: 90, H: 2, seed: 3, cuSeqlens: [0, 40, 90], initialState: ir.family === 'recurrent' });
    const whole = run(ir, packed, 'recurrent');
    const cuts = [0, 40, 90];
    for (let n = 0; n < 2; n++) {
      const [s, e] = [cuts[n]!, cuts[n + 1]!];
      const sub: RunInputs = { tensors: {} };
      for (const [k, t] of Object.entries(packed.tensors)) {
        const inp = ir.inputs.find((i) => i.name === k);
        if (!inp) {
          sub.tensors[k] = t;
          continue;
        }
        const row = t.data.length / t.shape[1]!;
        sub.tensors[k] = { shape: [1, e - s, ...t.shape.slice(2)], data: t.data.slice(s * row, e * row) };
      }
      if (packed.initialState) {
        const pick = (x: { shape: number[]; data: Float64Array } | undefined) => {
          if (!x) return undefined;
          const per = x.data.length / x.shape[0]!;
          return { shape: [1, ...x.shape.slice(1)], data: x.data.slice(n * per, (n + 1) * per) };
        };
        sub.initialState = { S: pick(packed.initialState.S)! };
        const z = pick(packed.initialState.z);
        if (z) sub.initialState.z = z;
        const m = pick(packed.initialState.m);
        if (m) sub.initialState.m = m;
      }
      const alone = run(ir, sub, 'recurrent');
      const V = ir.valueDim;
      const H = 2;
      const slice = whole.output!.data.slice(s * H * V, e * H * V);
      assert.ok(compareTensors(alone.output!.data, slice).relErr <= 1e-12, `${name}: sequence ${n}`);
    }
  }
});

test('GQA and GVA head mappings agree across forms', () => {
  const gdn = stdlibIR('gated_deltanet');
  agree(gdn, randomInputs(gdn, { B: 1, T: 70, H: 4, heads: { q: 2, k: 2 }, seed: 5, initialState: true }), 'gated_deltanet GVA');
  const sm = stdlibIR('softmax');
  agree(sm, randomInputs(sm, { B: 1, T: 70, H: 4, heads: { k: 1, v: 2 }, seed: 6 }), 'softmax GQA');
});

test('an output head reads its group of a GQA input', () => {
  const sm = stdlibIR('softmax');
  const inp = randomInputs(sm, { B: 1, T: 20, H: 4, heads: { k: 2, v: 2 }, seed: 8 });
  const out = run(sm, inp, 'parallel').output!;
  // Heads 0 and 1 share k, v head 0; heads 2, 3 share head 1. With q equal on heads 0 and 1 the outputs match.
  const q = inp.tensors['q']!;
  const D = 8;
  for (let t = 0; t < 20; t++) for (let d = 0; d < D; d++) q.data[(t * 4 + 1) * D + d] = q.data[(t * 4 + 0) * D + d]!;
  const out2 = run(sm, inp, 'parallel').output!;
  const V = sm.valueDim;
  for (let t = 0; t < 20; t++) for (let c = 0; c < V; c++) assert.ok(Math.abs(out2.data[(t * 4 + 1) * V + c]! - out2.data[(t * 4) * V + c]!) < 1e-12);
  void out;
});

test.run();
