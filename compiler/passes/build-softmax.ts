/**
 * The softmax family's kernels.
 *  - gate cumsum (forgetting attention): G_t = Σ_{r ≤ t} g_r per sequence and head, by chunks.
 *  - the FlashAttention-style kernel: one workgroup per (query tile, head, sequence); key tiles
 *    the mask rules out are skipped (the interval test of mask-tiles.ts, evaluated per tile);
 *    the rest are masked per element; online softmax with a running max and sum. Sigmoid and relu
 *    weights accumulate without normalisation.
 */
import { keySpans, keyWalk } from '../ir/key-spans.ts';
import { splitRowTerms } from '../ir/row-terms.ts';
import { tileMaySee, tileSeesAll } from '../ir/mask-tiles.ts';
import type { Ref, TExpr } from '../ir/expr.ts';
import * as b from '../kernel-ir/build.ts';
import type { Kernel, SExpr } from '../kernel-ir/types.ts';
import { inputBuf, inputHead, headsParam, P, programBuffers, programParams, tokenLeaves, tokinfoBuffer, type RowTokens } from './buffers.ts';
import { preparedBuffers } from './build-chunk.ts';
import { rowTilesFit } from './dtypes.ts';
import { KernelBuilder } from './kernel-builder.ts';
import { ExprLowering, Unsupported, type Elem, type LeafEnv } from './lower-expr.ts';
import type { PlanState } from './plan.ts';
import { Sources } from './sources.ts';

const { R, C: Cv } = b;
const NEG = -1e30;

export const gcumBuffer = { name: 'gcum', role: 'scratch' as const, dtype: 'f32' as const, access: 'read_write' as const, elems: b.mul(P.NT, P.H) };

export function buildGateCumsumKernel(st: PlanState): Kernel {
  const ir = st.ir;
  const C = 64;
  const kb = new KernelBuilder(`${ir.name}_gate_cumsum`);
  const h = kb.let('h', b.wg(1));
  const n = kb.let('n', b.wg(2));
  const start = kb.let('start', b.ld('cu', n));
  const len = kb.let('len', b.sub(b.ld('cu', b.add(n, b.i(1))), start));
  const Gt = kb.tile('Gt', C, 1);
  const Gs = kb.tile('Gs', C, 1);
  const carry = kb.tile('carry', 1, 1);
  const src = new Sources(st);
  kb.map(carry, b.f(0));
  kb.for('c0', b.i(0), len, b.i(C), () => {
    const L = kb.let('L', b.min(b.i(C), b.sub(len, b.v('c0'))));
    const t0 = kb.let('t0', b.add(start, b.v('c0')));
    const rt: RowTokens = { tok: (r) => b.add(t0, r), pos: (r) => b.add(b.v('c0'), r), len: () => len, head: h };
    kb.map(Gt, src.elem('g', rt).at(R, b.i(0)), { rows: L, cols: b.i(1), fill: 0 });
    kb.op({ op: 'cumsum', dst: Gs, src: Gt });
    kb.op({ op: 'store', src: Gs, dst: { buf: 'gcum', index: b.add(b.mul(b.add(t0, R), P.H), h), rows: L, cols: b.i(1) }, value: b.add(b.tile(Gs, R, b.i(0)), b.tile(carry, b.i(0), b.i(0))) });
    kb.map(carry, b.add(b.tile(carry, b.i(0), b.i(0)), b.tile(Gs, b.sub(L, b.i(1)), b.i(0))));
  });
  const buffers = [...programBuffers(ir, 'f32'), ...preparedBuffers(st), gcumBuffer, tokinfoBuffer];
  return kb.build([b.i(1), P.H, P.N], 64, programParams(ir), buffers, `${ir.name}: cumulative log-gates per sequence`);
}

