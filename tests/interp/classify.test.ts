/**
 * State equations are classified into the IR's update classes, and each classified spec computes
 * exactly what its named-rule twin computes.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { AttentionIR } from '../../compiler/ir/attention-ir.ts';
import { interpret } from '../../compiler/interp/interpret.ts';
import { randomInputs } from '../../compiler/interp/random.ts';
import { compareTensors } from '../../compiler/interp/tensor.ts';
import { lowerSource } from '../../compiler/pipeline.ts';
import { renderDiagnostics } from '../../compiler/diagnostics/render.ts';
import { irFromText } from '../helpers/ir.ts';

const head = (inputs: string, extra = '') => `attention eq {\n  dims K = 8, V = 6\n  input ${inputs}\n${extra}`;

function classify(src: string): AttentionIR {
  return irFromText(src, 'eq.attn', { K: 8, V: 6 });
}

/** Same inputs, same outputs, in every form of both. */
function sameAs(a: AttentionIR, b: AttentionIR, rename: Record<string, string> = {}) {
  const inp = randomInputs(a, { B: 1, T: 40, H: 2, seed: 9 });
  const inpB = { tensors: Object.fromEntries(Object.entries(inp.tensors).map(([k, v]) => [rename[k] ?? k, v])) };
  const ra = interpret(a, inp, { form: 'recurrent' });
  const rb = interpret(b, inpB, { form: 'recurrent' });
  assert.ok(ra.output && rb.output, renderDiagnostics([...ra.diagnostics, ...rb.diagnostics]));
  assert.ok(compareTensors(ra.output!.data, rb.output!.data).relErr < 1e-12);
  for (const form of a.forms) {
    const r = interpret(a, inp, { form, chunkSize: 16 });
    assert.ok(compareTensors(r.output!.data, rb.output!.data).relErr < 1e-9, `${form}`);
  }
}

test('GLA as an equation: additive, data-dependent vector gate', () => {
  const eq = classify(head('q: [K], k: [K], v: [V], gk: [K]', '  state S: [K, V]\n  update S = exp(logsigmoid(gk) / 16) * S + k ⊗ v\n  output o = Sᵀ q\n}\n'));
  assert.is(eq.update?.cls, 'additive');
  assert.is(eq.gate.cls, 'dd-vector');
  const named = classify(head('q: [K], k: [K], v: [V], gk: [K]', '  gate logsigmoid(gk) / 16\n  update additive\n}\n'));
  sameAs(eq, named);
});

test('the delta rule in its error-correcting spelling', () => {
  const eq = classify(head('q: [K], k: [K], v: [V], g: scalar, b: scalar', '  state S: [K, V]\n  update S = exp(-softplus(g)) * S + sigmoid(b) * k ⊗ (v - (exp(-softplus(g)) * S)ᵀ @ k)\n  output o = Sᵀ @ q\n}\n'));
  assert.is(eq.update?.cls, 'delta');
  assert.is(eq.gate.cls, 'dd-scalar');
  const named = classify(head('q: [K], k: [K], v: [V], g: scalar, b: scalar', '  gate -softplus(g)\n  update delta(beta = sigmoid(b))\n}\n'));
  sameAs(eq, named);
});

test('the delta rule expanded, with a vector gate (KDA)', () => {
  const eq = classify(head('q: [K], k: [K], v: [V], g: [K], b: scalar', '  state S: [K, V]\n  update S = exp(-softplus(g)) * S - sigmoid(b) * k ⊗ (kᵀ @ (exp(-softplus(g)) * S)) + sigmoid(b) * k ⊗ v\n  output o = Sᵀ @ q\n}\n'));
  assert.is(eq.update?.cls, 'delta');
  assert.is(eq.gate.cls, 'dd-vector');
  const named = classify(head('q: [K], k: [K], v: [V], g: [K], b: scalar', '  gate -softplus(g)\n  update delta(beta = sigmoid(b))\n}\n'));
  sameAs(eq, named);
});

