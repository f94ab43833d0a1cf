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
  // Lowering says that only the interpreter runs it (a warning, not an error).
  assert.equal(l.diagnostics.map((d) => `${d.code} ${d.severity}`), ['ATTN3011 warning']);
  assert.match(l.diagnostics[0]!.message, "the state 's' is a vector");
  const ir = l.irs[0]!;
  const inp = randomInputs(ir, { B: 1, T: 5, H: 1, seed: 4 });
  const r = interpret(ir, inp);
  // o_0 = q_0 ⊙ k_0 ⊙ v_0
  const t = (n: string) => inp.tensors[n]!.data;
  for (let d = 0; d < 8; d++) assert.ok(Math.abs(r.output!.data[d]! - t('q')[d]! * t('k')[d]! * t('v')[d]!) < 1e-12);
});

test('a vector state whose decay is above 1 is ATTN3010, like a matrix state', () => {
  const src = (decay: string) => `attention vs {\n  dims D = 8\n  input q: [D], k: [D], v: [D], w: [D]\n  state s: [D]\n  update s = ${decay} * s + k * v\n  output o = q * s\n}\n`;
  const grow = lowerSource(src('2'), 'vs.attn');
  assert.is(grow.ok, false);
  assert.ok(grow.diagnostics.some((d) => d.code === 'ATTN3010' && d.message.includes("'s'")), renderDiagnostics(grow.diagnostics));
  const fine = lowerSource(src('sigmoid(w)'), 'vs.attn');
  assert.ok(fine.ok, renderDiagnostics(fine.diagnostics));
  assert.equal(fine.diagnostics.map((d) => d.code), ['ATTN3011']);
});

// ── full matrices on the left: general linear, never a crash ─────────────────────

/** Lower a spec with these items after the shared head; diagnostics other than unused inputs. */
function lowerEq(inputs: string, items: string) {
  const l = lowerSource(head(inputs, `${items}\n}\n`), 'eq.attn');
  return { l, codes: l.diagnostics.filter((d) => d.code !== 'ATTN2040').map((d) => d.code) };
}

test('a full matrix parameter on the left of the state (W @ S) is general linear, not a crash', () => {
  const { l, codes } = lowerEq('q: [K], k: [K], v: [V]', '  param W: [K, K]\n  state S: [K, V]\n  update S = W @ S + k ⊗ v\n  output o = Sᵀ @ q');
  assert.ok(l.ok, renderDiagnostics(l.diagnostics));
  assert.equal(codes, ['ATTN3002']);
  const ir = l.irs[0]!;
  assert.is(ir.update?.cls, 'general-linear');
  assert.equal(ir.forms, ['recurrent']);
  // The reference interpreter runs the equation as written: S_t = W S_{t−1} + k_t v_tᵀ, o_t = S_tᵀ q_t.
  const K = 8;
  const V = 6;
  const T = 5;
  const inp = randomInputs(ir, { B: 1, T, H: 1, seed: 3, scale: 0.5 });
  const r = interpret(ir, inp, { form: 'recurrent' });
  assert.ok(r.output, renderDiagnostics(r.diagnostics));
  const [W, q, k, v] = ['W', 'q', 'k', 'v'].map((n) => inp.tensors[n]!.data);
  let S: number[] = new Array(K * V).fill(0);
  const want: number[] = [];
  for (let t = 0; t < T; t++) {
    const next = new Array(K * V).fill(0);
    for (let a = 0; a < K; a++) for (let c = 0; c < V; c++) {
      let acc = k![t * K + a]! * v![t * V + c]!;
      for (let b = 0; b < K; b++) acc += W![a * K + b]! * S[b * V + c]!;
      next[a * V + c] = acc;
    }
    S = next;
    for (let c = 0; c < V; c++) {
      let o = 0;
      for (let a = 0; a < K; a++) o += S[a * V + c]! * q![t * K + a]!;
      want.push(o);
    }
  }
  assert.ok(compareTensors(r.output!.data, Float64Array.from(want)).relErr < 1e-12);
});