export function buildSoftmaxKernel(st: PlanState): Kernel {
  const ir = st.ir;
  const { C: Bq, BK: Bk, threads } = st.tiling!;
  const Dk = ir.keyDim;
  const V = ir.valueDim;
  const src = new Sources(st);
  const kb = new KernelBuilder(`${ir.name}_attention`);
  // Query tiles in reverse order: under a causal mask the last tiles see the most keys, and going
  // first they leave the short ones to fill the last wave (longest-first scheduling).
  const i0 = kb.let('i0', b.mul(b.sub(b.sub(b.ceilDiv(P.MAXLEN, b.i(Bq)), b.i(1)), b.wg(0)), b.i(Bq)));
  const h = kb.let('h', b.wg(1));
  const n = kb.let('n', b.wg(2));
  const start = kb.let('start', b.ld('cu', n));
  const len = kb.let('len', b.sub(b.ld('cu', b.add(n, b.i(1))), start));
  const gated = ir.gate.cls !== 'none';
  kb.if(b.lt(i0, len), () => {
    const Lq = kb.let('Lq', b.min(b.i(Bq), b.sub(len, i0)));
    const rq: RowTokens = { tok: (r) => b.add(b.add(start, i0), r), pos: (r) => b.add(i0, r), len: () => len, head: h };
    // Where the target can hold them (tensor-core fragments split by rows over the warps), the
    // scores, the row statistics and the output live in row-owned registers (FlashAttention-2's
    // layout): the row folds exchange lanes, the probabilities feed the second matmul from
    // registers, and a key tile needs barriers only around its K and V tiles. Otherwise the
    // output accumulator alone is in registers (only elementwise ops and matmul outputs touch it).
    const owned = rowTilesFit(st, threads, Bq, [Bk, V, 1, Dk]);
    const Q = kb.tile('Q', Bq, Dk);
    const Mx = kb.tile('Mx', Bq, 1, owned ? 'rows' : 'shared');
    const Ls = kb.tile('Ls', Bq, 1, owned ? 'rows' : 'shared');
    const Acc = kb.tile('Acc', Bq, V, owned ? 'rows' : 'register');
    const Kt = kb.tile('Kt', Bk, Dk);
    const Vt = kb.tile('Vt', Bk, V);
    const Sm = kb.tile('Sm', Bq, Bk, owned ? 'rows' : 'shared');
    const Mn = kb.tile('Mn', Bq, 1, owned ? 'rows' : 'shared');
    kb.map(Q, src.elem('q', rq).at(R, Cv), { rows: Lq, cols: b.i(Dk), fill: 0 });
    kb.map(Mx, b.f(NEG));
    kb.map(Ls, b.f(0));
    kb.map(Acc, b.f(0));
    const j0 = b.v('j0');
    const rng = (lo: SExpr, hi: SExpr) => ({ lo: b.un('float', lo), hi: b.un('float', hi) });
    // The index ranges of the key tile at j (Lk of its keys).
    const rangesAt = (j: SExpr, Lk: SExpr) => ({
      i: rng(i0, b.sub(b.add(i0, Lq), b.i(1))),
      j: rng(j, b.sub(b.add(j, Lk), b.i(1))),
      h: rng(h, h),
      T: rng(len, len),
      H: rng(P.H, P.H),
    });
    const keysAt = (j: SExpr): RowTokens => ({ tok: (r) => b.add(b.add(start, j), r), pos: (r) => b.add(j, r), len: () => len, head: h });
    // Only the key tiles that cover the keys the mask may show this query tile (key-spans.ts). With
    // one span its end bounds the keys too (those past it are masked): `len` is not needed in the
    // loop, one value fewer held there.
    const walk = keyWalk(keySpans(ir.mask, { ...rangesAt(b.i(0), b.i(1)), j: undefined }), len, Bk, (name, value) => kb.let(name, value));
    const klen = walk.kind === 'range' ? walk.to : len;
    // FlashAttention-2's order: the K tile of the next key tile the mask keeps is loaded while this
    // one's P·V product runs (after its scores no longer need K), and V while the scores are
    // computed; the first tile's K before the loop. A tile the mask skips loads the next one's K.
    // With PlanOptions.earlyKeyLoads (default: the profile's parallelEarlyKeyLoads) the next K is
    // issued right after the scores' product instead.
    const early = st.options.earlyKeyLoads ?? st.target.parallelEarlyKeyLoads ?? false;
    const loadKeys = (j: SExpr) => {
      const L = kb.let('Lkn', b.min(b.i(Bk), b.sub(klen, j)));
      kb.map(Kt, src.elem('k', keysAt(j)).at(R, Cv), { rows: L, cols: b.i(Dk), fill: 0 });
    };
    const mayAt = (j: SExpr) => b.and(b.lt(j, klen), tileMaySee(ir.mask, rangesAt(j, b.min(b.i(Bk), b.sub(klen, j)))));
    // One span: j0 runs over its tiles; two: position u0 over both, tile j0 = at(u0).
    const spans = walk.kind === 'spans' ? walk : undefined;
    const [uv, from, to] = walk.kind === 'spans' ? ['u0', b.i(0), walk.count] : ['j0', walk.from, walk.to];
    const u0 = b.v(uv);
    const tileAt = (u: SExpr) => (spans ? spans.at(u) : u);
    // A position past a range's end gives a tile at or past klen, which mayAt rules out.
    const guarded = (u: SExpr, j: SExpr) => (spans ? b.and(b.lt(u, spans.count), mayAt(j)) : mayAt(j));
    const jf = spans ? kb.let('jf', spans.at(b.i(0))) : from;
    kb.if(guarded(from, jf), () => loadKeys(jf));
    kb.for(uv, from, to, b.i(Bk), () => {
      if (spans) kb.let('j0', spans.at(u0));
      const Lk = kb.let('Lk', b.min(b.i(Bk), b.sub(klen, j0)));
      const ranges = rangesAt(j0, Lk);
      const may = tileMaySee(ir.mask, ranges);
      const un = b.add(u0, b.i(Bk));
      const next = tileAt(un);
      const prefetch = () => kb.if(guarded(un, next), () => loadKeys(next));
      kb.if(may, () => {
        const rk = keysAt(j0);
        kb.map(Vt, src.elem('v', rk).at(R, Cv), { rows: Lk, cols: b.i(V), fill: 0 });
        kb.matmul(Sm, Q, Kt, { transB: true });
        // (The scores read K only through Sm: scores with features outside dot(q, k) are unsupported.)
        if (early) prefetch();
        // Score modification and mask, per element; masked elements hold a large negative sentinel.
        const pair = pairLeaves(st, rq, rk, Sm, src.uses);
        // Row terms of the score at the query tile's first row (row-terms.ts): every row of the
        // tile then shares them.
        const score = kernelScore(st, pair, () => pairLeaves(st, { ...rq, pos: () => i0 }, rk, Sm, src.uses));
        const visible = lowerPair(ir.mask, pair);
        let s = score;
        if (gated) s = b.add(s, b.sub(b.ld('gcum', b.add(b.mul(b.add(b.add(start, i0), R), P.H), h)), b.ld('gcum', b.add(b.mul(b.add(b.add(start, j0), Cv), P.H), h))));
        // Softmax weights in base 2 (FlashAttention-2's): the scores are kept times log2 e (folded
        // into the score's constant factor where it has one), so that each weight is one 2^x.
        // A score that is the raw product times a positive constant c (q·k/√d) keeps the raw
        // product instead, the row maxima too (c > 0 keeps the order), and each weight is
        // 2^{s·c′ − m·c′} with c′ = c·log2 e: one multiply-add per element, and no scaling pass.
        const raw = ir.weight === 'softmax' && !gated ? rawTimes(s, b.tile(Sm, R, Cv)) : undefined;
        if (ir.weight === 'softmax') s = raw !== undefined ? b.tile(Sm, R, Cv) : log2eTimes(s);
        const f = raw !== undefined ? b.f(raw * Math.LOG2E) : undefined;
        const scaled = (x: SExpr) => (f ? b.mul(x, f) : x);
        // A whole tile the mask keeps (a causal kernel's tiles below the diagonal) takes the score
        // without the per-element test; the rest are masked element by element.
        const masked = b.sel(b.and(b.and(b.lt(R, Lq), b.lt(Cv, Lk)), visible), s, b.f(NEG));
        const whole = b.and(b.and(b.bin('eq', Lq, b.i(Bq)), b.bin('eq', Lk, b.i(Bk))), tileSeesAll(ir.mask, ranges));
        // (A whole tile of raw scores is already in Sm: nothing to map.)
        const keep = () => void (raw === undefined && kb.map(Sm, s));
        if (whole.k === 'const') (whole.v ? keep() : kb.map(Sm, masked));
        else if (raw !== undefined) kb.if(b.un('not', whole), () => kb.map(Sm, masked));
        else kb.if(whole, keep, () => kb.map(Sm, masked));
        if (ir.weight === 'softmax') {
          kb.map(Mn, b.max(b.tile(Mx, R, b.i(0)), b.fold('max', 'jj', b.i(0), b.i(Bk), b.tile(Sm, R, b.v('jj')))));
          // 2^{s − m}, with m = 0 for a row the mask has hidden so far (its maximum is the
          // sentinel): the masked scores then give 2^{−1e30} = 0 with no test per element.
          const mn = b.tile(Mn, R, b.i(0));
          kb.map(Sm, b.un('exp2', b.sub(scaled(b.tile(Sm, R, Cv)), scaled(b.sel(b.bin('gt', mn, b.f(NEG / 2)), mn, b.f(0))))));
          // The correction 2^{m_old − m_new} once per row, in Mx (its old maximum is not needed
          // again), rather than once per accumulator element.
          kb.map(Mx, b.un('exp2', scaled(b.sub(b.tile(Mx, R, b.i(0)), mn))));
          const corr = b.tile(Mx, R, b.i(0));
          kb.map(Ls, b.add(b.mul(b.tile(Ls, R, b.i(0)), corr), b.fold('sum', 'jj', b.i(0), b.i(Bk), b.tile(Sm, R, b.v('jj')))));
          kb.map(Acc, b.mul(b.tile(Acc, R, Cv), corr));
          kb.map(Mx, b.tile(Mn, R, b.i(0)));
        } else {
          const w = ir.weight === 'sigmoid' ? b.un('sigmoid', b.tile(Sm, R, Cv)) : b.un('relu', b.tile(Sm, R, Cv));
          kb.map(Sm, b.sel(b.bin('gt', b.tile(Sm, R, Cv), b.f(NEG / 2)), w, b.f(0)));
        }
        if (!early) prefetch();
        kb.matmul(Acc, Sm, Vt, { acc: 'add' });
      }, prefetch);
    }, 'key tiles');
    if (ir.weight === 'softmax') kb.map(Acc, b.sel(b.bin('gt', b.tile(Ls, R, b.i(0)), b.f(0)), b.div(b.tile(Acc, R, Cv), b.tile(Ls, R, b.i(0))), b.f(0)));
    let value: SExpr = b.tile(Acc, R, Cv);
    if (ir.epilogue) {
      const leaves = tokenLeaves(ir, rq, src.uses);
      const env: LeafEnv = { ...leaves, ref: (ref, shape) => (ref.kind === 'output' ? { width: V, at: (r, c) => b.tile(Acc, r, c) } : leaves.ref(ref, shape)) };
      const l = new ExprLowering(Bq, env, 'E', Lq);
      const e = l.lower(ir.epilogue);
      kb.absorb(l);
      value = e.at(R, Cv);
    }
    kb.op({ op: 'store', src: Acc, dst: { buf: 'out', index: b.add(b.mul(b.add(b.mul(b.add(b.add(start, i0), R), P.H), h), b.i(V)), Cv), rows: Lq, cols: b.i(V) }, value });
  });
  const buffers = [...programBuffers(ir, 'f32'), ...preparedBuffers(st), gcumBuffer, tokinfoBuffer];
  return kb.build([b.ceilDiv(P.MAXLEN, b.i(Bq)), P.H, P.N], threads, programParams(ir), buffers, `${ir.name}: query tiles of ${Bq}, key tiles of ${Bk}, online ${ir.weight}`);
}

