/**
 * 16-byte tile loads of the CUDA backend (no GPU here: bench/gpu/check.py runs them on one): a
 * map that fills a shared tile from one unconditional global load at X·M + (c + Y) is printed
 * with vector loads under a block-uniform alignment check, with the scalar loop as its fallback;
 * a load under a select is vectorised only when the select's condition is the same for the whole
 * block (HAS_INIT ? initial_state[…] : 0 becomes two maps under `if (HAS_INIT)`). Stores of shared
 * tiles to global memory get 16-byte stores the same way.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { PlanOptions } from '../../compiler/passes/plan.ts';
import { compileCuda } from '../../backends/cuda/index.ts';
import { lowerSource } from '../../compiler/pipeline.ts';
import { stdlibFiles } from '../helpers/stdlib.ts';

/**
 * The delta rules' kernels with the state in shared memory: cuda-sm80's and f32 programs' plan
 * (cuda-sm90's bf16 programs hold it in registers: tests/cuda/register-state.test.ts).
 */
const SHARED_STATE: PlanOptions = { stateRegisters: false };

function cudaOf(spec: string, profile = 'cuda-sm90', plan: PlanOptions = {}): string {
  const f = stdlibFiles().find((x) => x.name === spec)!;
  const r = compileCuda(lowerSource(f.text, f.path).irs[0]!, { profile, dtype: 'bf16', plan });
  return r.files.find((x) => x.path.endsWith('.cu'))!.contents;
}

// The flash kernel's mma.sync tiles (padded rows, ldmatrix): without warpgroup MMA, whose core-matrix
// layout tests/cuda/wgmma.test.ts checks.
const MMA_SYNC: PlanOptions = { warpgroupMma: false };