const LEFT_MATRIX_NEIGHBOURS: [string, string][] = [
  ['W: [H, K, K]', 'W[h] @ S + k ⊗ v'],
  ['W: [K, K]', '(W @ S) * 0.5 + k ⊗ v'],
  ['W: [K, K]', '0.5 * (W @ S) + k ⊗ v'],
  ['W: [K, K]', 'W @ (0.5 * S) + k ⊗ v'],
  ['W: [K, K]', 'W @ (exp(-softplus(g)) * S) + k ⊗ v'],
  ['W: [K, K]', 'exp(-softplus(g)) * (W @ S) + k ⊗ v'],
  ['W: [K, K]', 'W @ S + S + k ⊗ v'],
  ['W: [K, K]', 'W @ (W @ S) + k ⊗ v'],
  ['W: [K, K]', 'W @ (S - k ⊗ (kᵀ @ S)) + k ⊗ v'],
  ['W: [K, K]', '(k ⊗ k) @ (W @ S) + k ⊗ v'],
  ['W: [K, K]', 'W @ S - (k ⊗ k) @ S + k ⊗ v'],
  ['W: [K, K]', 'Wᵀ @ S + k ⊗ v'],
  ['W: [K, K]', '(W @ diag(g)) @ S + k ⊗ v'],
  ['W: [K, K]', '(W + k ⊗ k) @ S + k ⊗ v'],
  ['W: [V, V]', 'S @ W + k ⊗ v'],
  ['W: [V, V]', '0.5 * (S @ W) + k ⊗ v'],
];
for (const [param, rhs] of LEFT_MATRIX_NEIGHBOURS) {
  test(`general linear, not a crash: S = ${rhs}`, () => {
    const { l, codes } = lowerEq('q: [K], k: [K], v: [V], g: [K]', `  param ${param}\n  state S: [K, V]\n  update S = ${rhs}\n  output o = Sᵀ @ q`);
    assert.ok(l.ok, renderDiagnostics(l.diagnostics));
    assert.equal(codes, ['ATTN3002']);
    assert.is(l.irs[0]!.update?.cls, 'general-linear');
    assert.equal(l.irs[0]!.forms, ['recurrent']);
    const r = interpret(l.irs[0]!, randomInputs(l.irs[0]!, { B: 1, T: 6, H: 2, seed: 2, scale: 0.5 }), { form: 'recurrent' });
    assert.ok(r.output && r.output.data.every(Number.isFinite), renderDiagnostics(r.diagnostics));
  });
}

test('a matrix on the left of a vector state (s = W @ s + …) is general linear, not a crash', () => {
  for (const [param, rhs] of [['W: [D, D]', 'W @ s + k * v'], ['W: [H, D, D]', '0.5 * (W[h] @ s) + k * v']]) {
    const l = lowerSource(`attention vs {\n  dims D = 8\n  input q: [D], k: [D], v: [D]\n  param ${param}\n  state s: [D]\n  update s = ${rhs}\n  output o = q * s\n}\n`, 'vs.attn');
    assert.ok(l.ok, renderDiagnostics(l.diagnostics));
    assert.equal(l.diagnostics.map((d) => d.code), ['ATTN3002'], rhs);
    assert.is(l.irs[0]!.update?.cls, 'general-linear');
    assert.ok(interpret(l.irs[0]!, randomInputs(l.irs[0]!, { B: 1, T: 4, H: 2, seed: 5 })).output, rhs);
  }
});

test('a matrix inside a normalizer state or an output is a diagnostic, not a crash', () => {
  const z = lowerEq('q: [K], k: [K], v: [V]', '  param W: [K, K]\n  state S: [K, V], z: [K]\n  update S = S + k ⊗ v, z = W @ z + k\n  output o = Sᵀ @ q / dot(z, q)');
  assert.equal(z.codes, ['ATTN3007']);
  const o = lowerEq('q: [K], k: [K], v: [V]', '  param W: [K, K]\n  state S: [K, V]\n  update S = S + k ⊗ v\n  output o = (W @ S)ᵀ @ q');
  assert.equal(o.codes, ['ATTN3003']);
});