/**
 * The flash kernel's scores are plain: softmax weights, no gate, a score that is the raw q·k times
 * a positive constant (q·k/√d: one multiply-add per element before its 2^x) under a causal mask,
 * q, k and v as given (no feature map), and no epilogue.
 */
export function plainCausalScores(st: PlanState): boolean {
  const ir = st.ir;
  if (ir.weight !== 'softmax' || ir.gate.cls !== 'none' || ir.epilogue || !ir.maskIsCausal || !ir.score) return false;
  // Feature maps (a norm of q or k, a gate on k or v) take registers too: 16–48 bytes spilled at 64.
  if (Object.values(ir.features).some((f) => f.op !== 'ref' || f.ref.kind !== 'input')) return false;
  const rows: RowTokens = { tok: (r) => r, pos: (r) => r, len: () => b.i(0), head: b.i(0) };
  const env = () => pairLeaves(st, rows, rows, 'Sm', { tokinfo: false });
  try {
    return rawTimes(kernelScore(st, env(), env), b.tile('Sm', R, Cv)) !== undefined;
  } catch (e) {
    if (e instanceof Unsupported) return false;
    throw e;
  }
}

/**
 * The score as the flash kernel computes it: for softmax weights its row terms dropped or taken at
 * the query tile's first row (splitRowTerms; `rowEnv` gives the leaves with i there), else as
 * written.
 */
