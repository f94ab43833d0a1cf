/**
 * invariantSubtrees (backends/clike/invariants.ts): the parts of an element expression printed
 * once before a loop over a tile's elements. What may move: subexpressions free of the element's
 * indices that read a tile or call a math function. What may not: anything reading a global buffer,
 * the tile being written or a register tile, a fold, or one branch of a select on its own.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { invariantSubtrees } from '../../backends/clike/invariants.ts';
import { bin, C, f, i, R, un, v } from '../../compiler/kernel-ir/build.ts';
import { printSExpr } from '../../compiler/kernel-ir/print.ts';
import type { SExpr } from '../../compiler/kernel-ir/types.ts';

const tile = (name: string, r: SExpr, c: SExpr): SExpr => ({ k: 'tile', tile: name, r, c });
const sel = (c: SExpr, a: SExpr, b: SExpr): SExpr => ({ k: 'sel', c, a, b });
const ld = (buf: string, idx: SExpr): SExpr => ({ k: 'ld', buf, idx });
const L1 = bin('sub', v('L'), i(1));
const hoisted = (e: SExpr, variant: string[], excluded: string[] = []) => invariantSubtrees(e, new Set(variant), new Set(excluded)).map(printSExpr);

test('a decay factor exp(b[L − 1]) moves out of the loop; the element-dependent rest stays', () => {
  const e = bin('mul', tile('S', R, C), un('exp', tile('Bc', L1, i(0))));
  assert.equal(hoisted(e, ['r', 'c'], ['S']), [printSExpr(un('exp', tile('Bc', L1, i(0))))]);
});

test('with only the column variant, the row factor of a vector moves; per element it does not', () => {
  const rowFactor = un('exp', tile('Bc', R, i(0)));
  const e = bin('mul', ld('f_q', bin('add', bin('mul', R, i(128)), C)), rowFactor);
  assert.equal(hoisted(e, ['c'], ['Qs']), [printSExpr(rowFactor)]);
  assert.equal(hoisted(e, ['r', 'c'], ['Qs']), []);
});

test('a select moves whole or not at all: its branches are not evaluated apart from its condition', () => {
  const guarded = sel(bin('ge', L1, i(0)), tile('Bc', L1, i(0)), f(0));
  assert.equal(hoisted(bin('mul', tile('S', R, C), guarded), ['r', 'c'], ['S']), [printSExpr(guarded)]);
  // The condition depends on the row: neither branch moves, though Bc[L − 1] alone would qualify.
  const rowCond = sel(bin('lt', R, v('L')), un('exp', tile('Bc', L1, i(0))), f(0));
  assert.equal(hoisted(rowCond, ['r', 'c']), []);
});

test('global loads, the written tile, register tiles and plain arithmetic stay in the loop', () => {
  assert.equal(hoisted(un('exp', ld('w_b', v('h'))), ['r', 'c']), [], 'a global load (a guard may skip it)');
  assert.equal(hoisted(bin('mul', tile('S', R, C), tile('S', i(0), i(0))), ['r', 'c'], ['S']), [], 'the tile the loop writes');
  assert.equal(hoisted(bin('mul', tile('S', R, C), bin('add', v('scale'), f(1))), ['r', 'c'], ['S']), [], 'no tile read or math function: left to the C compiler');
  const fold: SExpr = { k: 'fold', fn: 'sum', v: 'j', from: i(0), to: i(4), body: tile('Bc', v('j'), i(0)) };
  assert.equal(hoisted(fold, ['r', 'c']), [], 'a fold');
});

test.run();
