/**
 * The segmented state passes' middle kernel (Tiling.segment): an additive state evolves as
 * S ← diag(e^{b_L}) S + K̃ᵀV per chunk, so a segment's effect on the state entering it is
 * S_end = diag(e^{D}) S_start + S_own, with S_own the segment's final state from a zero start and
 * D = Σ of its chunks' b_L (both stored by the `_segment` pass of build-chunk.ts). This kernel runs
 * that short recurrence over the segments of each sequence — one workgroup per value tile × head ×
 * sequence — storing every segment's start state (`w_s0`, read by the `_chunk` pass, whose last
 * segment stores the final state).
 */
import * as b from '../kernel-ir/build.ts';
import type { Kernel, SExpr } from '../kernel-ir/types.ts';
import { P, programBuffers, programParams, segmentBuffers, segmentCount, segmentStateRow, tokinfoBuffer } from './buffers.ts';
import { KernelBuilder } from './kernel-builder.ts';
import type { PlanState } from './plan.ts';

const { R, C: Cv } = b;

export function buildSegmentCombineKernel(st: PlanState): Kernel {
  const ir = st.ir;
  const tl = st.tiling!;
  const K = ir.keyDim;
  const V = ir.valueDim;
  const BV = tl.BV;
  const kb = new KernelBuilder(`${ir.name}_combine`);
  const v0 = kb.let('v0', b.mul(b.wg(0), b.i(BV)));
  const h = kb.let('h', b.wg(1));
  const n = kb.let('n', b.wg(2));
  const nseg = kb.let('nseg', segmentCount(ir, tl));
  const vCols = kb.let('vcols', b.min(b.i(BV), b.sub(b.i(V), v0)));
  const guard = { rows: b.i(K), cols: vCols, fill: 0 };
  /** Element (r, c) of this workgroup's tile in a [K, V] state of head h at row `base`. */
  const at = (base: SExpr) => b.add(b.mul(b.add(base, R), b.i(V)), b.add(v0, Cv));
  const S = kb.tile('S', K, BV);
  const Own = kb.tile('Own', K, BV);
  const headRow = b.mul(b.add(b.mul(n, P.H), h), b.i(K));
  const segRow = (seg: SExpr) => segmentStateRow(n, nseg, seg, h, K);
  kb.map(S, b.sel(b.bin('ne', P.HAS_INIT, b.i(0)), b.ld('initial_state', at(headRow)), b.f(0)), guard);
  kb.op({ op: 'store', src: S, dst: { buf: 'w_s0', index: at(segRow(b.i(0))), rows: b.i(K), cols: vCols }, value: b.tile(S, R, Cv) });
  // Segment sg starts where segment sg − 1 ended (the last segment's own state is never needed:
  // its pass from its start ends with the final state).
  const sg = b.v('sg');
  kb.for('sg', b.i(1), nseg, b.i(1), () => {
    const prev = kb.let('prow', segRow(b.sub(sg, b.i(1))));
    kb.map(Own, b.ld('w_sl', at(prev)), guard);
    const decayed = ir.gate.cls === 'none' ? b.tile(S, R, Cv) : b.mul(b.tile(S, R, Cv), b.exp(b.ld('w_sd', b.add(prev, R))));
    kb.map(S, b.add(decayed, b.tile(Own, R, Cv)));
    kb.op({ op: 'store', src: S, dst: { buf: 'w_s0', index: at(segRow(sg)), rows: b.i(K), cols: vCols }, value: b.tile(S, R, Cv) });
  }, 'segments of the sequence, in order');
  const buffers = [...programBuffers(ir, 'f32'), ...segmentBuffers(ir, tl), tokinfoBuffer];
  return kb.build([b.ceilDiv(b.i(V), b.i(BV)), P.H, P.N], tl.threads, programParams(ir), buffers, `${ir.name}: the states at the starts of segments of ${tl.segment ? `${tl.segment} tokens` : `a length set by the run's shape (≥ ${tl.segmentWorkgroups} state workgroups)`}, from the earlier segments' own final states and log-decays`);
}