function kernelScore(st: PlanState, pair: LeafEnv, rowEnv: () => LeafEnv): SExpr {
  const ir = st.ir;
  const split = ir.weight === 'softmax' ? splitRowTerms(ir.score!) : undefined;
  if (!split) return lowerPair(ir.score!, pair);
  const parts = [split.pair && lowerPair(split.pair, pair), split.atTileRow && lowerPair(split.atTileRow, rowEnv())].filter((x) => x !== undefined);
  return parts.length === 2 ? b.add(parts[0]!, parts[1]!) : (parts[0] ?? b.f(0));
}

/** c where s is `x·c` or `c·x` with x the raw score element and c a positive constant; else undefined. */
function rawTimes(s: SExpr, x: SExpr): number | undefined {
  const isX = (e: SExpr) => JSON.stringify(e) === JSON.stringify(x);
  const pos = (e: SExpr) => (e.k === 'const' && e.t === 'f' && e.v > 0 ? e.v : undefined);
  if (s.k !== 'bin' || s.fn !== 'mul') return undefined;
  return isX(s.a) ? pos(s.b) : isX(s.b) ? pos(s.a) : undefined;
}

/** s·log2 e: into the constant factor of a product with one (q·k·scale), else one more product. */
function log2eTimes(s: SExpr): SExpr {
  if (s.k === 'bin' && s.fn === 'mul' && s.b.k === 'const' && s.b.t === 'f') return b.mul(s.a, b.f(s.b.v * Math.LOG2E));
  if (s.k === 'bin' && s.fn === 'mul' && s.a.k === 'const' && s.a.t === 'f') return b.mul(b.f(s.a.v * Math.LOG2E), s.b);
  return b.mul(s, b.f(Math.LOG2E));
}

