/**
 * Row folds of the CUDA backend (no GPU here: bench/gpu/check.py runs them on one): a map over a
 * column tile whose value folds along a row (the softmax kernel's row max and row sum, the
 * normalizer's q·z) splits each row's terms over G threads and combines them with warp shuffles
 * (the shared printer's parallel fold; tests/webgpu/row-folds.test.ts runs its WGSL form).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compileCuda } from '../../backends/cuda/index.ts';
import { lowerSource } from '../../compiler/pipeline.ts';
import { stdlibFiles } from '../helpers/stdlib.ts';

function cudaOf(spec: string, dtype: 'bf16' | 'f32' = 'bf16'): string {
  const f = stdlibFiles().find((x) => x.name === spec)!;
  return compileCuda(lowerSource(f.text, f.path).irs[0]!, { profile: 'cuda-sm90', dtype }).files.find((x) => x.path.endsWith('.cu'))!.contents;
}

/** The printed block of a parallel fold into `tile`, or undefined. */
function foldOf(cu: string, tile: string): { G: number; text: string } | undefined {
  const m = new RegExp(`// ${tile}: the fold over \\w+ by (\\d+) threads per row, combined by lane exchanges`).exec(cu);
  if (!m) return undefined;
  const end = cu.indexOf('== 0) {', m.index);
  return { G: Number(m[1]), text: cu.slice(m.index, cu.indexOf('\n', cu.indexOf('\n', end) + 1)) };
}

test('softmax in f32 (scores in shared memory): the row max and the row sum over a key tile of 64 use 2 threads per row (128 rows, 256 threads)', () => {
  const cu = cudaOf('softmax', 'f32');
  for (const tile of ['Mn', 'Ls']) {
    const f = foldOf(cu, tile);
    assert.ok(f, `${tile} is a parallel fold`);
    assert.is(f!.G, 2);
    // Each thread folds every second term from its own offset, then one shuffle step (offset 1).
    assert.match(f!.text, /for \(int jj = 0 \+ q\d+; jj < 64; jj \+= 2\)/);
    assert.match(f!.text, /(part\d+) = (\1 \+ |attnc_max\(\1, )__shfl_xor_sync\(0xffffffffu, \1, 1\)\)?;/);
    assert.not.match(f!.text, /__shfl_xor_sync\([^)]*, 2\)/);
    // Only the first thread of a row stores, after the shuffle that every lane takes part in.
    assert.ok(f!.text.indexOf('__shfl_xor_sync') < f!.text.indexOf(`${tile}[r] =`));
    assert.match(f!.text, /if \(r < 128 && q\d+ == 0\)/);
  }
});

test('softmax in bf16 (row-owned scores): a thread folds its 2 elements of each 8 columns of the row, then the 4 lanes of the row exchange (offsets 1, 2)', () => {
  const cu = cudaOf('softmax');
  assert.is(foldOf(cu, 'Mn'), undefined, 'no shared-memory fold');
  const keys = Number(/key tiles of (\d+)/.exec(cu)![1]);
  for (const [tile, fn] of [['Mn', 'attnc_max'], ['Ls', '+']] as const) {
    const at = cu.indexOf(`${tile}[s`, cu.indexOf('// key tiles'));
    const text = cu.slice(cu.lastIndexOf('#pragma unroll\n', cu.lastIndexOf('float part', at)), at);
    assert.match(text, new RegExp(`for \\(int fb\\d+ = 0; fb\\d+ < ${keys / 8};`), `${tile}: ${keys / 8} fragment tiles of the row`);
    assert.match(text, /for \(int fe\d+ = 0; fe\d+ < 2;/, `${tile}: 2 elements of each`);
    const offs = [...text.matchAll(/__shfl_xor_sync\(0xffffffffu, part\d+, (\d+)\)/g)].map((m) => Number(m[1]));
    assert.equal(offs, [1, 2], `${tile}: lane exchanges`);
    assert.ok(text.includes(fn === '+' ? 'part' : 'attnc_max(part'), `${tile}: ${fn}`);
  }
});

test("linear attention: the normalizer's q·z over 128 key features uses 8 threads per row (32 rows)", () => {
  const cu = cudaOf('linear_attention');
  const chunk = cu.slice(cu.indexOf('attnc_linear_attention_chunk('));
  const f = foldOf(chunk, 'Dn');
  assert.ok(f, 'Dn is a parallel fold');
  assert.is(f!.G, 8);
  // Offsets 4, 2, 1, in that order.
  const offs = [...f!.text.matchAll(/__shfl_xor_sync\(0xffffffffu, part\d+, (\d+)\)/g)].map((m) => Number(m[1]));
  assert.equal(offs, [4, 2, 1]);
});

test('the online softmax rescales its accumulator only in warps where some row maximum moved (x·1 = x)', () => {
  const cu = cudaOf('softmax');
  const m = /\/\/ Acc scaled by Mx per row: skipped by a warp whose factors are all 1\n\s+if \(__any_sync\(0xffffffffu, (.*)\)\) \{\n\s+#pragma unroll\n\s+for \(int (s\d+) = 0; \2 < 128; \2 \+= 1\) \{/.exec(cu);
  assert.ok(m, 'the rescale under a warp vote');
  // Every row factor this thread holds (4 slots: two row tiles of 16, two rows each) takes part.
  assert.equal(m![1].split(' || '), [0, 1, 2, 3].map((q) => `Mx[${q}] != 1.0f`));
  // The rest of the online softmax is unconditional: the running sum still takes the factor.
  assert.match(cu, /Ls\[(s\d+)\] = \(\(Ls\[\1\] \* Mx\[\1\]\) \+ part\d+\);/);
});

test.run();
