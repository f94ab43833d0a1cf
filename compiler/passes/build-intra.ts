/**
 * The intra-chunk kernel of the split chunk form: everything of a chunk that does not depend on
 * the state, computed for all chunks in parallel (one workgroup per chunk × head × sequence), so
 * that the sequential state kernel is left with state reads and updates only. Per chunk of C
 * tokens, with b the cumulative log-gate inside the chunk (scalar or per key feature):
 *
 *   w_b  = b                                          (the state kernel scales q, k and S by it)
 *   w_a  = (QKᵀ ⊙ e^{b_r − b_c} ⊙ mask) diag(s)        intra-chunk output weights, bonus on the
 *                                                      diagonal for exclusive reads
 *   delta rules, in the WY/UT form:
 *     Tm   = (I + strictly-lower(diag(β)(KKᵀ ⊙ e^{b_r − b_c})))⁻¹
 *     w_w  = Tm diag(β) (K ⊙ e^{b})                   so that the chunk's corrected values are
 *     w_u  = Tm diag(β) V                             U − W S (S the state before the chunk)
 *     w_k  = K ⊙ e^{b_L − b}                          with vector gates in three kernels
 *                                                      (decayedKeys): the state kernel's update
 *
 * Vector gates score pairs of tokens in blocks of SUB = 16 rows (where C is a larger multiple of
 * 16): a pair in one block by the per-element decayed dot product (exact in log space, only the
 * [C, SUB] block diagonal, on and below its diagonal), a pair (i, j) with j in an earlier block
 * than i by a tensor-core matmul through the boundary r = 16·blk(i) − 1:
 * (q_i ⊙ e^{b_i − b_r})·(k_j ⊙ e^{b_r − b_j}), both factors ≤ 1 (the reference interpreter's
 * sub-chunks, with the boundary of i's block). Delta rules score KKᵀ the same way, with k_i in
 * place of q_i (PlanOptions.scoreBlocks turns the blocks off, for measurements).
 *
 * Rows past the end of a sequence are zero; nothing is stored for them.
 */
import { isVectorGate } from '../ir/attention-ir.ts';
import * as b from '../kernel-ir/build.ts';
import type { Kernel, SExpr } from '../kernel-ir/types.ts';
import { featBuf, P, programBuffers, programParams, splitBuffers, tokinfoBuffer, decayedKeys, type RowTokens } from './buffers.ts';
import { preparedBuffers } from './build-chunk.ts';
import { KernelBuilder } from './kernel-builder.ts';
import type { PlanState } from './plan.ts';
import { chunkTerms } from './chunk-terms.ts';
import { Sources } from './sources.ts';
import { fragmentTileFits } from './dtypes.ts';

const { R, C: Cv } = b;

/** Rows per block of the vector-gate scores (SUBCHUNK of the reference interpreter's chunk form). */
const SUB = 16;

