/** Bad run-time inputs give clear diagnostics naming the tensor and the shape it should have. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { interpret } from '../../compiler/interp/interpret.ts';
import { type RunInputs } from '../../compiler/interp/inputs.ts';
import { randomInputs } from '../../compiler/interp/random.ts';
import { tensor } from '../../compiler/interp/tensor.ts';
import { stdlibIR } from '../helpers/ir.ts';

const ir = stdlibIR('gated_deltanet');
const fresh = (): RunInputs => randomInputs(ir, { B: 2, T: 10, H: 2, seed: 1 });

function messages(run: RunInputs, opts = {}) {
  const r = interpret(ir, run, opts);
  assert.is(r.output, undefined, 'no output on bad inputs');
  return r.diagnostics.map((d) => `${d.code} ${d.message}`);
}

test('a missing tensor names the tensor and its expected shape', () => {
  const run = fresh();
  delete run.tensors['b'];
  assert.equal(messages(run), ["ATTN5001 missing tensor 'b' (expected shape [2, 10, 2])"]);
});

test('a wrong shape names both shapes', () => {
  const run = fresh();
  run.tensors['v'] = tensor([2, 10, 2, 5]);
  assert.equal(messages(run), ["ATTN5002 tensor 'v' has shape [2, 10, 2, 5]; expected [2, 10, 2, 6]"]);
});

test('a per-head parameter of the wrong size', () => {
  const run = fresh();
  run.tensors['A_log'] = tensor([3]);
  assert.equal(messages(run), ["ATTN5002 tensor 'A_log' has shape [3]; expected [2]"]);
});

test('NaN and infinity are reported with their index', () => {
  const run = fresh();
  run.tensors['q']!.data[5] = NaN;
  run.tensors['a']!.data[3] = Infinity;
  assert.equal(messages(run), ["ATTN5003 tensor 'q' holds a non-finite value (NaN) at index [0, 0, 0, 5]", "ATTN5003 tensor 'a' holds a non-finite value (Infinity) at index [0, 1, 1]"]);
});

test('head counts must divide the output heads', () => {
  const run = randomInputs(ir, { B: 1, T: 8, H: 4, heads: { q: 3 }, seed: 2 });
  assert.ok(messages(run).some((m) => m.startsWith("ATTN5005 tensor 'q' has 3 heads, which does not divide the 4 output heads")));
});

test('cu_seqlens must start at 0, end at T, not decrease, and come with B = 1', () => {
  const bad: [number[], number, string][] = [
    [[1, 10], 1, 'it must start at 0 (found 1)'],
    [[0, 8], 1, 'it must end at T = 10 (found 8)'],
    [[0, 6, 4, 10], 1, 'its entries must be non-decreasing integers'],
    [[0, 10], 2, 'a packed batch has B = 1 (found B = 2); flatten the sequences into the time axis'],
  ];
  for (const [cu, B, why] of bad) {
    const run = randomInputs(ir, { B, T: 10, H: 2, seed: 3 });
    run.cuSeqlens = cu;
    assert.equal(messages(run), [`ATTN5004 cu_seqlens is invalid: ${why}`]);
  }
});

test('an initial state of the wrong shape', () => {
  const run = fresh();
  run.initialState = { S: tensor([2, 2, 8, 5]) };
  assert.equal(messages(run), ["ATTN5002 tensor 'initial_state' has shape [2, 2, 8, 5]; expected [2, 2, 8, 6]"]);
});

test('an unknown tensor is named, with the tensors the spec takes', () => {
  const run = fresh();
  run.tensors['beta'] = tensor([1]);
  const m = messages(run);
  assert.is(m[0], "ATTN5007 unknown tensor 'beta'");
});

test('a form the spec does not have', () => {
  const m = interpret(ir, fresh(), { form: 'parallel' }).diagnostics.map((d) => d.message);
  assert.equal(m, ["form 'parallel' is not available for spec 'gated_deltanet': the delta rule has no materialised T×T form (use chunk)"]);
});

test.run();
