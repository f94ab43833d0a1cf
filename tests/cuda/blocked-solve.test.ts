/**
 * The delta rules' triangular solve in chunks of 64 (more rows than the CUDA printer writes out
 * whole): blocked forward substitution in blocks of 16 rows. The WebGPU equivalence tests run the
 * same printer code (clike) against the float64 reference on lavapipe (chunks of 32 and 64); here,
 * the CUDA kernel's shape: what runs between which barriers.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compileCuda } from '../../backends/cuda/index.ts';
import { lowerSource } from '../../compiler/pipeline.ts';
import { stdlibFiles } from '../helpers/stdlib.ts';

function intraOf(spec: string, chunk: number): string {
  const f = stdlibFiles().find((x) => x.name === spec)!;
  const cu = compileCuda(lowerSource(f.text, f.path).irs[0]!, { profile: 'cuda-sm90', dtype: 'bf16', chunk, plan: { outputKernel: true } }).files.find((x) => x.path.endsWith('.cu'))!.contents;
  const at = cu.indexOf(`attnc_${spec}_intra(`);
  assert.ok(at > 0, `${spec}: an intra-chunk kernel`);
  return cu.slice(at, cu.indexOf('\n}\n', at));
}

test('chunks of 64: four blocks of 16 rows, each after the products with the rows before it', () => {
  for (const spec of ['gated_deltanet', 'deltanet']) {
    const k = intraOf(spec, 64);
    // The solve's rows in A (the identity going in), written out per block: row r0 is read first.
    const stride = /float xs\d+ = A\[0 \* (\d+) \+ col/.exec(k)?.[1];
    assert.ok(stride, `${spec}: the solve's first row read`);
    const starts = [0, 16, 32, 48].map((r0) => k.indexOf(`= A[${r0} * ${stride} + col`));
    assert.ok(starts.every((x) => x > 0), `${spec}: each block's first row read by the written-out solve`);
    assert.ok(starts.every((x, i) => i === 0 || x > starts[i - 1]!), `${spec}: blocks in order`);
    // Between two blocks' solves: a barrier, the products with the rows solved before (every
    // thread, rows r0 + r of the block, j up to r0), and a barrier.
    for (const [i, r0] of [16, 32, 48].entries()) {
      const between = k.slice(starts[i]!, starts[i + 1]!);
      assert.match(between, new RegExp(`for \\(int j\\d+ = 0; j\\d+ < ${r0}; j\\d+ \\+= 4\\)`), `${spec}: the products of block ${r0 / 16} with rows 0…${r0 - 1}`);
      assert.match(between, new RegExp(`Akk\\[\\(${r0} \\+ r\\) \\* 65 \\+ \\(j\\d+ \\+ 3\\)\\] \\* A\\[\\(j\\d+ \\+ 3\\) \\* ${stride} \\+ c\\]`));
      // Rows r0 + r of B read and written, less the products (sign +1: subtracted).
      assert.match(between, new RegExp(`float bp\\d+ = A\\[\\(${r0} \\+ r\\) \\* ${stride} \\+ c\\];`));
      assert.match(between, new RegExp(`A\\[\\(${r0} \\+ r\\) \\* ${stride} \\+ c\\] = \\(bp\\d+ \\+ bp\\d+\\) \\+ \\(bp\\d+ \\+ bp\\d+\\);`));
      assert.match(between, /(bp\d+) = \1 - Akk\[/);
      // One barrier before the products (the previous block solved) and one after them.
      const products = between.indexOf('float bp');
      assert.is(between.slice(0, products).match(/__syncthreads\(\);/g)?.length, 1, `${spec}: a barrier before block ${r0 / 16}'s products`);
      assert.is(between.slice(products).match(/__syncthreads\(\);/g)?.length, 1, `${spec}: a barrier after them`);
    }
    // A block's own solve reads only its diagonal block: row 63's last product is with row 62.
    assert.match(k, /xp\d+ = xp\d+ - Akk\[63 \* 65 \+ 62\] \* xs\d+;|xs\d+ = xs\d+ - Akk\[63 \* 65 \+ 62\] \* xs\d+;/);
    assert.not.match(k, /Akk\[63 \* 65 \+ 47\] \* xs/, `${spec}: no written-out product across blocks`);
  }
});

test('chunks of 32 (the default) keep the solve written out whole: one chain, no blocks', () => {
  const k = intraOf('gated_deltanet', 32);
  assert.match(k, /Akk\[31 \* \d+ \+ 0\] \* xs\d+;/, 'row 31 against row 0, written out');
  assert.not.match(k, /bp\d+ = bp\d+/);
});

test.run();
