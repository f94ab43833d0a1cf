/**
 * Numerical stability: gates near 0 (no decay) and very negative (−20 per token), over T = 2048.
 * Every form must stay finite and agree with the recurrent form.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Form } from '../../compiler/ir/attention-ir.ts';
import { interpret } from '../../compiler/interp/interpret.ts';
import { type RunInputs } from '../../compiler/interp/inputs.ts';
import { randomInputs } from '../../compiler/interp/random.ts';
import { compareTensors } from '../../compiler/interp/tensor.ts';
import { renderDiagnostics } from '../../compiler/diagnostics/render.ts';
import { stdlibIR } from '../helpers/ir.ts';

const T = 2048;

/** Set every element of a tensor to a value (inputs that drive the gate). */
function fill(inp: RunInputs, name: string, value: number) {
  inp.tensors[name]!.data.fill(value);
}

interface Case {
  spec: string;
  /** Drive the gate to about −20 per token, or to about 0. */
  set: (inp: RunInputs, mode: 'deep' | 'flat') => void;
}

const cases: Case[] = [
  { spec: 'simple_gla', set: (x, m) => fill(x, 'g', m === 'deep' ? -20 : -1e-9) },
  { spec: 'gla', set: (x, m) => fill(x, 'gk', m === 'deep' ? -320 : 40) },
  { spec: 'rwkv6', set: (x, m) => fill(x, 'w', m === 'deep' ? Math.log(20) : -40) },
  {
    spec: 'gated_deltanet',
    set: (x, m) => {
      fill(x, 'A_log', 0);
      fill(x, 'dt_bias', 0);
      fill(x, 'a', m === 'deep' ? 20 : -40);
    },
  },
  {
    spec: 'kda',
    set: (x, m) => {
      fill(x, 'A_log', 0);
      fill(x, 'dt_bias', 0);
      fill(x, 'g', m === 'deep' ? 20 : -40);
    },
  },
  { spec: 'mlstm', set: (x, m) => fill(x, 'fg', m === 'deep' ? -20 : 40) },
  { spec: 'forgetting_attention', set: (x, m) => fill(x, 'f', m === 'deep' ? -20 : 40) },
];

for (const c of cases) {
  for (const mode of ['deep', 'flat'] as const) {
    test(`${c.spec}: gates ${mode === 'deep' ? '≈ −20' : '≈ 0'} per token over T = ${T}`, () => {
      const ir = stdlibIR(c.spec);
      const inp = randomInputs(ir, { B: 1, T, H: 1, seed: 21, initialState: ir.family === 'recurrent' });
      c.set(inp, mode);
      const forms: Form[] = ir.forms;
      const results = forms.map((form) => {
        const r = interpret(ir, inp, { form, chunkSize: 64, tiles: [64, 64], outputFinalState: true });
        assert.ok(r.output, renderDiagnostics(r.diagnostics));
        for (const x of r.output!.data) assert.ok(Number.isFinite(x), `${form}: output finite`);
        if (r.finalState) for (const x of r.finalState.S.data) assert.ok(Number.isFinite(x), `${form}: final state finite`);
        return { form, r };
      });
      const ref = results.find((x) => x.form === 'recurrent')!.r;
      for (const { form, r } of results) {
        const e = compareTensors(r.output!.data, ref.output!.data);
        assert.ok(e.relErr <= 1e-9, `${form} vs recurrent: ${e.relErr}`);
      }
    });
  }
}

test('the stability inputs really set the gate (deep: about −20 per token, flat: about 0)', async () => {
  const { compileIR, prepare, TokenReader } = await import('../../compiler/interp/prepare.ts');
  const { validateInputs } = await import('../../compiler/interp/inputs.ts');
  for (const c of cases) {
    const ir = stdlibIR(c.spec);
    for (const mode of ['deep', 'flat'] as const) {
      const inp = randomInputs(ir, { B: 1, T: 4, H: 1, seed: 1 });
      c.set(inp, mode);
      const shape = validateInputs(ir, inp).shape!;
      const p = prepare(compileIR(ir), new TokenReader(ir, inp, shape, { n: 0, ...shape.sequences[0]! }, 0));
      const g = p.g![2]!;
      const vals = typeof g === 'number' ? [g] : Array.from(g);
      for (const v of vals) {
        if (mode === 'deep') assert.ok(v < -19 && v > -21, `${c.spec} deep gate ${v}`);
        else assert.ok(v <= 0 && v > -1e-6, `${c.spec} flat gate ${v}`);
      }
    }
  }
});

test.run();