test('bf16 query, key and value tiles of the softmax kernel are bf16 in shared memory, copied 16 bytes at a time by cp.async, with a scalar fallback', () => {
  const cu = cudaOf('softmax', 'cuda-sm90', MMA_SYNC);
  const k = cu.slice(cu.indexOf('attnc_softmax_attention('));
  // Read only as bf16 tensor-core operands: stored as bf16, rows of 136 elements (272 bytes: 17
  // units of 16 for conflict-free ldmatrix).
  for (const t of ['Q', 'Kt', 'Vt']) assert.match(k, new RegExp(`__nv_bfloat16\\* const ${t} = reinterpret_cast<__nv_bfloat16\\*>\\(attnc_smem \\+ \\d+\\);  // \\[\\d+, 128\\], rows 136 elements apart, bf16`));
  // Each tile alone (K of the next key tile is copied while this one's P·V runs): unconverted
  // copies, zero-filled where the guard drops the row.
  for (const t of ['Q', 'Kt', 'Vt']) assert.match(k, new RegExp(`// ${t}: cp\\.async of 16 bytes where in_`));
  for (const [t, buf] of [['Q', 'in_q'], ['Kt', 'in_k'], ['Vt', 'in_v']]) {
    assert.match(k, new RegExp(`const bool (ok\\d+) = r < L(?:q|k|kn) && c < 128;\\n\\s+attnc_cp_async16\\(&${t}\\[r \\* 136 \\+ c\\], \\1 \\? ${buf} \\+ \\(.*\\) : ${buf}, \\1\\);`), `${t}: cp.async from ${buf}`);
  }
  assert.not.match(k, /__bfloat1622float2/, 'no conversion on the way in');
  // Each copy loop counts passes of the workgroup (a constant trip count, unrolled up to 4): the
  // row of pass j is the first pass's plus j·(threads·8 / 128), the column the same in every pass.
  const threads0 = Number(/__launch_bounds__\((\d+), \d\) attnc_softmax_attention/.exec(cu)![1]);
  for (const t of ['Q', 'Kt', 'Vt']) {
    const at = k.indexOf(`// ${t}: cp.async of 16 bytes`);
    const loop = k.slice(at).match(/^[^\n]*\n\s+if \([^\n]*\) \{\n\s+#pragma unroll(?: 4)?\n\s+for \(int (j\d+) = 0; \1 < (\d+); \1 \+= 1\) \{\n\s+\[\[maybe_unused\]\] const int r = \(lid \* 8\) \/ 128 \+ \1 \* (\d+);\n\s+\[\[maybe_unused\]\] const int c = \(lid \* 8\) % 128;\n/);
    assert.ok(loop, `${t}: counted copy loop`);
    const rows = Number(new RegExp(`__nv_bfloat16\\* const ${t} = [^\\n]*// \\[(\\d+), 128\\]`).exec(k)![1]);
    assert.is(Number(loop![3]), (threads0 * 8) / 128, `${t}: rows per pass`);
    assert.is(Number(loop![2]), Math.ceil((rows * 128) / (threads0 * 8)), `${t}: passes`);
  }
  // The normalised accumulator (row-owned, laid out like a matmul output) leaves in pairs of
  // adjacent columns, one 4-byte store each, the scalar loop as fallback.
  assert.match(k, /\/\/ Acc → out: pairs of adjacent columns per store where out, the column offset and bound allow\n\s+if \([^\n]*\) \{\n\s+#pragma unroll\n\s+for \(int (s\d+) = 0; \1 < 128; \1 \+= 2\) \{(\n[^\n]*){3}\n\s+\*reinterpret_cast<__nv_bfloat162\*>\(out \+ \([^\n]*\)\) = __floats2bfloat162_rn\(Acc\[\1\], Acc\[\1 \+ 1\]\);/);
  // The fallback is the scalar element loop, rounding to bf16 on the store.
  const keys = Number(/key tiles of (\d+)/.exec(cu)![1]);
  const threads = Number(/__launch_bounds__\((\d+), \d\) attnc_softmax_attention/.exec(cu)![1]);
  // (Counted by passes of the workgroup, like every element loop of a CUDA kernel: pass j's row is
  // the first pass's plus j · threads / 128.)
  assert.match(k, new RegExp(`else \\{\\n\\s+#pragma unroll 8\\n\\s+for \\(int (j\\d+) = 0; \\1 < ${(keys * 128) / threads}; \\1 \\+= 1\\) \\{\\n\\s+\\[\\[maybe_unused\\]\\] const int r = lid / 128 \\+ \\1 \\* ${threads / 128};\\n\\s+\\[\\[maybe_unused\\]\\] const int c = lid % 128;[^}]*\\n\\s+Kt\\[r \\* 136 \\+ c\\] = __float2bfloat16_rn\\(attnc_load\\(in_k, `));
  // The copies are complete for every thread after a barrier: each barrier waits for this thread's first.
  const barriers = k.match(/__syncthreads\(\);/g)!.length;
  assert.ok(barriers >= 3);
  assert.is(k.match(/attnc_cp_async_wait\(\); __syncthreads\(\);/g)?.length, barriers, 'every barrier waits for the copies');
  // A program whose tiles are not bf16 operands (f32 chunk kernels) has no copies and plain barriers.
  const gdn = cudaOf('gated_deltanet', 'cuda-sm90', SHARED_STATE);
  assert.not.match(gdn.slice(gdn.indexOf('attnc_gated_deltanet_chunk(')), /attnc_cp_async/);
});

test('f32 workspace tiles load 4 per load; a block-uniform select splits the map', () => {
  const cu = cudaOf('gated_deltanet', 'cuda-sm90', SHARED_STATE);
  const chunk = cu.slice(cu.indexOf('attnc_gated_deltanet_chunk('));
  assert.match(chunk, /\/\/ X: 4 elements per 16-byte load where w_u/);
  // The initial state is read only when HAS_INIT: the vector load sits under that branch, the
  // other branch fills zeros without touching initial_state.
  assert.match(chunk, /if \(\(HAS_INIT != 0\)\) \{\n\s+\/\/ S: 4 elements per 16-byte load where initial_state/);
  assert.not.match(chunk, /\(HAS_INIT != 0\) \? initial_state\[/);
});

test('the rest of the expression is applied to each loaded value, its row-only part once per vector', () => {
  // Gated DeltaNet's intra-chunk kernel loads v scaled by the row's β (8 bf16 values per load):
  // β of the vector's row is read from the shared tile Bt once, inside the guard.
  const cu = cudaOf('gated_deltanet');
  const intra = cu.slice(cu.indexOf('attnc_gated_deltanet_intra('));
  const vs = intra.slice(intra.indexOf('8 elements per 16-byte load where in_v'));
  const factor = /const float (inv\d+) = Bt\[r\];/.exec(vs);
  assert.ok(factor, 'the row factor is one const per vector');
  assert.match(vs, new RegExp(`const float sv\\d+ = \\(ldv\\d+\\[7\\] \\* ${factor![1]}\\);`));
  assert.match(vs, /\*reinterpret_cast<float4\*>\(&\w+\[r \* \d+ \+ \(c \+ 4\)\]\) = make_float4\(sv\d+, sv\d+, sv\d+, sv\d+\);/);
});

test("linear attention's feature map elu(k) + 1 is k + 1 or eᵏ on each loaded value (no expm1), still 8 values per 16-byte load", () => {
  const cu = cudaOf('linear_attention');
  const chunk = cu.slice(cu.indexOf('attnc_linear_attention_chunk('));
  const group = chunk.slice(chunk.indexOf('// Vc, Ks: loads issued 2 iterations ahead by cp.async'));
  assert.ok(group.length < chunk.length, "the state kernel's loads of k and v are one group of 16-byte loads, in a ring of 2 chunks (cuda-sm90's pipelinedDepth)");
  assert.match(group, /const float sv\d+ = \(\(0\.0f < ldv\d+\[7\]\) \? \(ldv\d+\[7\] \+ 1\.0f\) : attnc_exp\(ldv\d+\[7\]\)\);/);
  assert.not.match(cu.slice(cu.indexOf('extern "C"')), /attnc_elu\(/, 'no kernel calls elu');
});

test('a run of tile loads is one group: every load issued before the first value is stored', () => {
  // cuda-sm80 (the printer's bound of 25 pipelined words): the group is issued in each chunk.
  const cu = cudaOf('gated_deltanet', 'cuda-sm80');
  const chunk = cu.slice(cu.indexOf('attnc_gated_deltanet_chunk('));
  // (k's row factor is folded into W, U and the weights by the intra-chunk kernel: no Kn here.)
  const at = chunk.indexOf('// Qn, Bc, X, Aqk, Qs, Ws, Ks: 16-byte loads issued together');
  assert.ok(at >= 0, 'the seven tiles of a chunk load as one group');
  const group = chunk.slice(at, chunk.indexOf('\n    else {', at));
  // Every load (the gate column as scalars, the rest 16 bytes at a time) comes before the first store.
  const lastLoad = Math.max(group.lastIndexOf('__ldg('), group.lastIndexOf('w_b['));
  const firstStore = group.indexOf('make_float4(sv');
  assert.ok(lastLoad > 0 && firstStore > lastLoad, 'loads, then stores');
  for (const buf of ['w_u', 'w_a', 'in_q', 'w_w', 'in_k']) assert.match(group, new RegExp(`__ldg\\(reinterpret_cast<const uint4\\*>\\(${buf} \\+`), buf);
  // Each tile's loads are unrolled into registers: Qs, Ws and Ks hold 32 × 128 bf16 (W is stored
  // like the inputs), two 16-byte loads a thread each; X and Aqk 32 × 32 f32, one each.
  assert.equal([...group.matchAll(/uint4 raw\d+\[(\d)\];/g)].map((m) => m[1]).sort(), ['1', '1', '2', '2', '2']);
});

test("cuda-sm90's pipelinedWords (48) issues the delta rule's chunk loads one chunk ahead; cuda-sm80 keeps them in the chunk", () => {
  const sm90 = cudaOf('gated_deltanet', 'cuda-sm90', SHARED_STATE);
  const chunk = sm90.slice(sm90.indexOf('attnc_gated_deltanet_chunk('));
  assert.ok(chunk.includes('// Qn, Bc, X, Aqk, Qs, Ws, Ks: 16-byte loads issued one iteration ahead, into registers held across the loop'), 'sm90: the group issued ahead');
  // The same 7 tiles: 2 + 2 + 2 sixteen-byte words of Qs, Ws, Ks, 1 of X and Aqk, two scalars.
  const held = /Ks: 16-byte loads issued one iteration ahead[^\n]*\n([\s\S]*?)auto issue/.exec(chunk);
  assert.ok(held, 'the registers held across the loop');
  assert.equal([...held![1]!.matchAll(/uint4 raw\d+\[(\d)\];/g)].map((m) => m[1]).sort(), ['1', '1', '2', '2', '2']);
  const sm80 = cudaOf('gated_deltanet', 'cuda-sm80');
  assert.not.ok(sm80.includes('16-byte loads issued one iteration ahead, into registers held across the loop\n'), 'sm80: nothing issued ahead in the chunk kernel');
});

test("the chunk loop's load group is issued one chunk ahead: its registers are stored at the top of a chunk, then the next chunk's loads issued", () => {
  const cu = cudaOf('retnet');
  const chunk = cu.slice(cu.indexOf('attnc_retnet_chunk('), cu.indexOf('// ── host side'));
  const loop = chunk.indexOf('for (int c0 = 0; c0 < len; c0 += 32)');
  assert.ok(loop > 0, 'the chunk loop');
  const before = chunk.slice(0, loop);
  const inLoop = chunk.slice(loop);
  // Before the loop: the loads of the chunk at c0 (its lets, under c0 < len) in a lambda, called for the first chunk.
  const issue = /auto (issue\d+) = \[&\]\(const int c0\) \{\n\s+if \(c0 < len\) \{/.exec(before);
  assert.ok(issue, 'the loads of a chunk, as a lambda of c0');
  const fn = issue![1]!;
  const body = before.slice(issue!.index, before.indexOf('  };', issue!.index));
  assert.match(body, /const int t0 = \(start \+ c0\);/);
  for (const buf of ['in_v', 'w_a', 'in_q', 'in_k']) assert.match(body, new RegExp(`raw\\d+\\[j\\d+\\] = __ldg\\(reinterpret_cast<const uint4\\*>\\(${buf} \\+`), buf);
  assert.not.match(body, /make_float4\(sv/, 'no stores in the lambda');
  const ahead = new RegExp(`if \\((ahead\\d+)\\) ${fn}\\(0\\);`).exec(before);
  assert.ok(ahead, 'the first chunk is loaded before the loop, where the buffers are aligned');
  // In the loop, under the same check: the stores from the registers, then the next chunk's loads, before the first barrier.
  const at = inLoop.indexOf(`if (${ahead![1]}) {`);
  const next = inLoop.indexOf(`${fn}(c0 + 32);`);
  const barrier = inLoop.indexOf('__syncthreads();');
  const stores = inLoop.slice(at, next);
  assert.ok(at > 0 && next > at && barrier > next, 'stores, next loads, then the barrier');
  assert.match(stores, /&Qs\[r \* \d+ \+ c\]\) = make_float4\(/);
  assert.match(stores, /&Ks\[r \* \d+ \+ c\]\) = make_float4\(/);
  assert.not.match(stores, /__ldg\(/, 'the aligned path loads nothing at the top of a chunk');
  // Unaligned: the maps as before, each loading its tile in the loop.
  assert.match(inLoop.slice(next, barrier), /else \{[\s\S]*__ldg\(reinterpret_cast<const uint4\*>\(in_q \+/);
});

test('stores of shared tiles to global memory use 16-byte stores, the value computed per element', () => {
  // Performer's prepare kernel writes its random features of q and k, 128 per token.
  const cu = cudaOf('performer');
  assert.match(cu, /\/\/ Wq → f_q: 4 elements per 16-byte store where f_q/);
  assert.match(cu, /\*reinterpret_cast<float4\*>\(f_q \+ \(.*\)\) = make_float4\(sv\d+, sv\d+, sv\d+, sv\d+\);/);
});

test('a decayed dot product folds 4 terms per step from 16-byte loads of rows 16-byte aligned, in the order of the scalar loop', () => {
  // GLA's intra-chunk kernel scores the pairs of a 16-row block per element:
  // Σ_d q_rd·k_jd·e^{b_rd − b_jd}. Each of its four tiles is read at (row, d), so one 16-byte load
  // per tile row gives 4 terms; the tiles' rows are 132 words apart (a multiple of 4, and 8
  // consecutive rows on distinct banks).
  const cu = cudaOf('gla');
  const intra = cu.slice(cu.indexOf('attnc_gla_intra('), cu.indexOf('attnc_gla_chunk('));
  for (const t of ['Qs', 'Ks', 'Bs']) assert.match(intra, new RegExp(`float\\* const ${t} = attnc_smem \\+ \\d+;  // \\[32, 128\\], rows 132 words apart`));
  const m = /for \(int (d\d+) = 0; \1 < 128; \1 \+= 4\) \{\n((?:\s+const float4 quad\d+ = .*\n){4})((?:\s+acc\d+ = acc\d+ \+ .*\n){4})/.exec(intra);
  assert.ok(m, 'the fold steps by 4 with four 16-byte loads');
  assert.match(m![2]!, /&Qs\[\(r\) \* 132 \+ d\d+\]/);
  assert.match(m![2]!, /&Ks\[\(\(\(\(r \/ 16\) \* 16\) \+ c\)\) \* 132 \+ d\d+\]/);
  // The gate sums of rows that always exist are read as they are (no select per term).
  assert.match(m![2]!, /&Bs\[\(r\) \* 132 \+ d\d+\]/);
  assert.not.match(m![3]!, /\?/, 'no select per term');
  // The four terms take the loads' x, y, z, w in turn.
  const lanes = [...m![3]!.matchAll(/quad\d+\.([xyzw])/g)].map((x) => x[1]);
  assert.equal([...new Set(lanes)], ['x', 'y', 'z', 'w']);
  assert.not.match(intra, /for \(int d = 0; d < 128; d \+= 1\)/, 'no scalar fold left');
  // RWKV-6 reads the state before the token (row r − 1, the chunk's start for r = 0): that gate
  // sum stays under its select, and its 16-byte load comes from a clamped row.
  const rw = cudaOf('rwkv6');
  const rwIntra = rw.slice(rw.indexOf('attnc_rwkv6_intra('), rw.indexOf('extern "C"', rw.indexOf('attnc_rwkv6_intra(')));
  assert.match(rwIntra, /const float4 (quad\d+) = \*reinterpret_cast<const float4\*>\(&Bs\[\(attnc_clamp\(\(r - 1\), 0, 31\)\) \* 68 \+ d\d+\]\);/);
  assert.match(rwIntra, /\(\(\(r - 1\) >= 0\) \? quad\d+\.x : 0\.0f\)/);
});

test('a fold whose term also reads a buffer at its variable keeps the scalar loop', () => {
  // Performer's prepare kernel: Σ_k W[c, k]·q_rk, W from global memory at (c·64 + k).
  const cu = cudaOf('performer');
  const at = cu.indexOf('attnc_performer_prepare(');
  const prep = cu.slice(at, cu.indexOf('extern "C"', at));
  assert.match(prep, /for \(int k1 = 0; k1 < 64; k1 \+= 1\) \{\n\s+acc\d+ = acc\d+ \+ \(p_W\[\(\(c \* 64\) \+ k1\)\] \* Tq_0\[r \* 65 \+ k1\]\);/);
  assert.not.match(prep, /const float4 quad\d+/);
});

test("masked per-element scores run over the lower triangle only (of each block of rows), its elements numbered row by row", () => {
  // RWKV-7's fused chunk kernel: X ← X + (c ≤ r ? Σ_d …·decay : 0) (or c < r) over [64, 64],
  // in pairs that share their rows and decays (a·b and a·k below the diagonal, q·b and q·k on and
  // below it): 2016 and 2080 elements, one loop and two accumulators per pair, the select gone.
  const rw = cudaOf('rwkv7');
  const square = [...rw.matchAll(/\/\/ (\w+) and (\w+): the (\d+) elements (on and below|below) the diagonal in one loop \(the others keep their value\)\n\s+for \(int (e\d+) = lid; \5 < (\d+); \5 \+= 256\) \{\n\s+int (tr\d+) = \(int\)\(\(sqrtf\(8\.0f \* \(float\)\5 \+ 1\.0f\) - 1\.0f\) \* 0\.5f\);\n(.*\n){2}\s+\[\[maybe_unused\]\] const int r = \7( \+ 1)?;\n\s+\[\[maybe_unused\]\] const int c = \5 - \(\7 \* \(\7 \+ 1\)\) \/ 2;\n\s+float (acc\d+) = 0\.0f;\n\s+float (acc\d+) = 0\.0f;\n/g)];
  assert.equal(
    square.map((m) => [m[1], m[2], m[3], m[6], m[4], !!m[9]]),
    // (2080 = 8 passes of 256 and 32 more: the last 32 go to 8 lanes each, below.)
    [['Aab', 'Aak', '2016', '2016', 'below', true], ['Aqb', 'Aqk', '2080', '2048', 'on and below', false]],
  );
  // GLA's intra-chunk kernel scores pairs within a block of 16 rows per element, into a [32, 16]
  // tile (build-intra.ts): Ad ← Ad + (c ≤ r − 16⌊r/16⌋ ? Σ_d q·k·decay : 0), 2 × 136 elements,
  // each block's triangle numbered as above.
  const gla = cudaOf('gla');
  const glaIntra = gla.slice(gla.indexOf('attnc_gla_intra('), gla.indexOf('extern "C"', gla.indexOf('attnc_gla_intra(')));
  const blocks = [...glaIntra.matchAll(/\/\/ (\w+): the (\d+) elements (on and below|below) the diagonal of each of its 2 blocks of 16 rows \(the others keep their value\)\n\s+for \(int (e\d+) = lid; \4 < (\d+); \4 \+= 256\) \{\n\s+const int (te\d+) = \4 % (\d+);\n\s+int (tr\d+) = \(int\)\(\(sqrtf\(8\.0f \* \(float\)\6 \+ 1\.0f\) - 1\.0f\) \* 0\.5f\);\n(.*\n){2}\s+\[\[maybe_unused\]\] const int r = \(\4 \/ \7\) \* 16 \+ \8( \+ 1)?;\n\s+\[\[maybe_unused\]\] const int c = \6 - \(\8 \* \(\8 \+ 1\)\) \/ 2;\n/g)];
  assert.equal(blocks.map((m) => [m[1], m[2], m[5], m[7], m[3], !!m[10]]), [['Ad', '272', '256', '136', 'on and below', false]]);
  assert.not.match(glaIntra, /\? acc\d+ : 0\.0f/, 'no masked fold left');
  // KDA's: Ad and Akd (c < r − 16⌊r/16⌋, Σ_d k·k·decay) in one loop over Ad's 272 elements, one
  // accumulator each, every row of Qs, Ks and Bs loaded once a step; Akd stored below the diagonal.
  const cu = cudaOf('kda');
  const intra = cu.slice(cu.indexOf('attnc_kda_intra('), cu.indexOf('extern "C"', cu.indexOf('attnc_kda_intra(')));
  const pair = intra.match(/\/\/ Ad and Akd: the 272 elements on and below the diagonal of each of their 2 blocks of 16 rows in one loop, Akd where its mask keeps them \(the others keep their value\)\n\s+for \(int (e\d+) = lid; \1 < 256; \1 \+= 256\) \{\n\s+const int (te\d+) = \1 % 136;\n\s+int (tr\d+) = [^\n]+\n(.*\n){2}\s+\[\[maybe_unused\]\] const int r = \(\1 \/ 136\) \* 16 \+ \3;\n\s+\[\[maybe_unused\]\] const int c = \2 - \(\3 \* \(\3 \+ 1\)\) \/ 2;\n\s+float (acc\d+) = 0\.0f;\n\s+float (acc\d+) = 0\.0f;\n\s+for \(int (d\d+) = 0; \7 < 128; \7 \+= 4\) \{\n((\s+const float4 quad\d+ = [^\n]+\n){5})((\s+acc\d+ = [^\n]+\n){8})\s+\}\n\s+Ad\[r \* 16 \+ c\] = \(Ad\[r \* 16 \+ c\] \+ \5\);\n\s+if \(c < \3\) Akd\[r \* 16 \+ c\] = \(Akd\[r \* 16 \+ c\] \+ \6\);/);
  assert.ok(pair, 'one loop for both block-diagonal scores');
  // Five rows a step: q_r, k_r, k_j and the gate sums of r and j (j = 16⌊r/16⌋ + c).
  assert.equal([...pair![8]!.matchAll(/&(\w+)\[\(([^)]*\)*)\) \*/g)].map((m) => m[1]).sort(), ['Bs', 'Bs', 'Ks', 'Ks', 'Qs']);
  assert.not.match(intra, /\? acc\d+ : 0\.0f/, 'no masked fold left');
  assert.not.match(rw, /\? acc\d+ : 0\.0f/, 'no masked fold left');
  // The numbering as printed (float square root, then the two corrections), for every element of
  // tiles up to 64 rows: row by row, each row's columns in order.
  for (const strict of [false, true])
    for (let n = 8; n <= 64; n++) {
      const count = strict ? (n * (n - 1)) / 2 : (n * (n + 1)) / 2;
      let want = 0;
      for (let e = 0; e < count; e++) {
        let q = Math.trunc(Math.fround(Math.fround(Math.fround(Math.sqrt(Math.fround(Math.fround(8 * e) + 1))) - 1) * 0.5));
        q += Number(((q + 1) * (q + 2)) / 2 <= e);
        q -= Number((q * (q + 1)) / 2 > e);
        const r = strict ? q + 1 : q;
        const c = e - (q * (q + 1)) / 2;
        const rowStart = strict ? (r * (r - 1)) / 2 : (r * (r + 1)) / 2;
        assert.ok(c >= 0 && (strict ? c < r : c <= r) && r < n && rowStart + c === want++, `n ${n} element ${e}: (${r}, ${c})`);
      }
    }
  // Over a block diagonal [m·n, n] (element e: block ⌊e / count⌋, the rest numbered as above):
  // every element the mask keeps (c ≤ r − n⌊r/n⌋, or <), each once, block by block.
  for (const strict of [false, true])
    for (const n of [8, 16, 32])
      for (const m of [2, 3, 4]) {
        const count = strict ? (n * (n - 1)) / 2 : (n * (n + 1)) / 2;
        const seen = new Set<number>();
        for (let e = 0; e < m * count; e++) {
          const x = e % count;
          let q = Math.trunc(Math.fround(Math.fround(Math.fround(Math.sqrt(Math.fround(Math.fround(8 * x) + 1))) - 1) * 0.5));
          q += Number(((q + 1) * (q + 2)) / 2 <= x);
          q -= Number((q * (q + 1)) / 2 > x);
          const r = Math.trunc(e / count) * n + (strict ? q + 1 : q);
          const c = x - (q * (q + 1)) / 2;
          const inBlock = r - n * Math.trunc(r / n);
          assert.ok(r < m * n && c >= 0 && (strict ? c < inBlock : c <= inBlock) && !seen.has(r * n + c), `${m}×${n} element ${e}: (${r}, ${c})`);
          seen.add(r * n + c);
        }
        assert.is(seen.size, m * count);
      }
});

test("a triangle's last, partial pass splits each element's fold between lanes, combined by lane exchanges", () => {
  // 272 elements on 256 threads (GLA, KDA, RWKV-6, HGRN2) would leave 16 threads folding a whole
  // 128-term product each while the rest wait: the last 16 go to 16 lanes each, 8 terms a lane.
  // RWKV-6's 64 terms: 4 a lane. RWKV-7's 2080 (64 terms): the last 32 to 8 lanes each; its
  // 2016 = 7·256 + 224 stay whole.
  const cases: [string, string, number, number, number, number, number][] = [
    // spec, kernel, elements, whole passes' elements, lanes per element, terms per lane, accumulators
    ['gla', 'attnc_gla_intra(', 272, 256, 16, 8, 1],
    ['hgrn2', 'attnc_hgrn2_intra(', 272, 256, 16, 8, 1],
    ['rwkv6', 'attnc_rwkv6_intra(', 272, 256, 16, 4, 1], // K = 64
    ['kda', 'attnc_kda_intra(', 272, 256, 16, 8, 2],
    ['rwkv7', 'attnc_rwkv7_chunk(', 2080, 2048, 8, 8, 2],
  ];
  for (const [spec, kernel, total, whole, lanes, terms, accs] of cases) {
    const cu = cudaOf(spec);
    const at = cu.indexOf(kernel);
    const k = cu.slice(at, cu.indexOf('extern "C"', at));
    const head = k.indexOf(`the ${total} elements`);
    assert.ok(head > 0, `${spec}: the triangle of ${total}`);
    const body = k.slice(head);
    assert.match(body, new RegExp(`^[^\\n]*\\n\\s+for \\(int (e\\d+) = lid; \\1 < ${whole}; \\1 \\+= 256\\)`), `${spec}: whole passes`);
    const rest = total - whole;
    assert.ok(rest * lanes <= 256 && lanes * terms === (spec === 'rwkv7' || spec === 'rwkv6' ? 64 : 128), `${spec}: the split covers the range`);
    const tail = body.match(new RegExp(`// the last ${rest} elements: ${lanes} lanes each, a ${terms}-term part of the fold each, combined by lane exchanges\\n\\s+\\{\\n\\s+const int (e\\d+) = ${whole} \\+ ${rest * lanes === 256 ? '' : 'attnc_min\\('}lid / ${lanes}${rest * lanes === 256 ? '' : `, ${rest - 1}\\)`};\\n\\s+const int (part\\d+) = lid % ${lanes};\\n`));
    assert.ok(tail, `${spec}: the tail's element and part`);
    const part = tail![2]!;
    const rest0 = body.slice(tail!.index!);
    const end = rest0.indexOf('\n      }\n');
    const block = rest0.slice(0, end);
    // Each lane folds its own part of the range, 4 terms a step.
    const loop = block.match(new RegExp(`for \\(int (j\\d+) = 0; \\1 < ${terms}; \\1 \\+= 4\\) \\{\\n\\s+const int d\\d+ = 0 \\+ ${part} \\* ${terms} \\+ \\1;`));
    assert.ok(loop, `${spec}: the part's loop`);
    // Then log2(lanes) exchanges per accumulator, over the lanes of one element (offsets below lanes).
    const xs = [...block.matchAll(/(acc\d+) = \1 \+ __shfl_xor_sync\(0xffffffffu, \1, (\d+)\);/g)];
    const offsets: number[] = [];
    for (let o = lanes / 2; o >= 1; o /= 2) for (let a = 0; a < accs; a++) offsets.push(o);
    assert.equal(xs.map((m) => Number(m[2])), offsets, `${spec}: exchanges`);
    // The exchanges are outside any branch; only the part-0 lane stores.
    const store = block.slice(block.lastIndexOf('__shfl_xor_sync'));
    assert.match(store, new RegExp(`\\n\\s+if \\(${part} == 0${rest * lanes === 256 ? '' : ' && lid < ' + rest * lanes}\\) \\{`), `${spec}: stored once`);
    assert.not.match(block.slice(0, block.indexOf('__shfl_xor_sync')), /\bif \(/, `${spec}: no branch before the exchanges`);
  }
});

test("softmax weights from the raw scores where the score is q·k times a positive constant: the scale in each weight's exponent", () => {
  // softmax: q·k/√128. Sm keeps q·k (no scaling pass over whole tiles; masked elements the
  // sentinel), the row maxima are of q·k, and each weight is 2^{s·c − m·c} with c = log2 e/√128
  // (one multiply-add an element), the correction 2^{(m_old − m_new)·c}.
  const c = (Math.LOG2E / Math.sqrt(128)).toPrecision(8).replace(/0+$/, '');
  const k = cudaOf('softmax');
  const loop = k.slice(k.indexOf('for (int j0 = 0;'), k.indexOf('// ── host side'));
  assert.not.match(loop, /Sm\[s\d+\] = \(Sm\[s\d+\] \* /, 'no scaling pass');
  assert.match(loop, /Sm\[(s\d+)\] = \(\(\(\(r < Lq\) && \(c < Lk\)\) && \(\(j0 \+ c\) <= \(i0 \+ r\)\)\) \? Sm\[\1\] : \(-1e\+30f\)\);/);
  assert.match(loop, new RegExp(`Sm\\[(s\\d+)\\] = attnc_exp2\\(\\(\\(Sm\\[\\1\\] \\* ${c}f\\) - \\(\\(\\(Mn\\[[^\\]]+\\] > \\(-5e\\+29f\\)\\) \\? Mn\\[[^\\]]+\\] : 0\\.0f\\) \\* ${c}f\\)\\)\\);`));
  assert.match(loop, new RegExp(`Mx\\[(s\\d+)\\] = attnc_exp2\\(\\(\\(Mx\\[\\1\\] - Mn\\[\\1\\]\\) \\* ${c}f\\)\\);`));
  // ALiBi's score has a bias after the product: its scores are scaled (times log2 e) where they
  // are computed, and each weight is 2^{s − m}.
  const a = cudaOf('alibi');
  assert.match(a, /Sm\[(s\d+)\] = attnc_exp2\(\(Sm\[\1\] - \(\(Mn\[[^\]]+\] > \(-5e\+29f\)\) \? Mn\[[^\]]+\] : 0\.0f\)\)\);/);
});

test('the triangular solve is written out, fenced per row', () => {
  const cu = cudaOf('gated_deltanet', 'cuda-sm90', SHARED_STATE);
  const at = cu.indexOf('attnc_gated_deltanet_intra(');
  const intra = cu.slice(at, cu.indexOf('extern "C"', at));
  // (I + A)⁻¹ by forward substitution: row r's products by the rows before, from registers; a
  // fence after each row but the last (31), so nvcc keeps each row's coefficient loads in place.
  const solve = intra.slice(intra.indexOf('float xs'));
  assert.match(solve, /float (xs\d+) = A\[0 \* 36 \+ (col\d+)\];\n\s+A\[0 \* 36 \+ \2\] = \1;\n\s+asm volatile\("" ::: "memory"\);\n\s+float (xs\d+) = A\[1 \* 36 \+ \2\];\n\s+\3 = \3 - Akk\[1 \* 33 \+ 0\] \* \1;/);
  assert.is(solve.slice(0, solve.indexOf('__syncthreads')).match(/asm volatile\("" ::: "memory"\);/g)?.length, 31);
  const rows = solve.slice(0, solve.indexOf('__syncthreads'));
  assert.is(rows.match(/ = x[sp]\d+ - Akk\[/g)?.length, 496);
  // Row r's products go round-robin into up to 4 sums (4 from row 8, 2 from row 4), each product
  // j into sum j mod parts, the sums added at the end: every coefficient (r, j) once, in order.
  for (let r = 1; r < 32; r++) {
    const parts = r >= 8 ? 4 : r >= 4 ? 2 : 1;
    const row = rows.slice(rows.indexOf(`A[${r} * 36 + `), rows.indexOf(`A[${r + 1} * 36 + `) > 0 ? rows.indexOf(`A[${r + 1} * 36 + `) : undefined);
    const products = [...row.matchAll(/(x[sp]\d+) = \1 - Akk\[(\d+) \* 33 \+ (\d+)\] \* xs\d+;/g)];
    assert.equal(products.map((m) => [Number(m[2]), Number(m[3])]), Array.from({ length: r }, (_, j) => [r, j]), `row ${r}: its products`);
    const sums = [...new Set(products.map((m) => m[1]))];
    assert.is(sums.length, parts, `row ${r}: sums`);
    products.forEach((m, j) => assert.is(m[1], sums[j % parts], `row ${r}, product ${j}`));
    const [x, ...rest] = sums;
    if (parts === 4) assert.ok(row.includes(`${x} = (${x} + ${rest[0]}) + (${rest[1]} + ${rest[2]});`), `row ${r}: sums added`);
    if (parts === 2) assert.ok(row.includes(`${x} = ${x} + ${rest[0]};`), `row ${r}: sums added`);
    assert.ok(row.includes(`A[${r} * 36 + `) && new RegExp(`A\\[${r} \\* 36 \\+ col\\d+\\] = ${x};`).test(row), `row ${r}: stored`);
  }
});

test("KDA's state kernel updates with keys its intra-chunk kernel decayed, loaded one chunk ahead", () => {
  const cu = cudaOf('kda', 'cuda-sm90', SHARED_STATE);
  const at = (name: string) => cu.indexOf(`attnc_kda_${name}(`);
  const intra = cu.slice(at('intra'), at('chunk'));
  const chunk = cu.slice(at('chunk'), at('output'));
  // The intra-chunk kernel stores k ⊙ e^{b_L − b} (raw k: its row factor is folded into W and U).
  assert.match(intra, /attnc_store\(w_k, [^;]*\(\(Ks\[r \* 132 \+ c\] \/ Kn\[r\]\) \* attnc_exp\(\(\(\(\(L - 1\) >= 0\) \? Bs\[\(L - 1\) \* 132 \+ c\] : 0\.0f\) - Bs\[r \* 132 \+ c\]\)\)\)\);/);
  // The state kernel: the corrected values, W, the decayed keys and e^{b_L} (one row of the gate
  // sums) as one group issued a chunk ahead; no tile of gate sums, no per-element decay of k.
  assert.match(chunk, /\/\/ X, Ws, Ks, Bl: 16-byte loads issued one iteration ahead, into registers held across the loop/);
  assert.match(chunk, /__ldg\(reinterpret_cast<const uint4\*>\(w_k \+/);
  assert.not.match(chunk, /Bs\[/);
  assert.match(chunk, /S\[\(r0_\d+ \+ r\) \* 40 \+ c\] = \(S\[\(k0 \+ r\) \* 40 \+ c\] \* Bl\[r\]\);/);
});

test("the flash kernel's key tile in FlashAttention-2's order: V copied while the scores run, the next tile's K while P·V runs", () => {
  const cu = cudaOf('softmax', 'cuda-sm90', MMA_SYNC);
  const k = cu.slice(cu.indexOf('attnc_softmax_attention('), cu.indexOf('// ── host side'));
  // The key tiles from 0 up to the query tile's last key (causal: key-spans.ts, widened for f32
  // rounding, clamped to [0, len] before the int conversion), jend also bounding the keys inside
  // the loop (no len there).
  // Causal softmax on cuda-sm90: key tiles of 64 (parallelPlainKeyTile).
  const loop = k.slice(k.indexOf('for (int j0 = 0; j0 < jend; j0 += 64) {'));
  assert.ok(loop.length > 0 && k.includes('for (int j0 = 0; j0 < jend; j0 += 64) {'), 'the key loop in tiles of 64');
  const jend = /const int jend = attnc_min\(len, \(\(int\)\(attnc_min\(attnc_max\(\(floorf\(\(\(\(float\)\(\(\(i0 \+ Lq\) - 1\)\)\) \+ \(1\.0f \+ \(\(attnc_abs\(\(\(float\)\(\(\(i0 \+ Lq\) - 1\)\)\)\) \+ \(2\.0f \* \(\(float\)\(len\)\)\)\) \* 9\.536743e-7f\)\)\)\) \+ 1\.0f\), 0\.0f\), \(\(float\)\(len\)\)\)\)\)\);/;
  assert.match(k, jend);
  // The first key tile's K before the loop, waited for (with Q) by the barrier in front of it.
  const head = k.slice(0, k.indexOf('for (int j0 = 0;'));
  assert.match(head, /attnc_cp_async16\(&Kt\[r \* 136 \+ c\], ok\d+ \? in_k \+ \(\(\(\(\(\(start \+ r\)/);
  assert.match(head, /attnc_cp_async_wait\(\); __syncthreads\(\);\n(\s*\/\/[^\n]*\n)*\s*$/, 'a barrier right before the key loop');
  // In the loop: V's copy, the scores Q·Ktᵀ, a barrier (every warp is done with Kt), the next
  // tile's K (j0 + 64, where the walk has one and the mask keeps it), then Acc += Sm·Vt; a
  // barrier closes the tile.
  const at = (re: RegExp) => {
    const m = re.exec(loop);
    assert.ok(m, String(re));
    return m!.index;
  };
  const v = at(/attnc_cp_async16\(&Vt\[/);
  const scores = at(/\/\/ Sm = Q · Ktᵀ/);
  assert.not.match(loop.slice(0, loop.indexOf('// Acc → out')), /\blen\b/, 'no len in the loop');
  const next = at(/if \(\(\(\(j0 \+ 64\) < jend\) && /);
  const kNext = at(/attnc_cp_async16\(&Kt\[r \* 136 \+ c\], ok\d+ \? in_k \+ \(\(\(\(\(\(\(start \+ \(j0 \+ 64\)\) \+ r\)/);
  const pv = at(/\/\/ Acc \+= Sm · Vt/);
  assert.ok(v < scores && scores < next && next < kNext && kNext < pv, 'V, scores, next K, P·V in that order');
  const between = loop.slice(scores, next);
  assert.is(between.match(/__syncthreads\(\);/g)?.length, 1, 'one barrier between the scores and the next K');
  assert.not.match(loop.slice(v, scores), /__syncthreads/, "V's copy is not waited for before the scores");
  assert.not.match(loop.slice(kNext, pv), /__syncthreads/, "the next K's copy is not waited for before P·V");
});

test("without cu_seqlens the launcher passes NULL and the kernels take sequence n's first token as n·T: no offsets kernel, no workspace for them", () => {
  for (const spec of ['gla', 'softmax']) {
    const cu = cudaOf(spec);
    assert.match(cu, /__device__ __forceinline__ int attnc_seq_start\(const int\* cu, int n, int T\) \{ return cu \? cu\[n\] : n \* T; \}/);
    assert.not.match(cu, /__offsets/, `${spec}: no offsets kernel`);
    assert.match(cu, /const int start = attnc_seq_start\(cu, n, T\);/, `${spec}: the kernels read the offsets through attnc_seq_start`);
    assert.not.match(cu.slice(cu.indexOf('// ── kernels')), /[^_\w]cu\[/, `${spec}: no kernel indexes cu itself`);
    assert.match(cu, /const int\* cu = \(const int\*\)a->cu_seqlens;\n/, `${spec}: the caller's pointer, NULL or not`);
  }
});

test("asyncState (cuda-sm90's default for the recurrent form): the recurrent kernel's initial state goes into an unpadded shared tile by cp.async, and every barrier waits for the copies; without it (asyncState: false, or cuda-sm80) 16-byte loads into padded rows", () => {
  const f = stdlibFiles().find((x) => x.name === 'gated_deltanet')!;
  const ir = lowerSource(f.text, f.path).irs[0]!;
  const cuOf = (plan: PlanOptions, profile = 'cuda-sm90') => compileCuda(ir, { profile, dtype: 'bf16', form: 'recurrent', plan }).files.find((x) => x.path.endsWith('.cu'))!.contents;
  const on = cuOf({});
  assert.equal(cuOf({ asyncState: true }), on, 'the default is asyncState on cuda-sm90');
  assert.match(on, /__shared__ __align__\(16\) float S\[8192\];  \/\/ \[128, 64\]\n/);
  assert.match(on, /attnc_cp_async16\(&S\[r \* 64 \+ c\], ok\d+ \? initial_state \+ /);
  const k = on.slice(on.indexOf('attnc_gated_deltanet_recurrent('), on.indexOf('// ── host side'));
  assert.not.match(k.replace(/attnc_cp_async_wait\(\); __syncthreads\(\);/g, ''), /__syncthreads\(\)/, 'every barrier waits for the copies');
  const off = cuOf({ asyncState: false });
  assert.match(off, /__shared__ __align__\(16\) float S\[8320\];  \/\/ \[128, 64\], rows 65 words apart/);
  assert.not.match(off, /attnc_cp_async16\(&S/);
  assert.not.match(cuOf({}, 'cuda-sm80'), /attnc_cp_async16\(&S/, 'cuda-sm80 keeps the loads through registers');
});

test("prefetchDepth (cuda-sm90's pipelinedDepth 2): a state kernel's chunk loads go by cp.async into a ring of 2 slots after the tiles, each thread reading back its own copies; not where the tiles fill the SM (RetNet), where a ring would cost blocks per SM (Gated DeltaNet), on cuda-sm80, or at depth 1", () => {
  const build = (spec: string, plan: PlanOptions = {}, profile = 'cuda-sm90') => {
    const ir = lowerSource(stdlibFiles().find((x) => x.name === spec)!.text, `${spec}.attn`).irs[0]!;
    return compileCuda(ir, { profile, dtype: 'bf16', plan });
  };
  const gla = build('gla');
  const cu = gla.files.find((x) => x.path.endsWith('.cu'))!.contents;
  const k = cu.slice(cu.indexOf('attnc_gla_chunk('), cu.indexOf('attnc_gla_output('));
  assert.match(k, /\/\/ [\w, ]+: loads issued 2 iterations ahead by cp\.async into a ring of 2 slots/);
  assert.match(k, /for \(int d\d+ = 0; d\d+ < 2; d\d+\+\+\) issue\d+\(0 \+ d\d+ \* 32, d\d+\);/, 'the first 2 chunks issued before the loop');
  assert.match(k, /attnc_cp_async_wait_group<1>\(\);\n\s+const int (slot\d+) = \(\(c0 - 0\) \/ 32\) % 2;/, 'one chunk left in flight while this one is read');
  assert.match(k, /attnc_cp_async_commit\(\);/);
  assert.match(k, /const uint4 raw\d+ = ring\d+\[slot\d+ \* \d+ \+ j\d+ \* 128 \+ lid\];/, 'each thread reads back its own copy');
  assert.not.match(k, /__syncthreads\(\);\s*attnc_cp_async_wait_group/, 'no barrier for the ring');
  const kernel = gla.program!.kernels.find((x) => x.name === 'gla_chunk')!;
  const ringBytes = Number(/and (\d+) of load rings/.exec(cu)![1]);
  assert.ok(ringBytes > 0 && kernel.dynamicSharedBytes >= ringBytes, `the ring is in the kernel's dynamic shared memory (${kernel.dynamicSharedBytes} bytes, ${ringBytes} of ring)`);
  const noRing = (spec: string, plan: PlanOptions = {}, profile = 'cuda-sm90') => assert.not.match(build(spec, plan, profile).files.find((x) => x.path.endsWith('.cu'))!.contents, /wait_group</, `${spec} ${JSON.stringify(plan)} ${profile}: no ring`);
  noRing('retnet', { outputKernel: false }); // the default plan alone (its shape plan for few chains has a ring)
  noRing('gated_deltanet', SHARED_STATE);
  noRing('gla', {}, 'cuda-sm80');
  noRing('gla', { prefetchDepth: 1 });
  // Every ring starts on 16 bytes (cp.async of 16 bytes and the uint4 reads need it), also after
  // rings of single floats of odd lengths (chunks of 10 and 15, three slots).
  for (const [spec, chunk] of [['retnet', 10], ['cosine_attention', 15], ['retnet', 30]] as const) {
    const text = build(spec, { chunk, prefetchDepth: 3 }).files.find((x) => x.path.endsWith('.cu'))!.contents;
    const rings = [...text.matchAll(/(?:uint4|float)\* const ring\d+ = reinterpret_cast<(?:uint4|float)\*>\(attnc_smem \+ (\d+)\)/g)].map((m) => Number(m[1]));
    assert.ok(rings.length >= 3, `${spec} chunk ${chunk}: rings ${rings.length}`);
    for (const w of rings) assert.is(w % 4, 0, `${spec} chunk ${chunk}: a ring at word ${w} is not on 16 bytes`);
  }
});

test.run();