/** Leaves of a score or mask expression: element (r, c) is the pair (query i0 + r, key j0 + c). */
function pairLeaves(st: PlanState, rq: RowTokens, rk: RowTokens, Sm: string, uses: { tokinfo: boolean }): LeafEnv {
  const ir = st.ir;
  const qLeaves = tokenLeaves(ir, rq, uses);
  const kLeaves = tokenLeaves(ir, rk, uses);
  return {
    ref(ref: Ref, shape: readonly number[]): Elem {
      if (ref.kind === 'input') {
        const side = ref.at === 'j' ? kLeaves : qLeaves;
        const e = side.ref({ kind: 'input', name: ref.name, at: 't' }, shape);
        // A per-token value of the query (row) or of the key (column).
        return ref.at === 'j' ? { width: 0, at: (_r, c) => e.at(c, b.i(0)) } : { width: 0, at: (r) => e.at(r, b.i(0)) };
      }
      if (ref.kind === 'param') return qLeaves.ref(ref, shape);
      throw new Unsupported(`${ref.kind} ${ref.kind === 'feature' ? ref.which : ''} outside dot(q, k) in a score`);
    },
    paramAt: (name, shape) => qLeaves.paramAt(name, shape),
    index(name) {
      switch (name) {
        case 'i':
          return (r: SExpr) => b.un('float', rq.pos(r));
        case 'j':
          return (_r: SExpr, c: SExpr) => b.un('float', rk.pos(c));
        case 'T':
          return () => b.un('float', rq.len(b.i(0)));
        default:
          return qLeaves.index(name);
      }
    },
    qkDot: (r, c) => b.tile(Sm, r, c),
  };
}

function lowerPair(e: TExpr, env: LeafEnv): SExpr {
  const l = new ExprLowering(1, env, 'P');
  const x = l.lower(e);
  if (l.stmts.length) throw new Unsupported('a score or mask that needs more than elementwise work per pair');
  return x.at(R, Cv);
}

export { inputBuf, inputHead, headsParam };
