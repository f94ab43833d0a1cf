/**
 * The flash kernel's walk over key tiles (compiler/ir/key-spans.ts), evaluated here: for random
 * query blocks, sequence lengths and key tile sizes, every key some query of the block sees under
 * the mask lies in a visited tile, each tile is visited once, in order, aligned and inside the
 * sequence — and where the mask bounds the keys (causal, windows, sinks) the walk visits at most
 * two tiles more than those holding visible keys (the one-position widening for float rounding).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { keySpans, keyWalk, type KeyWalk } from '../../compiler/ir/key-spans.ts';
import { classifyTile } from '../../compiler/ir/mask-tiles.ts';
import type { AttentionIR } from '../../compiler/ir/attention-ir.ts';
import * as kb from '../../compiler/kernel-ir/build.ts';
import { irFromText, stdlibIR } from '../helpers/ir.ts';
import { evalS } from '../helpers/sexpr.ts';
import { stdlibFiles } from '../helpers/stdlib.ts';

const spec = (mask: string) => `attention m {\n  dims D = 8, W = 12, S = 2\n  input q: [D], k: [D], v: [D]\n  score dot(q, k)\n  update softmax\n  mask ${mask}\n}\n`;

/** Masks, each with whether the walk should stay within two tiles of the visible ones. */
function masks(): { name: string; ir: AttentionIR; tight: boolean }[] {
  const out = stdlibFiles()
    .map((f) => ({ name: f.name, ir: stdlibIR(f.name), tight: true }))
    .filter((m) => m.ir.family === 'softmax');
  const more: [string, boolean][] = [
    ['causal & (i - j < 40)', true],
    ['j >= i', true],
    ['(j - i) * 2 <= 6 & causal', true],
    ['causal & ((i - j < 9) | (j < 3))', true],
    ['(i - j < 10) & (j - i < 10)', true],
    ['(j <= i - 30) | (j >= i + 30)', true],
    ['causal & ((i - j < 5) | (j < 3) | ((j >= 100) & (j < 120)))', false],
    ['floor(i / 16) == floor(j / 16)', false],
    // j on the right, coefficients other than 1, an equality, a negative factor (unbounded), the
    // sequence length and the head, bounds past 2^31 (converted to int only after clamping).
    ['i >= j', true],
    ['i >= 3 * j', true],
    ['j == i', true],
    ['-2 * (j - i) >= 0', false],
    ['j >= T - 20', true],
    ['j <= i + h', true],
    ['j <= i + 3000000000', true],
    ['causal | (j < 3000000000)', true],
    ['(j < 0) & causal', true],
  ];
  for (const [m, tight] of more) out.push({ name: m, ir: irFromText(spec(m)), tight });
  return out;
}

/** The tile starts a walk visits. */
function tilesOf(walk: KeyWalk, env: Record<string, number>, BK: number): number[] {
  const tiles: number[] = [];
  if (walk.kind === 'range') for (let j = evalS(walk.from, env); j < evalS(walk.to, env); j += BK) tiles.push(j);
  else for (let u = 0; u < evalS(walk.count, env); u += BK) tiles.push(evalS(walk.at(kb.i(u)), env));
  return tiles;
}

test('the key walk covers every visible key once, in order, inside the sequence', () => {
  let seed = 11;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  const v = (name: string) => ({ lo: kb.un('float', kb.v(`${name}_lo`)), hi: kb.un('float', kb.v(`${name}_hi`)) });
  const ms = masks();
  assert.ok(ms.length >= 20, `masks: ${ms.length}`);
  for (const { name, ir, tight } of ms) {
    const spans = keySpans(ir.mask, { i: v('i'), h: v('h'), T: v('T'), H: v('H') });
    let bounded = 0;
    for (let n = 0; n < 400; n++) {
      const BK = [16, 32, 64][rand(3)]!;
      const len = 1 + rand(700);
      const i0 = rand(len);
      const i1 = Math.min(len - 1, i0 + rand(128));
      const h = rand(4);
      const env: Record<string, number> = { i_lo: i0, i_hi: i1, h_lo: h, h_hi: h, T_lo: len, T_hi: len, H_lo: 4, H_hi: 4, len };
      const lets: Record<string, number> = {};
      const walk = keyWalk(spans, kb.v('len'), BK, (nm, value) => {
        lets[nm] = evalS(value, { ...env, ...lets });
        return kb.v(nm);
      });
      const tiles = tilesOf(walk, { ...env, ...lets }, BK);
      const where = `${name}: i ${i0}–${i1}, len ${len}, BK ${BK}, tiles ${JSON.stringify(tiles)}`;
      tiles.forEach((t, x) => {
        assert.ok(t % BK === 0 && t >= 0 && t < len, `${where}: tile ${t} aligned and inside`);
        if (x) assert.ok(t > tiles[x - 1]!, `${where}: in order, once`);
      });
      const visible = new Set<number>();
      for (let j = 0; j < len; j++) {
        const cls = classifyTile(ir.mask, { i: { lo: i0, hi: i1 }, j: { lo: j, hi: j }, h: { lo: h, hi: h }, T: { lo: len, hi: len }, H: { lo: 4, hi: 4 } });
        if (cls === 'empty') continue;
        // One span's end also bounds the keys inside the kernel's loop (klen).
        if (walk.kind === 'range') assert.ok(j < evalS(walk.to, { ...env, ...lets }), `${where}: key ${j} below the walk's end`);
        const t = j - (j % BK);
        assert.ok(tiles.includes(t), `${where}: key ${j} (${cls}) in a visited tile`);
        visible.add(t);
      }
      const isBounded = spans.length === 0 || spans.some((x) => x.lo || x.hi);
      if (isBounded) bounded++;
      if (tight && isBounded) assert.ok(tiles.length <= visible.size + 2, `${where}: at most two tiles beyond the ${visible.size} with visible keys`);
    }
    if (tight) assert.ok(bounded > 0, `${name}: the walk is bounded`);
  }
});

test('the walk of a causal mask ends at the query block; an unbounded mask walks every tile', () => {
  const causal = keySpans(stdlibIR('softmax').mask, { i: { lo: kb.f(128), hi: kb.f(255) } });
  const w = keyWalk(causal, kb.i(1000), 64, (_n, value) => value);
  assert.is(w.kind, 'range');
  // Tiles 0, 64, …, 256: the last (keys 256–319, all > 255) for the one-position widening.
  assert.equal(tilesOf(w, {}, 64), [0, 64, 128, 192, 256]);
  const swa = keySpans(stdlibIR('swa_sink', { D: 8, W: 100, S: 3 }).mask, { i: { lo: kb.f(512), hi: kb.f(639) } });
  const w2 = keyWalk(swa, kb.i(1000), 64, (_n, value) => value);
  assert.is(w2.kind, 'spans');
  // The sink's tile, then the window's: keys 413–639, widened to 411–640, tiles 384–640.
  assert.equal(tilesOf(w2, {}, 64), [0, 384, 448, 512, 576, 640]);
  const block = irFromText(spec('floor(i / 16) == floor(j / 16)'));
  const all = keyWalk(keySpans(block.mask, { i: { lo: kb.f(0), hi: kb.f(15) } }), kb.v('len'), 64, (_n, value) => value);
  assert.is(all.kind, 'range');
  assert.is(tilesOf(all, { len: 500 }, 64).length, 8);
});

test.run();