test('ATTN3002 says what runs a general linear update: the reference interpreter, not a kernel', () => {
  const { l } = lowerEq('q: [K], k: [K], v: [V]', '  param W: [K, K]\n  state S: [K, V]\n  update S = W @ S + k ⊗ v\n  output o = Sᵀ @ q');
  const d = l.diagnostics.find((x) => x.code === 'ATTN3002')!;
  assert.is(d.severity, 'warning');
  assert.is(d.message, "the update of 'S' is linear but not additive, delta or DPLR (the state is multiplied by a general matrix); no kernel target compiles it: only the reference interpreter runs it, in the recurrent form");
  assert.not.match(d.message, 'compiles to the recurrent form');
  assert.match(d.hint ?? '', '`attnc run FILE --backend reference --form recurrent`');
  assert.match(d.hint ?? '', 'ATTN4002');
});

// ── the decay of a state equation: the log-space rule of gates ──────────────────

const GROWING: [string, string][] = [
  ['2 * S + k ⊗ v', '2'],
  ['exp(1) * S + k ⊗ v', 'exp(1)'],
  ['S * 1.5 + k ⊗ v', '1.5'],
  ['exp(softplus(g) + 1) * S + k ⊗ v', 'exp(softplus(g) + 1)'],
  ['S + 0.5 * S + k ⊗ v', 'S + 0.5 * S + k ⊗ v'],
  ['2 * S - 2 * k ⊗ (kᵀ @ S) + k ⊗ v', '2'],
];
for (const [rhs, at] of GROWING) {
  test(`a decay provably > 1 is an error (ATTN3010): S = ${rhs}`, () => {
    const { l, codes } = lowerEq('q: [K], k: [K], v: [V], g: [K]', `  state S: [K, V]\n  update S = ${rhs}\n  output o = Sᵀ @ q`);
    assert.not.ok(l.ok);
    assert.equal(codes, ['ATTN3010']);
    const d = l.diagnostics.find((x) => x.code === 'ATTN3010')!;
    assert.is(d.severity, 'error');
    assert.match(d.message, /^the decay of 'S' is greater than 1: its log, the gate, has range \[/);
    assert.match(d.hint ?? '', 'exp(g) with g ≤ 0');
    assert.is(d.source!.text.slice(d.span.start, d.span.end), at);
  });
}

const UNPROVEN: [string, string, string][] = [
  ['exp(g) * S + k ⊗ v', 'exp(g)', '[-∞, ∞]'],
  ['exp(softplus(g)) * S + k ⊗ v', 'exp(softplus(g))', '[0, ∞]'],
  ['(1 + sigmoid(g)) * S + k ⊗ v', '(1 + sigmoid(g))', '[0, 0.6931]'],
];
for (const [rhs, at, range] of UNPROVEN) {
  test(`a decay not provably ≤ 1 warns like a gate (ATTN2023): S = ${rhs}`, () => {
    const { l, codes } = lowerEq('q: [K], k: [K], v: [V], g: [K]', `  state S: [K, V]\n  update S = ${rhs}\n  output o = Sᵀ @ q`);
    assert.ok(l.ok, renderDiagnostics(l.diagnostics));
    assert.equal(codes, ['ATTN2023']);
    const d = l.diagnostics.find((x) => x.code === 'ATTN2023')!;
    assert.is(d.severity, 'warning');
    assert.is(d.message, `the gate is not provably ≤ 0 (log space): its range is ${range}`);
    assert.is(d.source!.text.slice(d.span.start, d.span.end), at);
    assert.match(d.label ?? '', "the decay of 'S'");
    assert.is(l.irs[0]!.update?.cls, 'additive');
  });
}

test('decays provably ≤ 1 pass silently', () => {
  for (const rhs of ['sigmoid(g) * S + k ⊗ v', '0.5 * S + k ⊗ v', 'exp(-softplus(g)) * S + k ⊗ v', 'S - 0.5 * S + k ⊗ v', 'S + k ⊗ v', 'exp(logsigmoid(g) / 16) * S + k ⊗ v']) {
    const { l, codes } = lowerEq('q: [K], k: [K], v: [V], g: [K]', `  state S: [K, V]\n  update S = ${rhs}\n  output o = Sᵀ @ q`);
    assert.ok(l.ok, renderDiagnostics(l.diagnostics));
    assert.equal(codes, [], rhs);
  }
});

test.run();
