/**
 * Row terms of softmax scores (compiler/ir/row-terms.ts): terms that read no key are dropped, terms
 * affine in i are taken at the query tile's first row, the rest stay; the flash kernels built so
 * equal the reference (kernel-IR interpreter, float64) for scores that have each kind of term.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { interpret } from '../../compiler/interp/interpret.ts';
import { randomInputs } from '../../compiler/interp/random.ts';
import { compareTensors } from '../../compiler/interp/tensor.ts';
import { prepareHostRun, readOutputs } from '../../compiler/kernel-ir/host.ts';
import { runProgram } from '../../compiler/kernel-ir/interp.ts';
import { splitRowTerms } from '../../compiler/ir/row-terms.ts';
import { printTExpr } from '../../compiler/ir/print.ts';
import { plan } from '../../compiler/passes/pipeline.ts';
import { renderDiagnostics } from '../../compiler/diagnostics/render.ts';
import { irFromText, stdlibIR } from '../helpers/ir.ts';

const spec = (score: string, update = 'softmax') => `attention s {
  dims      D = 16
  input     q: [D], k: [D], v: [D], u: scalar
  param     m: scalar
  score     ${score}
  update    ${update}
  mask      causal
}`;

const split = (score: string) => splitRowTerms(irFromText(spec(score)).score!);
const show = (e: Parameters<typeof printTExpr>[0] | undefined) => (e ? printTExpr(e) : '-');

test('ALiBi: the relative term moves to the tile row, q·k stays', () => {
  const s = splitRowTerms(stdlibIR('alibi').score!)!;
  assert.ok(s, 'split');
  assert.match(show(s.pair), /dot/);
  assert.not.match(show(s.pair), /i - j/);
  assert.match(show(s.atTileRow), /\(i - j\)/);
  assert.not.match(show(s.atTileRow), /dot/);
  // Plain softmax has nothing to split.
  assert.is(splitRowTerms(stdlibIR('softmax').score!), undefined);
});

test('row-only terms are dropped, mixed and non-affine terms stay', () => {
  // u[i] and m·i read no key: dropped; nothing moves.
  const a = split('dot(q, k) * D^-0.5 + u[i] - m * i')!;
  assert.ok(a);
  assert.match(show(a.pair), /^dot\(q̃\[i\], k̃\[j\]\) \* [\d.]+$/);
  assert.is(a.atTileRow, undefined);
  // i·j is not affine in i with a uniform coefficient; u[i]·(i − j) reads an input at i: both stay.
  const b = split('dot(q, k) * D^-0.5 - 0.01 * i * j')!;
  assert.is(b, undefined, 'nothing to drop or move');
  const c = split('dot(q, k) * D^-0.5 - u[i] * (i - j)');
  assert.is(c, undefined);
  // A product with a parameter and a quotient by a constant move whole.
  const d = split('dot(q, k) * D^-0.5 - m * (i - j) / 4')!;
  assert.ok(d?.atTileRow);
  assert.match(show(d.atTileRow), /m/);
});

/** The flash kernel of `text` on `target` against the reference, float64, with a ragged last tile. */
function check(text: string, target: string, label: string) {
  const ir = irFromText(text);
  const inputs = randomInputs(ir, { B: 2, T: 45, H: 2, seed: 7 });
  const p = plan(ir, target, { form: 'parallel', chunk: 16 });
  assert.ok(p.program, renderDiagnostics(p.diagnostics));
  const h = prepareHostRun(ir, p.program!, inputs, true);
  assert.ok(h.host, renderDiagnostics(h.diagnostics));
  runProgram(p.program!, h.host!.buffers, h.host!.params);
  const got = readOutputs(ir, h.host!, true);
  const ref = interpret(ir, inputs, { form: 'recurrent' });
  const e = compareTensors(got.output.data, ref.output!.data);
  assert.ok(e.relErr <= 1e-9, `${label} on ${target}: rel. error ${e.relErr}`);
}

test('flash kernels with dropped, moved and kept terms = reference (every profile)', () => {
  const scores = [
    'dot(q, k) * D^-0.5 + u[i] - m * i',
    'dot(q, k) * D^-0.5 - m * (i - j) / 4 + 2 * u[i]',
    'dot(q, k) * D^-0.5 - 0.01 * i * j + u[j] - 0.1 * (i - j)',
    'dot(q, k) * D^-0.5 - u[i] * (i - j) * 0.01',
  ];
  for (const s of scores) for (const target of ['webgpu-default', 'cuda-sm90']) check(spec(s), target, s);
  // Sigmoid weights are not shift-invariant: their scores stay as written (and still match).
  check(spec('dot(q, k) * D^-0.5 + u[i] - m * i', 'sigmoid'), 'cuda-sm90', 'sigmoid');
});

test.run();