test('a gate after the projection is diagonal plus rank one', () => {
  const eq = classify(head('q: [K], k: [K], v: [V], g: [K], b: scalar', '  state S: [K, V]\n  update S = exp(-softplus(g)) * (S - sigmoid(b) * k ⊗ (kᵀ @ S)) + sigmoid(b) * k ⊗ v\n  output o = Sᵀ @ q\n}\n'));
  assert.is(eq.update?.cls, 'dplr');
  assert.ok(eq.forms.includes('chunk'));
});

test('a normalizer state: z = z + k with o = Sᵀq / dot(z, q) is the sum normalizer', () => {
  const eq = classify(head('q: [K], k: [K], v: [V]', '  state S: [K, V], z: [K]\n  feature q = elu(q) + 1\n  feature k = elu(k) + 1\n  update S = S + k ⊗ v, z = z + k\n  output o = Sᵀ @ q / dot(z, q)\n}\n'));
  assert.is(eq.update?.cls, 'additive');
  assert.is(eq.normalizer, 'sum');
});

test('the tied key of HGRN2 written in the equation becomes the key feature map', () => {
  const eq = classify(head('q: [K], v: [V], f: [K]', '  state S: [K, V]\n  update S = sigmoid(f) * S + (1 - sigmoid(f)) ⊗ v\n  output o = Sᵀ @ silu(q)\n}\n'));
  assert.is(eq.update?.cls, 'additive');
  assert.is(eq.gate.cls, 'dd-vector');
  const named = classify(head('q: [K], v: [V], f: [K]', '  feature q = silu(q)\n  feature k = 1 - sigmoid(f)\n  gate logsigmoid(f)\n  update additive\n}\n'));
  sameAs(eq, named);
});

test('a right product is linear but general: recurrent form only, with a warning', () => {
  const l = lowerSource(head('q: [K], k: [K], v: [V]', '  param M: [V, V]\n  state S: [K, V]\n  update S = S @ M + k ⊗ v\n  output o = Sᵀ @ q\n}\n'), 'eq.attn');
  assert.ok(l.ok);
  assert.equal(l.diagnostics.map((d) => d.code), ['ATTN3002']);
  assert.is(l.irs[0]!.update?.cls, 'general-linear');
  assert.equal(l.irs[0]!.forms, ['recurrent']);
  const r = interpret(l.irs[0]!, randomInputs(l.irs[0]!, { B: 1, T: 12, H: 1, seed: 1 }));
  assert.ok(r.output);
});

test('a non-linear update is an error', () => {
  for (const rhs of ['exp(S) + k ⊗ v', 'S * S + k ⊗ v', 'S * sum(Sᵀ @ k) + k ⊗ v', 'max(S, 0) + k ⊗ v']) {
    const l = lowerSource(head('q: [K], k: [K], v: [V]', `  state S: [K, V]\n  update S = ${rhs}\n  output o = Sᵀ @ q\n}\n`), 'eq.attn');
    const codes = l.diagnostics.map((d) => d.code);
    assert.ok(!l.ok, rhs);
    assert.ok(codes.includes('ATTN3001') || codes.includes('ATTN2003'), `${rhs}: ${codes}`);
  }
});

test('a vector state is evaluated as written', () => {
  const l = lowerSource('attention vs {\n  dims D = 8\n  input q: [D], k: [D], v: [D], w: [D]\n  state s: [D]\n  update s = exp(-softplus(w)) * s + k * v\n  output o = q * s\n}\n', 'vs.attn');
  assert.ok(l.ok, renderDiagnostics(l.diagnostics));
  assert.is(l.irs[0]!.update?.cls, 'vector-state');
  const ir = l.irs[0]!;
  const inp = randomInputs(ir, { B: 1, T: 5, H: 1, seed: 4 });
  const r = interpret(ir, inp);
  // o_0 = q_0 ⊙ k_0 ⊙ v_0
  const t = (n: string) => inp.tensors[n]!.data;
  for (let d = 0; d < 8; d++) assert.ok(Math.abs(r.output!.data[d]! - t('q')[d]! * t('k')[d]! * t('v')[d]!) < 1e-12);
});

test.run();
