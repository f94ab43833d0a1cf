/**
 * The output kernel of the split chunk form in three kernels (`Tiling.outputKernel`): the outputs
 * of every chunk at once, from what the intra-chunk kernel and the state kernel stored. One
 * workgroup per (value tile, chunk) × head × sequence. Per chunk of C tokens, with S_c the state
 * before the chunk (`w_h`, written by the state kernel) and b the cumulative log-gate (`w_b`):
 *
 *   O = (Q ⊙ e^{b}) S_c + W_a Y          Y = V (additive) or the corrected values U (`w_u`, delta)
 *   sum normalizer: O ÷ ((Q ⊙ e^{b}) z_c + Σ_j W_a[·, j] + ε)
 *
 * where W_a (`w_a`) are the decayed, masked intra-chunk weights. Exclusive reads take b of the
 * row before. The state kernel is left with the chain of state updates alone.
 */
import { isVectorGate, SUM_EPS } from '../ir/attention-ir.ts';
import * as b from '../kernel-ir/build.ts';
import type { Kernel, SExpr } from '../kernel-ir/types.ts';
import { chunkSlot, chunkStateRow, correctedValues, P, programBuffers, programParams, splitBuffers, stateBuffers, tokenLeaves, tokinfoBuffer, type RowTokens } from './buffers.ts';
import { preparedBuffers } from './build-chunk.ts';
import { chunkTerms } from './chunk-terms.ts';
import { KernelBuilder } from './kernel-builder.ts';
import { ExprLowering, isElementwise } from './lower-expr.ts';
import type { PlanState } from './plan.ts';
import { Sources } from './sources.ts';

const { R, C: Cv } = b;

const OUTPUT_SUFFIX = '_output';

/** Whether a kernel is an output kernel (its name, `SPEC_output`). */
export const isOutputKernel = (k: Kernel) => k.name.endsWith(OUTPUT_SUFFIX);

/** Value columns per workgroup of the output kernel (the whole row where the epilogue needs it). */
export function outputValueTile(st: PlanState): number {
  const V = st.ir.valueDim;
  const fullRow = st.ir.epilogue !== undefined && !isElementwise(st.ir.epilogue);
  return fullRow ? V : Math.min(64, 2 ** Math.ceil(Math.log2(V)));
}

/** What storeChunkOutput needs of its kernel: the output tile and where its rows and columns go. */
export interface OutputTarget {
  O: string;
  rt: RowTokens;
  t0: SExpr;
  L: SExpr;
  v0: SExpr;
  vCols: SExpr;
  h: SExpr;
  C: number;
}

/** Store the output tile O (rows t0 … t0 + L, columns v0 …) with the spec's epilogue applied. */
export function storeChunkOutput(kb: KernelBuilder, st: PlanState, src: Sources, o: OutputTarget): void {
  const ir = st.ir;
  const V = ir.valueDim;
  let value: SExpr = b.tile(o.O, R, Cv);
  if (ir.epilogue) {
    const leaves = tokenLeaves(ir, o.rt, src.uses);
    const env = {
      ...leaves,
      ref: (ref: Parameters<typeof leaves.ref>[0], shape: readonly number[]) =>
        ref.kind === 'output' ? { width: V, at: (r: SExpr, c: SExpr) => b.tile(o.O, r, b.sub(c, o.v0)) } : leaves.ref(ref, shape),
    };
    const l = new ExprLowering(o.C, env, 'E', o.L);
    const e = l.lower(ir.epilogue);
    kb.absorb(l);
    value = e.at(R, b.add(Cv, o.v0));
  }
  const outIdx = b.add(b.mul(b.add(b.mul(b.add(o.t0, R), P.H), o.h), b.i(V)), b.add(o.v0, Cv));
  kb.op({ op: 'store', src: o.O, dst: { buf: 'out', index: outIdx, rows: o.L, cols: o.vCols }, value });
}