export function buildIntraKernel(st: PlanState): Kernel {
  const ir = st.ir;
  const tl = st.tiling!;
  const C = tl.C;
  const BK = tl.BK;
  const K = ir.keyDim;
  const V = ir.valueDim;
  const delta = ir.update!.cls === 'delta';
  const gate = ir.gate.cls;
  const vecGate = isVectorGate(gate);
  const hasGate = gate !== 'none';
  const exclusive = ir.read.kind === 'exclusive';
  const decayed = decayedKeys(ir, tl);
  const src = new Sources(st);
  const kb = new KernelBuilder(`${ir.name}_intra`);

  const c0 = kb.let('c0', b.mul(b.wg(0), b.i(C)));
  const h = kb.let('h', b.wg(1));
  const n = kb.let('n', b.wg(2));
  const start = kb.let('start', b.ld('cu', n));
  const len = kb.let('len', b.sub(b.ld('cu', b.add(n, b.i(1))), start));

  const Qs = kb.tile('Qs', C, BK);
  const Ks = kb.tile('Ks', C, BK);
  const A = kb.tile('A', C, C);
  const Akk = delta ? kb.tile('Akk', C, C) : undefined;
  const Gc = hasGate && !vecGate ? kb.tile('Gc', C, 1) : undefined;
  const Bc = hasGate && !vecGate ? kb.tile('Bc', C, 1) : undefined;
  const Gs = vecGate ? kb.tile('Gs', C, BK) : undefined;
  const Bs = vecGate ? kb.tile('Bs', C, BK) : undefined;
  const Sc = src.has('scale') ? kb.tile('Sc', C, 1) : undefined;
  const Bt = delta ? kb.tile('Bt', C, 1) : undefined;
  const Bn = exclusive ? kb.tile('Bn', C, 1) : undefined;
  // Vector gates in blocks of SUB rows: the block diagonal per element (Ad, and Akd for KKᵀ),
  // the rest by matmuls accumulated in A (Akk) itself (their scores are taken from the blocks
  // after the slice loop). The matmuls' scaled operands live in Gs, free after its cumulative
  // sum, and KKᵀ's row operand in Qs, free after the per-element scores.
  const blocks = vecGate && C > SUB && C % SUB === 0 && (st.options.scoreBlocks ?? true);
  const Ad = blocks ? kb.tile('Ad', C, SUB) : undefined;
  const Akd = blocks && delta ? kb.tile('Akd', C, SUB) : undefined;

  const L = b.v('L');
  const t0 = b.v('t0');
  const k0 = b.v('k0');
  const rt: RowTokens = { tok: (r) => b.add(t0, r), pos: (r) => b.add(c0, r), len: () => len, head: h };
  const scales = src.scaleTiles(kb, C, ['q', 'k', 'v']);
  const fold = delta && src.foldsKeyScale();
  const q = (name: Parameters<Sources['elem']>[0]) => src.elem(name, rt, scales.get(name));
  const rowBase = (r: SExpr, width: number) => b.mul(b.add(b.mul(b.add(t0, r), P.H), h), b.i(width));
  const sliceCols = { rows: L, cols: b.min(b.i(BK), b.sub(b.i(K), k0)), fill: 0 };
  const { bAt, readRow, decayedDot, outputWeights } = chunkTerms(ir, BK, { Bc, Bs, Sc });
  const loadGateSlice = () => {
    kb.map(Gs!, q('g').at(R, b.add(Cv, k0)), sliceCols);
    kb.op({ op: 'cumsum', dst: Bs!, src: Gs! });
  };

  /** The first row of row r's block. */
  const blockStart = (r: SExpr) => b.mul(b.idiv(r, b.i(SUB)), b.i(SUB));
  /** One key slice's scores of pairs in the same block (per element) and in earlier blocks (matmuls). */
  const blockScores = () => {
    const j = b.add(blockStart(R), Cv);
    // Only the elements on and below the block's diagonal (below it for KKᵀ) are ever read.
    const inBlock = b.sub(R, blockStart(R));
    kb.map(Ad!, b.add(b.tile(Ad!, R, Cv), b.sel(b.le(Cv, inBlock), decayedDot(Qs, Ks, readRow(R), j), b.f(0))));
    if (Akd) kb.map(Akd, b.add(b.tile(Akd, R, Cv), b.sel(b.lt(Cv, inBlock), decayedDot(Ks, Ks, R, j), b.f(0))));
    const d = Cv;
    for (let I = 1; I < C / SUB; I++) {
      // Block I's rows of A gain, for the columns j of earlier blocks, the products
      // through the boundary row r = 16·I − 1. In Gs: rows j ≤ r hold k_j ⊙ e^{b_r − b_j}, and
      // block I's rows (Qd) q_i ⊙ e^{b_{i'} − b_r} (i' = i, or i − 1 ≥ r for exclusive reads). The
      // product's other columns (j ≥ 16·I: Qd itself, Gs's rest) are never read: fromBlocks takes
      // block I's own columns from the block diagonal, and the mask drops later ones. KKᵀ's rows
      // (Kd, in Qs: block I's q rows are read by now) are k_i ⊙ e^{b_i − b_r}.
      const r = b.i(I * SUB - 1);
      const Qd = { tile: Gs!, r0: b.i(I * SUB), rows: SUB };
      const row = b.add(R, b.i(I * SUB));
      kb.map({ tile: Gs!, r0: b.i(0), rows: I * SUB }, b.mul(b.tile(Ks, R, d), b.exp(b.sub(bAt(r, d), bAt(R, d)))));
      kb.map(Qd, b.mul(b.tile(Qs, row, d), b.exp(b.sub(bAt(readRow(row), d), bAt(r, d)))));
      const Kd = { tile: Qs, r0: b.i(I * SUB), rows: SUB };
      if (Akd) kb.map(Kd, b.mul(b.tile(Ks, row, d), b.exp(b.sub(bAt(row, d), bAt(r, d)))));
      kb.matmul({ tile: A, r0: b.i(I * SUB), rows: SUB }, Qd, Gs!, { transB: true, acc: 'add' });
      if (Akd) kb.matmul({ tile: Akk!, r0: b.i(I * SUB), rows: SUB }, Kd, Gs!, { transB: true, acc: 'add' });
    }
  };
  /** Score (r, c) from the block diagonal `diag` [C, SUB] where c is in r's block, else from `off`. */
  const fromBlocks = (diag: string, off: string) => {
    const c = b.sub(Cv, blockStart(R));
    return b.sel(b.ge(c, b.i(0)), b.tile(diag, R, b.max(b.i(0), b.min(c, b.i(SUB - 1)))), b.tile(off, R, Cv));
  };

  kb.if(b.lt(c0, len), () => {
    kb.let('L', b.min(b.i(C), b.sub(len, c0)));
    kb.let('t0', b.add(start, c0));
    if (Gc) {
      kb.map(Gc, q('g').at(R, b.i(0)), { rows: L, cols: b.i(1), fill: 0 });
      kb.op({ op: 'cumsum', dst: Bc!, src: Gc });
      kb.op({ op: 'store', src: Bc!, dst: { buf: 'w_b', index: rowBase(R, 1), rows: L, cols: b.i(1) }, value: b.tile(Bc!, R, b.i(0)) });
    }
    if (Sc) kb.map(Sc, q('scale').at(R, b.i(0)), { rows: L, cols: b.i(1), fill: 0 });
    if (Bt) kb.map(Bt, q('beta').at(R, b.i(0)), { rows: L, cols: b.i(1), fill: 0 });
    // The row factors (1/‖q‖ of l2norm(q), …): computed here from the chunk's rows, as the prepare
    // kernel would (the same lowering), and stored for the state and output kernels, which run
    // after this one — the program then needs no prepare kernel for them (pipeline.ts): one launch
    // and one pass over q and k fewer (their rows are read again here at once, from the caches).
    for (const [name, tile] of scales) {
      const factor = src.rowScale(name)!;
      if (st.options.intraNorms === false) {
        kb.map(tile, q(factor).at(R, b.i(0)), { rows: L, cols: b.i(1), fill: 0 });
        continue;
      }
      kb.map(tile, src.computed(kb, factor, C, rt, L).at(R, b.i(0)), { rows: L, cols: b.i(1), fill: 0 });
      kb.op({ op: 'store', src: tile, dst: { buf: featBuf(factor), index: b.add(b.mul(b.add(t0, R), P.H), h), rows: L, cols: b.i(1) }, value: b.tile(tile, R, b.i(0)) });
    }
    kb.map(A, b.f(0));
    if (Akk) kb.map(Akk, b.f(0));
    if (Ad) kb.map(Ad, b.f(0));
    if (Akd) kb.map(Akd, b.f(0));
    if (Bn) kb.map(Bn, b.f(0));
    kb.for('k0', b.i(0), b.i(K), b.i(BK), () => {
      kb.map(Qs, q('q').at(R, b.add(Cv, k0)), sliceCols);
      kb.map(Ks, q('k').at(R, b.add(Cv, k0)), sliceCols);
      if (vecGate) {
        loadGateSlice();
        kb.op({ op: 'store', src: Bs!, dst: { buf: 'w_b', index: b.add(rowBase(R, K), b.add(k0, Cv)), rows: L, cols: b.min(b.i(BK), b.sub(b.i(K), k0)) }, value: b.tile(Bs!, R, Cv) });
      }
      if (Bn && src.has('bonus')) {
        const ub = q('bonus');
        const uAt = (d: SExpr) => ub.at(R, ub.width ? b.add(k0, d) : b.i(0));
        const dEnd = b.min(b.i(BK), b.sub(b.i(K), k0));
        kb.map(Bn, b.add(b.tile(Bn, R, b.i(0)), b.fold('sum', 'd', b.i(0), dEnd, b.mul(b.mul(b.tile(Qs, R, b.v('d')), b.tile(Ks, R, b.v('d'))), uAt(b.v('d'))))));
      }
      if (blocks) blockScores();
      else if (vecGate) {
        kb.map(A, b.add(b.tile(A, R, Cv), b.sel(b.le(Cv, readRow(R)), decayedDot(Qs, Ks, readRow(R)), b.f(0))));
        if (Akk) kb.map(Akk, b.add(b.tile(Akk, R, Cv), b.sel(b.lt(Cv, R), decayedDot(Ks, Ks, R), b.f(0))));
      } else {
        kb.matmul(A, Qs, Ks, { transB: true, acc: 'add' });
        if (Akk) kb.matmul(Akk, Ks, Ks, { transB: true, acc: 'add' });
      }
    }, 'key-feature slices: scores');
    if (blocks) {
      // The scores from their blocks, causally masked (i ≥ j; exclusive reads: i − 1 ≥ j).
      kb.map(A, b.sel(b.le(Cv, readRow(R)), fromBlocks(Ad!, A), b.f(0)));
    }
    // (Vector gates with neither write strengths nor a bonus leave the weights as they are.)
    const weights = outputWeights(A, Bn);
    if (weights.k !== 'tile' || weights.tile !== A) kb.map(A, weights);
    // k's row factor folded into the results (Sources.foldsKeyScale): the weights' columns ÷ f.
    const Kn = fold ? scales.get('k')! : undefined;
    const weight = Kn ? b.sel(b.lt(Cv, L), b.div(b.tile(A, R, Cv), b.tile(Kn, Cv, b.i(0))), b.f(0)) : b.tile(A, R, Cv);
    kb.op({ op: 'store', src: A, dst: { buf: 'w_a', index: b.add(rowBase(R, C), Cv), rows: L, cols: b.i(C) }, value: weight });
    /** A row of W or U, times k's row factor where it is folded in. */
    const wyRow = (t: string) => (Kn ? b.mul(b.tile(t, R, Cv), b.tile(Kn, R, b.i(0))) : b.tile(t, R, Cv));
    if (!delta) return;
    // Tm = (I + strictly-lower(diag(β)(KKᵀ ⊙ decay)))⁻¹, in the tile A (its weights are stored).
    const beta = (row: SExpr) => b.tile(Bt!, row, b.i(0));
    const decay = hasGate && !vecGate ? b.exp(b.sub(bAt(R, b.i(0)), bAt(Cv, b.i(0)))) : b.f(1);
    const kk = Akd ? fromBlocks(Akd, Akk!) : b.tile(Akk!, R, Cv);
    kb.map(Akk!, b.sel(b.lt(Cv, R), b.mul(b.mul(kk, decay), beta(R)), b.f(0)));
    kb.map(A, b.sel(b.bin('eq', R, Cv), b.f(1), b.f(0)));
    kb.op({ op: 'trisolve', a: Akk!, b: A, sign: 1 });
    // W = Tm diag(β)(K ⊙ e^{b}) and U = Tm diag(β) V, a slice of columns at a time (Qs, or the
    // register tile WY, holds the product). With one key slice, k and the gate sums are still in Ks and Bs. Vector gates put
    // the products' operand in Gs (free after the cumulative sum): Ks then feeds no matmul, and its
    // rows keep the one-word padding under which the per-element scores read it without bank
    // conflicts (an operand's eight words put every fourth row on the same banks).
    const oneSlice = Math.ceil(K / BK) === 1;
    // With 16-bit tensor-core operands everywhere (PlanOptions.halfOperands), the products go to a
    // register tile (the accumulators) and are stored from it: no pass through workgroup memory,
    // and Qs, then written only by maps and read only by matmuls, is a 16-bit operand tile. Where one slice covers
    // K' and V' and the tile is at most 32 words a thread (two slices of K' = V' = 256 spilled).
    const wyRegisters = st.options.halfOperands && oneSlice && V <= BK && fragmentTileFits(st, tl.threads, C, BK, 32);
    const WY = wyRegisters ? kb.tile('WY', C, BK, 'register') : Qs;
    // The products' right operand: Qs too where it is free after the scores (WY in registers), a
    // 16-bit tile read by ldmatrix; else k's tile scaled in place.
    const Wop = vecGate ? Gs! : wyRegisters ? Qs : Ks;
    kb.for('k0', b.i(0), b.i(K), b.i(BK), () => {
      if (!oneSlice) {
        kb.map(Ks, q('k').at(R, b.add(Cv, k0)), sliceCols);
        if (vecGate) loadGateSlice();
      }
      if (decayed) {
        // The keys decayed to the chunk's end for the state kernel (decayedKeys): raw k where its
        // row factor is folded into W and U.
        const k = Kn ? b.div(b.tile(Ks, R, Cv), b.tile(Kn, R, b.i(0))) : b.tile(Ks, R, Cv);
        kb.op({ op: 'store', src: Ks, dst: { buf: 'w_k', index: b.add(rowBase(R, K), b.add(k0, Cv)), rows: L, cols: b.min(b.i(BK), b.sub(b.i(K), k0)) }, value: b.mul(k, b.exp(b.sub(bAt(b.sub(L, b.i(1)), Cv), bAt(R, Cv)))) });
      }
      kb.map(Wop, b.mul(b.mul(b.tile(Ks, R, Cv), beta(R)), hasGate ? b.exp(bAt(R, Cv)) : b.f(1)));
      kb.matmul(WY, A, Wop);
      kb.op({ op: 'store', src: WY, dst: { buf: 'w_w', index: b.add(rowBase(R, K), b.add(k0, Cv)), rows: L, cols: b.min(b.i(BK), b.sub(b.i(K), k0)) }, value: wyRow(WY) });
    }, 'key-feature slices: W');
    const vCols = { rows: L, cols: b.min(b.i(BK), b.sub(b.i(V), k0)), fill: 0 };
    kb.for('k0', b.i(0), b.i(V), b.i(BK), () => {
      kb.map(Wop, b.mul(q('v').at(R, b.add(Cv, k0)), beta(R)), vCols);
      kb.matmul(WY, A, Wop);
      kb.op({ op: 'store', src: WY, dst: { buf: 'w_u', index: b.add(rowBase(R, V), b.add(k0, Cv)), rows: L, cols: vCols.cols }, value: wyRow(WY) });
    }, 'value slices: U');
  });

  const buffers = [...programBuffers(ir, 'f32'), ...preparedBuffers(st), ...splitBuffers(st), tokinfoBuffer];
  return kb.build([b.ceilDiv(P.MAXLEN, b.i(C)), P.H, P.N], tl.threads, programParams(ir), buffers, `${ir.name}: intra-chunk scores${delta ? ' and WY factors' : ''}, one workgroup per chunk of ${C} × head × sequence, key slices of ${BK}`);
}
