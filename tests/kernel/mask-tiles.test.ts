/**
 * The kernels' tile tests on a mask (compiler/ir/mask-tiles.ts), as kernel expressions evaluated
 * here: `tileSeesAll` (the flash kernel drops the per-element mask on such a tile) may hold only
 * where the numeric classification calls the tile full, and `tileMaySee` (the tile is skipped
 * when it fails) must hold wherever the tile is not empty — on random tiles of every softmax-family
 * stdlib mask, with both outcomes seen.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { classifyTile, tileMaySee, tileSeesAll } from '../../compiler/ir/mask-tiles.ts';
import * as kb from '../../compiler/kernel-ir/build.ts';
import { stdlibFiles } from '../helpers/stdlib.ts';
import { stdlibIR } from '../helpers/ir.ts';
import { evalS } from '../helpers/sexpr.ts';

test('tile tests on softmax-family masks agree with the numeric classification, both ways seen', () => {
  let seed = 7;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  const v = (name: string) => ({ lo: kb.v(`${name}_lo`), hi: kb.v(`${name}_hi`) });
  let masks = 0;
  for (const f of stdlibFiles()) {
    const ir = stdlibIR(f.name);
    if (ir.family !== 'softmax') continue;
    masks++;
    const ranges = { i: v('i'), j: v('j'), h: v('h'), T: v('T'), H: v('H') };
    const all = tileSeesAll(ir.mask, ranges);
    const may = tileMaySee(ir.mask, ranges);
    const seen = { full: 0, notFull: 0 };
    for (let n = 0; n < 3000; n++) {
      const T = 64 + rand(2048);
      const i0 = rand(T);
      const j0 = rand(T);
      const i1 = Math.min(T - 1, i0 + rand(128));
      const j1 = Math.min(T - 1, j0 + rand(128));
      const h = rand(4);
      const env = { i_lo: i0, i_hi: i1, j_lo: j0, j_hi: j1, h_lo: h, h_hi: h, T_lo: T, T_hi: T, H_lo: 4, H_hi: 4 };
      const cls = classifyTile(ir.mask, { i: { lo: i0, hi: i1 }, j: { lo: j0, hi: j1 }, h: { lo: h, hi: h }, T: { lo: T, hi: T }, H: { lo: 4, hi: 4 } });
      if (evalS(all, env)) {
        assert.is(cls, 'full', `${f.name}: tileSeesAll on i ${i0}–${i1}, j ${j0}–${j1}, T ${T}`);
        seen.full++;
      } else seen.notFull++;
      if (cls !== 'empty') assert.ok(evalS(may, env), `${f.name}: tileMaySee fails on a tile that is ${cls}: i ${i0}–${i1}, j ${j0}–${j1}`);
    }
    assert.ok(seen.full > 0 && seen.notFull > 0, `${f.name}: both outcomes (${JSON.stringify(seen)})`);
  }
  assert.ok(masks >= 5, `softmax-family specs found: ${masks}`);
});

test('tileSeesAll for a causal mask: tiles wholly below the diagonal, not the diagonal one', () => {
  const ir = stdlibIR('softmax');
  const at = (i0: number, i1: number, j0: number, j1: number) =>
    evalS(tileSeesAll(ir.mask, { i: { lo: kb.i(i0), hi: kb.i(i1) }, j: { lo: kb.i(j0), hi: kb.i(j1) } }), {});
  assert.is(at(128, 255, 0, 63), 1);
  assert.is(at(128, 255, 64, 127), 1);
  assert.is(at(128, 255, 128, 191), 0);
  assert.is(at(128, 255, 192, 255), 0);
});

test.run();