export function buildOutputKernel(st: PlanState): Kernel {
  const ir = st.ir;
  const tl = st.tiling!;
  const C = tl.C;
  const BK = tl.BK;
  const K = ir.keyDim;
  const V = ir.valueDim;
  const BV = outputValueTile(st);
  const VT = Math.ceil(V / BV);
  const delta = ir.update!.cls === 'delta';
  const gate = ir.gate.cls;
  const vecGate = isVectorGate(gate);
  const hasGate = gate !== 'none';
  const norm = ir.normalizer === 'sum';
  const src = new Sources(st);
  const kb = new KernelBuilder(`${ir.name}${OUTPUT_SUFFIX}`);

  const v0 = kb.let('v0', b.mul(b.mod(b.wg(0), b.i(VT)), b.i(BV)));
  const c0 = kb.let('c0', b.mul(b.idiv(b.wg(0), b.i(VT)), b.i(C)));
  const h = kb.let('h', b.wg(1));
  const n = kb.let('n', b.wg(2));
  const start = kb.let('start', b.ld('cu', n));
  const len = kb.let('len', b.sub(b.ld('cu', b.add(n, b.i(1))), start));
  const vCols = kb.let('vcols', b.min(b.i(BV), b.sub(b.i(V), v0)));

  const Qs = kb.tile('Qs', C, BK);
  const Sh = kb.tile('Sh', BK, BV);
  const A = kb.tile('A', C, C);
  const Y = kb.tile('Y', C, BV);
  const O = kb.tile('O', C, BV, !ir.epilogue || isElementwise(ir.epilogue) ? 'register' : 'shared');
  const Bc = hasGate && !vecGate ? kb.tile('Bc', C, 1) : undefined;
  const Bs = vecGate ? kb.tile('Bs', C, BK) : undefined;
  const Z = norm ? kb.tile('Z', BK, 1) : undefined;
  const Dn = norm ? kb.tile('Dn', C, 1) : undefined;

  const L = b.v('L');
  const t0 = b.v('t0');
  const k0 = b.v('k0');
  const rt: RowTokens = { tok: (r) => b.add(t0, r), pos: (r) => b.add(c0, r), len: () => len, head: h };
  const scales = src.scaleTiles(kb, C, delta ? ['q'] : ['q', 'v']);
  const q = (name: Parameters<Sources['elem']>[0]) => src.elem(name, rt, scales.get(name));
  const rowBase = (r: SExpr, width: number) => b.mul(b.add(b.mul(b.add(t0, r), P.H), h), b.i(width));
  const { bAt, readRow } = chunkTerms(ir, BK, { Bc, Bs });
  const rowsValid = { rows: L, fill: 0 };
  const sliceCols = { ...rowsValid, cols: b.min(b.i(BK), b.sub(b.i(K), k0)) };

  // One key slice: k0 is bound once and the slice is straight-line code, so that all of a chunk's
  // loads follow each other (the CUDA backend issues such a run of loads together).
  const oneSlice = Math.ceil(K / BK) === 1;
  if (oneSlice) kb.let('k0', b.i(0));
  kb.if(b.lt(c0, len), () => {
    kb.let('L', b.min(b.i(C), b.sub(len, c0)));
    kb.let('t0', b.add(start, c0));
    const hRow = chunkStateRow(kb.let('slot', chunkSlot(start, n, c0, C)), h, K);
    // The loads first (the first slice's with the chunk's), none reading another's tile: q's row
    // factor (l2norm's), like a scalar gate's decay, scales the rows of Q S_c instead.
    const qRaw = scales.has('q') && src.linearInScale('q');
    const slice = () => {
      kb.map(Qs, (qRaw ? src.elem('q', rt, null) : q('q')).at(R, b.add(Cv, k0)), sliceCols);
      kb.map(Sh, b.ld('w_h', b.add(b.mul(hRow(b.add(k0, R)), b.i(V)), b.add(v0, Cv))), { rows: b.min(b.i(BK), b.sub(b.i(K), k0)), cols: vCols, fill: 0 });
      if (Z) kb.map(Z, b.ld('w_z', hRow(b.add(k0, R))), { rows: b.min(b.i(BK), b.sub(b.i(K), k0)), cols: b.i(1), fill: 0 });
      if (Bs) kb.map(Bs, b.ld('w_b', b.add(rowBase(R, K), b.add(k0, Cv))), sliceCols);
      if (oneSlice) chunkLoads();
      if (Bs) kb.map(Qs, b.mul(b.tile(Qs, R, Cv), b.exp(bAt(readRow(R), Cv))));
      kb.matmul(O, Qs, Sh, { acc: 'add' });
      if (Dn) kb.map(Dn, b.add(b.tile(Dn, R, b.i(0)), b.fold('sum', 'd', b.i(0), b.i(BK), b.mul(b.tile(Qs, R, b.v('d')), b.tile(Z!, b.v('d'), b.i(0))))));
    };
    const chunkLoads = () => {
      kb.map(A, b.ld('w_a', b.add(rowBase(R, C), Cv)), { ...rowsValid, cols: b.i(C) });
      kb.map(Y, delta ? b.ld(correctedValues(st), b.add(rowBase(R, V), b.add(v0, Cv))) : q('v').at(R, b.add(Cv, v0)), { ...rowsValid, cols: vCols });
      for (const [name, tile] of scales) kb.map(tile, q(src.rowScale(name)!).at(R, b.i(0)), { ...rowsValid, cols: b.i(1) });
      if (Bc) kb.map(Bc, b.ld('w_b', rowBase(R, 1)), { ...rowsValid, cols: b.i(1) });
    };
    kb.map(O, b.f(0));
    if (Dn) kb.map(Dn, b.f(0));
    if (oneSlice) slice();
    else {
      chunkLoads();
      kb.for('k0', b.i(0), b.i(K), b.i(BK), slice, 'key-feature slices: reads of the state before the chunk');
    }
    // The rows of Q S_c (and of Q z_c): a scalar gate's decay, q's row factor where it was left out.
    const rowScale = [Bc ? b.exp(bAt(readRow(R), b.i(0))) : undefined, qRaw ? b.tile(scales.get('q')!, R, b.i(0)) : undefined].filter((x): x is SExpr => !!x);
    if (rowScale.length) {
      const f = rowScale.reduce((x, y) => b.mul(x, y));
      kb.map(O, b.mul(b.tile(O, R, Cv), f));
      if (Dn) kb.map(Dn, b.mul(b.tile(Dn, R, b.i(0)), f));
    }
    kb.matmul(O, A, Y, { acc: 'add' });
    if (Dn) {
      kb.map(Dn, b.add(b.tile(Dn, R, b.i(0)), b.fold('sum', 'j', b.i(0), b.i(C), b.tile(A, R, b.v('j')))));
      kb.map(O, b.div(b.tile(O, R, Cv), b.add(b.tile(Dn, R, b.i(0)), b.f(SUM_EPS))));
    }
    storeChunkOutput(kb, st, src, { O, rt, t0, L, v0, vCols, h, C });
  });

  const buffers = [...programBuffers(ir, 'f32'), ...preparedBuffers(st), ...splitBuffers(st), ...stateBuffers(ir, C), tokinfoBuffer];
  return kb.build(
    [b.mul(b.ceilDiv(P.MAXLEN, b.i(C)), b.i(VT)), P.H, P.N],
    tl.threads,
    programParams(ir),
    buffers,
    `${ir.name}: outputs of every chunk of ${C} at once from the states before the chunks, one workgroup per value tile of ${BV} × chunk × head × sequence, key slices of ${BK}`,
  );
}
