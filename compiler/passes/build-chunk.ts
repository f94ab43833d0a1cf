/**
 * The fused chunk kernel of the state-recurrent family: one workgroup per (value tile, head,
 * sequence) walks its sequence chunk by chunk, keeping the state tile S[K', BV] in workgroup
 * memory. Key features are processed in slices of BK columns, so the chunk size and the on-chip
 * tiles are independent. Per chunk (the algorithm of the reference interpreter's chunk form):
 *   additive  O = (Q ⊙ e^{b}) S + (QKᵀ ⊙ decay ⊙ mask) diag(s) V;  S ← e^{b_L} S + (K ⊙ e^{b_L − b} ⊙ s)ᵀ V
 *   delta     X = (K ⊙ e^{b}) S;  U = (I + diag(β)(KKᵀ ⊙ decay))⁻¹ diag(β)(V − X);
 *             O = (Q ⊙ e^{b}) S + (QKᵀ ⊙ decay) U;  S ← e^{b_L} S + (K ⊙ e^{b_L − b})ᵀ U
 *   DPLR      R = (A ⊙ e^{b'}) S + (ABᵀ…) V; P = (I − …)⁻¹ R; O = (Q ⊙ e^{b}) S + (QBᵀ…) P + (QKᵀ…) V
 *   mLSTM     additive with the stabiliser m (weights e^{log s_j + b_t − b_j − m_t} ≤ 1)
 * With C = 1 the same kernel is the token-sequential (recurrent/decode) form.
 */
import { isVectorGate, SUM_EPS, type AttentionIR } from '../ir/attention-ir.ts';
import * as b from '../kernel-ir/build.ts';
import { loadsOf, replaceNode, unconditional, usesVar } from '../kernel-ir/analysis.ts';
import type { Kernel, SExpr } from '../kernel-ir/types.ts';
import { chunkSlot, chunkStateRow, correctedValues, decayedKeys, P, programBuffers, programParams, scratchBuffer, segmentBuffers, segmentCount, segmented, segmentLength, segmentStateRow, splitBuffers, stateBuffers, tokinfoBuffer, type RowTokens } from './buffers.ts';
import { storeChunkOutput } from './build-output.ts';
import { KernelBuilder } from './kernel-builder.ts';
import { isElementwise } from './lower-expr.ts';
import type { PlanState } from './plan.ts';
import { chunkTerms } from './chunk-terms.ts';
import { Sources } from './sources.ts';

const { R, C: Cv } = b;

/**
 * Which pass over the sequence a state kernel makes: all of it ('whole'); or, with segments
 * (Tiling.segment), each segment from a zero state, storing only its final state and log-decay
 * ('segment'), or each segment from its true start (w_s0, from build-segments.ts), storing the
 * states before its chunks ('fromStarts').
 */
export type StatePass = 'whole' | 'segment' | 'fromStarts';

export function buildChunkKernel(st: PlanState, pass: StatePass = 'whole'): Kernel {
  const ir = st.ir;
  const tl = st.tiling!;
  const C = tl.C;
  const u = ir.update!;
  const cls = u.cls;
  const K = ir.keyDim;
  const V = ir.valueDim;
  // The state-only kernel of an additive update with key tiles (Tiling.stateKeyTile): the rows of
  // the state evolve independently (S ← diag(e^{b_L}) S + K̃ᵀV), so each workgroup holds one tile
  // of key rows × value columns, and the key tiles are a grid dimension next to the value tiles.
  const keyTile = tl.split && tl.outputKernel && cls === 'additive' && tl.stateKeyTile ? tl.stateKeyTile : undefined;
  // The delta rule's state-only kernel with S in registers (Tiling.stateRegisters; the register branch of stateOnlyChunk).
  const regState = tl.split === true && tl.outputKernel === true && cls === 'delta' && tl.stateRegisters === true;
  const BK = keyTile ?? tl.BK;
  const BV = tl.BV;
  const KP = Math.ceil(K / BK) * BK;
  const gate = ir.gate;
  const vecGate = isVectorGate(gate.cls);
  const hasGate = gate.cls !== 'none';
  const exclusive = ir.read.kind === 'exclusive';
  const maxabs = ir.normalizer === 'maxabs';
  const norm = ir.normalizer !== 'none';
  const src = new Sources(st);
  // Split form: scores, WY factors and gate cumsums come from the intra-chunk kernel (build-intra.ts).
  const split = tl.split === true;
  // Split form in three kernels: the outputs come from the output kernel (build-output.ts), and this
  // kernel stores the state before each chunk (and, for delta rules, the corrected values).
  const outputKernel = split && tl.outputKernel === true;
  // Delta rules with vector gates in three kernels: keys decayed by the intra-chunk kernel.
  const decayed = decayedKeys(ir, tl);
  const kb = new KernelBuilder(`${ir.name}_${C === 1 ? 'recurrent' : pass === 'segment' ? 'segment' : 'chunk'}`);
  const SEG = pass !== 'whole' && segmented(tl);
  if (pass !== 'whole' && (!SEG || !outputKernel || cls !== 'additive' || norm)) throw new Error(`internal: segmented state passes need Tiling.segment and the additive three-kernel form without a normalizer`);

  const VT = Math.ceil(V / BV);
  const v0 = kb.let('v0', b.mul(keyTile ? b.mod(b.wg(0), b.i(VT)) : b.wg(0), b.i(BV)));
  // The workgroup's key tile (keyTile): its first key row, and the rows of the state it holds.
  const kt0 = keyTile ? kb.let('kt0', b.mul(b.idiv(b.wg(0), b.i(VT)), b.i(BK))) : b.i(0);
  const stateRows = keyTile ? b.min(b.i(BK), b.sub(b.i(K), kt0)) : b.i(K);
  const h = kb.let('h', b.wg(1));
  // With segments, workgroups along z are (sequence, segment) pairs.
  // With a length from the run's shape (Tiling.segmentWorkgroups), bound once.
  const segLen = SEG ? (tl.segment ? segmentLength(ir, tl) : kb.let('seglen', segmentLength(ir, tl))) : undefined;
  const nseg = segLen ? kb.let('nseg', b.ceilDiv(P.MAXLEN, segLen)) : undefined;
  const n = kb.let('n', nseg ? b.idiv(b.wg(2), nseg) : b.wg(2));
  const sg = nseg ? kb.let('sg', b.mod(b.wg(2), nseg)) : undefined;
  const start = kb.let('start', b.ld('cu', n));
  const len = kb.let('len', b.sub(b.ld('cu', b.add(n, b.i(1))), start));
  const vCols = kb.let('vcols', b.min(b.i(BV), b.sub(b.i(V), v0)));
  /** Row r of this workgroup's state in a [K, V] (or [K]) slot of w_sl, w_s0 (w_sd) of its segment. */
  const segmentRow = (r: SExpr) => b.add(segmentStateRow(n, nseg!, sg!, h, K), r);

  // ── state tiles ────────────────────────────────────────────────────────────
  // With key tiles the state stays in registers (on CUDA, the tensor-core accumulators of the
  // update's product): every op on it — the decay, the update, the stores — is elementwise or a
  // matmul into it, so no thread reads another's elements.
  const S = kb.tile('S', keyTile ? BK : KP, BV, keyTile || regState ? 'register' : undefined);
  const Z = norm ? kb.tile('Z', keyTile ? BK : KP, 1) : undefined;
  const Mt = maxabs ? kb.tile('Mt', 1, 1) : undefined;
  const stateBase = b.mul(b.add(b.mul(n, P.H), h), b.i(K));
  kb.note(pass === 'segment' ? "a zero state: the segment's own" : pass === 'fromStarts' ? "the state at the segment's start" : 'initial state (zero unless HAS_INIT)');
  const hasInit = b.bin('ne', P.HAS_INIT, b.i(0));
  /** Index of the state's row `r` of this workgroup (its key tile's rows with keyTile) in a [K] or [K, V] buffer of one head. */
  const stateRow = (r: SExpr) => (keyTile ? b.add(kt0, r) : r);
  if (pass === 'segment') kb.map(S, b.f(0));
  else if (pass === 'fromStarts') kb.map(S, b.ld('w_s0', b.add(b.mul(segmentRow(stateRow(R)), b.i(V)), b.add(v0, Cv))), { rows: stateRows, cols: vCols, fill: 0 });
  else kb.map(S, b.sel(hasInit, b.ld('initial_state', b.add(b.mul(b.add(stateBase, stateRow(R)), b.i(V)), b.add(v0, Cv))), b.f(0)), { rows: stateRows, cols: vCols, fill: 0 });
  // The segment pass's log-decay: Σ over its chunks of b_L, per key row.
  const Dl = pass === 'segment' && hasGate ? kb.tile('Dl', keyTile ? BK : KP, 1, keyTile ? 'register' : undefined) : undefined;
  if (Dl) kb.map(Dl, b.f(0));
  if (Z) kb.map(Z, b.sel(hasInit, b.ld('initial_z', b.add(stateBase, stateRow(R))), b.f(0)), { rows: stateRows, cols: b.i(1), fill: 0 });
  if (Mt) kb.map(Mt, b.sel(hasInit, b.ld('initial_m', b.add(b.mul(n, P.H), h)), b.f(0)));

  // ── per-chunk tiles ────────────────────────────────────────────────────────
  // The chunk's inputs are staged through registers one chunk ahead (chunkInput, below) in the
  // fused form on WebGPU, while a stage costs a thread at most 4 registers.
  const chunkStaging = st.target.backend === 'wgsl' && !split && C > 1 && C * BV <= 4 * tl.threads;
  // The fused delta rule reads the chunk's values once, elementwise (X = β(V − K S)): from their
  // stage, with no copy in workgroup memory (that memory goes to wider key slices instead).
  const valuesInPlace = chunkStaging && cls === 'delta';
  const Vc = (split && cls === 'delta') || valuesInPlace ? undefined : kb.tile('Vc', C, BV);
  const Qs = kb.tile('Qs', C, BK);
  const Ks = kb.tile('Ks', C, BK);
  // The output block lives in registers unless a non-elementwise epilogue must read it across threads.
  // (Not declared where the output kernel computes the outputs: nothing here may then touch it.)
  const O = outputKernel ? 'O' : kb.tile('O', C, BV, !ir.epilogue || isElementwise(ir.epilogue) ? 'register' : 'shared');
  const Gc = hasGate && !vecGate && !split ? kb.tile('Gc', C, 1) : undefined;
  const Bc = hasGate && !vecGate ? kb.tile('Bc', C, 1) : undefined;
  const Gs = vecGate && !split ? kb.tile('Gs', C, BK) : undefined;
  const Bs = vecGate ? kb.tile('Bs', C, BK) : undefined;
  const Sc = src.has('scale') && !maxabs ? kb.tile('Sc', C, 1) : undefined;
  const Li = maxabs ? kb.tile('Li', C, 1) : undefined;
  const Mr = maxabs ? kb.tile('Mr', C, 1) : undefined;
  const Dn = norm && !outputKernel ? kb.tile('Dn', C, 1) : undefined;
  const Bt = cls === 'delta' && !split ? kb.tile('Bt', C, 1) : undefined;

  const c0 = b.v('c0');
  const L = b.v('L');
  const t0 = b.v('t0');
  const k0 = b.v('k0');
  const rt: RowTokens = { tok: (r) => b.add(t0, r), pos: (r) => b.add(c0, r), len: () => len, head: h };
  const rowsValid = { rows: L, fill: 0 };
  // Split delta form: k's row factor is folded into the intra-chunk kernel's results, and k is
  // read raw here (Sources.foldsKeyScale).
  const foldK = src.foldsKeyScale();
  const scaled: ('q' | 'k' | 'v')[] = outputKernel ? (cls === 'delta' ? [] : ['v']) : ['q', 'v'];
  const scales = src.scaleTiles(kb, C, foldK ? scaled : [...scaled, 'k']);
  /** Whether q's or k's row factor is left out of its loads (folded elsewhere, or computed here: deferNorms). */
  const rawRows = (name: string) => (foldK && name === 'k') || (deferNorms && (name === 'q' || name === 'k'));
  const q = (name: Parameters<Sources['elem']>[0]) => src.elem(name, rt, rawRows(name) ? null : scales.get(name));

  const { bAt, readRow, sOf, decayedDot, outputWeights } = chunkTerms(ir, BK, { Bc, Bs, Sc });
  const bLast = (d: SExpr): SExpr => bAt(b.sub(L, b.i(1)), d);
  const rowBase = (r: SExpr, width: number) => b.mul(b.add(b.mul(b.add(t0, r), P.H), h), b.i(width));
  /** Rows of real tokens and the columns of key slice `k` that exist. */
  const sliceGuard = (k: SExpr) => ({ ...rowsValid, cols: b.min(b.i(BK), b.sub(b.i(K), k)) });
  /** The cumulative log-gate of the key slice: from the intra-chunk kernel, or a cumsum here. */
  const loadGateSlice = (wrap = false) => {
    if (split) kb.map(Bs!, b.ld('w_b', b.add(rowBase(R, K), b.add(k0, Cv))), sliceGuard(k0));
    else {
      sliceOf(Gs!, 'g', undefined, wrap);
      kb.op({ op: 'cumsum', dst: Bs!, src: Gs! });
    }
  };
  /** Intra-chunk output weights from the intra-chunk kernel. */
  const loadWeights = (A: string) => kb.map(A, b.ld('w_a', b.add(rowBase(R, C), Cv)), { ...rowsValid, cols: b.i(C) });

  /**
   * What a stage holds of a staged value: its one buffer load that varies by element (the rest —
   * a feature map, a gate's logsigmoid, a scale — applies where the stage is copied into workgroup
   * memory, as `rest`), so that nothing waits for the load until the copy. The whole value where
   * there is no such single, unconditional load.
   */
  const stagedPart = (e: SExpr): { load: SExpr; rest?: (reg: SExpr) => SExpr } => {
    const loads = loadsOf(e).filter((x) => usesVar(x, 'r') || usesVar(x, 'c'));
    const ld = loads[0];
    if (loads.length !== 1 || ld === e || !unconditional(e, ld!)) return { load: e };
    return { load: ld!, rest: (reg) => replaceNode(e, ld!, reg) };
  };

  // ── key slices staged through registers ────────────────────────────────────
  // With several key slices per chunk (fused form), a slice's q, k and vector gate (and the state
  // update's k and gate) are loaded one slice ahead into register tiles: at the top of a slice the staged values are
  // copied into the shared tile and the next slice's loads are issued, so their latency overlaps
  // this slice's products instead of stalling the workgroup at the barrier after the loads. Only
  // while a stage costs a thread at most 4 registers, and on WebGPU, where it was measured (the
  // CUDA backend loads shared tiles with 16-byte loads, which register stages would lose).
  const staging = st.target.backend === 'wgsl' && !split && KP > BK && C * BK <= 4 * tl.threads;
  // The fused delta rule's first key slices of q, k (and a vector gate) come from the previous
  // chunk's last slices (prefetchWrapping); its other inputs are staged a chunk ahead too.
  const wrapSlices = staging && chunkStaging && cls === 'delta';
  // That kernel with a scalar gate (or none) computes the l2norm factors of q and k itself (no
  // prepare kernel, no factor loads): the sums of squares accumulate in Qn and Kn from the key
  // slices it loads anyway, and the factors scale, after the slice loop, the rows and columns of
  // the scores, of K·S and of Q·S, which q̃ and k̃ enter linearly (deltaChunk). So does the
  // recurrent form's kernel (C = 1) on every target: for a decode step the prepare kernel would be
  // a launch of its own for one token's factors.
  const qNorm = src.normOf('q');
  const kNorm = src.normOf('k');
  const deferNorms = (wrapSlices || (C === 1 && !split && cls === 'delta')) && !vecGate && !!qNorm && !!kNorm && scales.has('q') && scales.has('k');
  const [Qn, Kn] = [scales.get('q'), scales.get('k')];
  const stages = new Map<string, string>();
  /** Issue the loads of the key slice at offset `k` of input `name` into the stage of `tile`. */
  type Staged = 'q' | 'k' | 'b' | 'g';
  const prefetch = (tile: string, name: Staged, k: SExpr) => {
    let reg = stages.get(tile);
    if (!reg) stages.set(tile, (reg = kb.tile(`P${tile}`, C, BK, 'register')));
    kb.map(reg, stagedPart(q(name).at(R, b.add(Cv, k))).load, sliceGuard(k));
  };
  /**
   * A key slice of `name` into `tile`: from its stage (and the next slice's loads issued), or
   * loaded now (no staging, or a loop that primeSlices did not prepare).
   */
  const sliceOf = (tile: string, name: Staged, scale?: SExpr, wrap = false) => {
    const reg = stages.get(tile);
    if (!staging || !reg) return kb.map(tile, scale ? b.mul(q(name).at(R, b.add(Cv, k0)), scale) : q(name).at(R, b.add(Cv, k0)), sliceGuard(k0));
    copyStage(tile, reg, name, k0, scale);
    if (wrap && wrapSlices) prefetchWrapping(tile, name);
    else prefetch(tile, name, b.add(k0, b.i(BK)));
  };
  /** The key slice at offset `k` of input `name`, from its stage `reg`, into `tile` (times `scale`). */
  const copyStage = (tile: string, reg: string, name: Staged, k: SExpr, scale?: SExpr) => {
    const scaled = (x: SExpr) => (scale ? b.mul(x, scale) : x);
    const { rest } = stagedPart(q(name).at(R, b.add(Cv, k)));
    if (rest) kb.map(tile, scaled(rest(b.tile(reg, R, Cv))), sliceGuard(k));
    else kb.map(tile, scaled(b.tile(reg, R, Cv)));
  };
  /**
   * With the chunk's inputs staged a chunk ahead (wrapSlices), the last loop over a chunk's key
   * slices of an input issues, from its last slice, the loads of the next chunk's first slice
   * (instead of none): their latency overlaps the rest of this chunk, where a prime at the top of
   * the next chunk would leave the first slice's copy waiting for memory.
   */
  const prefetchWrapping = (tile: string, name: Staged, k: SExpr = k0) => {
    const next = b.add(k, b.i(BK));
    const wrapped = b.ge(next, b.i(K));
    const shift = b.sel(wrapped, b.i(C), b.i(0));
    const rows: RowTokens = { tok: (r) => b.add(b.add(t0, shift), r), pos: (r) => b.add(b.add(c0, shift), r), len: () => len, head: h };
    const col = b.sel(wrapped, b.i(0), next);
    const guard = { rows: b.sel(wrapped, b.sub(len, b.add(c0, b.i(C))), L), cols: b.sel(wrapped, b.i(Math.min(BK, K)), b.min(b.i(BK), b.sub(b.i(K), next))), fill: 0 };
    kb.map(stages.get(tile)!, stagedPart(src.elem(name, rows, scales.get(name)).at(R, b.add(Cv, col))).load, guard);
  };
  /** Before a loop of key slices that takes `tiles` with sliceOf: their first slice's loads. */
  const primeSlices = (...tiles: [string, Staged][]) => {
    if (staging) for (const [tile, name] of tiles) prefetch(tile, name, b.i(0));
  };
  /** Before a loop that takes loadSlice: q, k and the vector gate (fused form). */
  const primeSlice = () => primeSlices([Qs, 'q'], [Ks, 'k'], ...(Gs ? [[Gs, 'g'] as [string, Staged]] : []));
  /** q, k (and a vector gate's) key slice; `wrapQ`, `wrapK`: q's, k's last slice prefetches the next chunk's first (prefetchWrapping). */
  const loadSlice = (wrapQ = false, wrapK = false) => {
    sliceOf(Qs, 'q', undefined, wrapQ);
    sliceOf(Ks, 'k', undefined, wrapK);
    if (vecGate) loadGateSlice();
  };
  // ── chunk inputs staged through registers one chunk ahead ──────────────────
  // The chunk's values and per-row gate inputs are loaded a chunk ahead into register tiles (fused
  // form, WebGPU: chunkStaging): the top of a chunk copies them into workgroup memory and issues
  // the next chunk's loads, whose latency then overlaps the whole chunk instead of opening it.
  const ahead = new Map<string, string>();
  /** Tokens `shift` after the chunk at token `tok`, position `pos`. */
  const chunkAt = (tok: SExpr, pos: SExpr, shift: number): RowTokens => ({ tok: (r) => b.add(b.add(tok, b.i(shift)), r), pos: (r) => b.add(b.add(pos, b.i(shift)), r), len: () => len, head: h });
  /** The tokens of the chunk after this one, and of the first chunk. */
  const nextChunk = chunkAt(t0, c0, C);
  const firstChunk: RowTokens = { tok: (r) => b.add(start, r), pos: (r) => r, len: () => len, head: h };
  type ChunkInput = Parameters<Sources['elem']>[0];
  /** Issue the loads of input `name` for the rows `rt0` into the stage of `tile` ('Vc': the values). */
  const stageChunk = (tile: string, name: ChunkInput, col: SExpr, cols: SExpr, rt0: RowTokens, rows: SExpr) => {
    let reg = ahead.get(tile);
    if (!reg) ahead.set(tile, (reg = kb.tile(`P${tile}`, C, name === 'v' ? BV : 1, 'register')));
    kb.map(reg, stagedPart(src.elem(name, rt0, scales.get(name)).at(R, col)).load, { rows, cols, fill: 0 });
  };
  /**
   * Input `name` of this chunk into `tile` (column `col` of row r, `cols` of them): from its stage
   * (then the next chunk's loads), or loaded now. `at`: the chunk at position `pos`, token `tok`
   * instead of this one, from its stage (gateAhead).
   */
  const chunkInput = (tile: string, name: ChunkInput, col: SExpr, cols: SExpr, at?: { tok: SExpr; pos: SExpr }) => {
    const reg = ahead.get(tile);
    if (!reg) return kb.map(tile, q(name).at(R, col), { ...rowsValid, cols });
    const { rest } = stagedPart(q(name).at(R, col));
    const rows = at ? b.sub(len, at.pos) : L;
    if (rest) kb.map(tile, rest(b.tile(reg, R, Cv)), { rows, cols, fill: 0 });
    else kb.map(tile, b.tile(reg, R, Cv));
    stageChunk(tile, name, col, cols, at ? chunkAt(at.tok, at.pos, C) : nextChunk, b.sub(len, b.add(at?.pos ?? c0, b.i(C))));
  };
  /** The chunk inputs that chunkLoop takes with chunkInput, tile by tile. */
  const chunkInputs: [string | undefined, ChunkInput, SExpr, SExpr][] = [
    [Vc, 'v', b.add(Cv, v0), vCols],
    [Gc, 'g', b.i(0), b.i(1)],
    [Sc, 'scale', b.i(0), b.i(1)],
    [Bt, 'beta', b.i(0), b.i(1)],
    ...[...scales].filter(([name]) => !rawRows(name)).map(([name, tile]) => [tile, src.rowScale(name)!, b.i(0), b.i(1)] as [string, ChunkInput, SExpr, SExpr]),
  ];
  if (chunkStaging) for (const [tile, name, col, cols] of chunkInputs) if (tile) stageChunk(tile, name, col, cols, firstChunk, len);
  if (valuesInPlace) stageChunk('Vc', 'v', b.add(Cv, v0), vCols, firstChunk, len);
  // The first chunk's first key slices (later chunks' come from prefetchWrapping).
  if (wrapSlices)
    for (const [tile, name] of [[Qs, 'q'], [Ks, 'k'], ...(Gs ? [[Gs, 'g']] : [])] as [string, Staged][]) {
      if (!stages.has(tile)) stages.set(tile, kb.tile(`P${tile}`, C, BK, 'register'));
      kb.map(stages.get(tile)!, stagedPart(src.elem(name, firstChunk, scales.get(name)).at(R, Cv)).load, { rows: len, cols: b.i(Math.min(BK, K)), fill: 0 });
    }
  /** Values of the chunk at (r, c) read in place from their stage (valuesInPlace), then the next chunk's loads. */
  const valuesInPlaceAt = (): SExpr => {
    const { rest } = stagedPart(q('v').at(R, b.add(Cv, v0)));
    const reg = b.tile(ahead.get('Vc')!, R, Cv);
    return rest ? rest(reg) : reg;
  };
  const nextValues = () => stageChunk('Vc', 'v', b.add(Cv, v0), vCols, nextChunk, b.sub(len, b.add(c0, b.i(C))));
  // The fused delta rule's scalar log-gates go into Gc a chunk early (gateAhead): the copy from
  // their stage happens in a phase of the previous chunk that does not read Gc, so the top of a
  // chunk starts with the cumulative sum, with no barrier between copy and sum. The stage then
  // holds the log-gates of the chunk after next. Only where the copy does not depend on the chunk
  // (its tokens, position or length).
  const gateRest = Gc && chunkStaging && cls === 'delta' && !split ? stagedPart(q('g').at(R, b.i(0))).rest : undefined;
  const gateAhead = !!gateRest && !['t0', 'c0', 'L'].some((name) => usesVar(gateRest(b.tile(ahead.get(Gc!)!, R, Cv)), name));
  /** Gc ← the staged log-gates of the chunk at position `pos` (token `tok`), and the stage's loads of the chunk after it (gateAhead). */
  const gateOfChunk = (tok: SExpr, pos: SExpr) => chunkInput(Gc!, 'g', b.i(0), b.i(1), { tok, pos });
  // The first chunk's log-gates.
  if (gateAhead) gateOfChunk(start, b.i(0));

  // The state's rows of key slice k0 (with keyTile, the workgroup's whole state: k0 is its key tile).
  const sRow = (r: SExpr) => (keyTile ? r : b.add(k0, r));
  const sliceView = keyTile ? { tile: S } : { tile: S, r0: k0, rows: BK };
  const zSlice = keyTile ? { tile: Z! } : { tile: Z!, r0: k0, rows: BK };
  /**
   * A scalar gate's decay of the state, e^{b_L}: one value, so it rides on the state update's
   * matmul (`scale`: S ← S·e^{b_L} + KᵀV in one pass over S instead of two).
   */
  const stateScale = hasGate && !vecGate ? b.exp(bLast(b.i(0))) : undefined;
  /**
   * Scale the rows of the state slice by e^{b_L} (a vector gate's; a scalar gate's is stateScale)
   * and Z likewise; `decay`, where given, is e^{b_L} of a slice row (KDA's column Bl).
   */
  const decayStateSlice = (decay: (r: SExpr) => SExpr = (r) => b.exp(bLast(r))) => {
    if (!hasGate) return;
    if (!stateScale) kb.map(sliceView, b.mul(b.tile(S, sRow(R), Cv), decay(R)));
    if (Z) kb.map(zSlice, b.mul(b.tile(Z, sRow(R), b.i(0)), decay(R)));
  };
  /** The first update of a state slice after decayStateSlice: with the scalar gate's decay. */
  const decayedUpdate = (opts: { transA: boolean; acc: 'add' }) => (stateScale ? { ...opts, scale: stateScale } : opts);

  const chunkLoop = () => {
    kb.let('L', b.min(b.i(C), b.sub(len, c0)));
    kb.let('t0', b.add(start, c0));
    // Accumulators first: the loads below then follow each other (the CUDA backend issues such a
    // run of loads together).
    if (!outputKernel) kb.map(O, b.f(0));
    if (Dn) kb.map(Dn, b.f(0));
    // The row factors first: the copies of the staged rows below read them.
    for (const [name, tile] of scales) {
      if (!rawRows(name)) chunkInput(tile, src.rowScale(name)!, b.i(0), b.i(1));
      // Sums of squares of the chunk's rows of q and k, accumulated over the key slices.
      else if (deferNorms) kb.map(tile, b.f(0));
    }
    if (Vc) chunkInput(Vc, 'v', b.add(Cv, v0), vCols);
    if (Gc) {
      if (!gateAhead) chunkInput(Gc, 'g', b.i(0), b.i(1));
      kb.op({ op: 'cumsum', dst: Bc!, src: Gc });
    } else if (Bc) kb.map(Bc, b.ld('w_b', rowBase(R, 1)), { ...rowsValid, cols: b.i(1) });
    if (Sc) chunkInput(Sc, 'scale', b.i(0), b.i(1));
    if (Bt) chunkInput(Bt, 'beta', b.i(0), b.i(1));
    if (outputKernel) stateOnlyChunk();
    else if (cls === 'additive' && maxabs) maxabsChunk();
    else if (cls === 'additive') additiveChunk();
    else if (cls === 'delta' && split) splitDeltaChunk();
    else if (cls === 'delta') deltaChunk();
    else dplrChunk();
  };

  // ── additive ───────────────────────────────────────────────────────────────
  const additiveChunk = () => {
    const A = kb.tile('A', C, C);
    if (split && KP === BK && !vecGate) return additiveOneSlice(A);
    const Bn = exclusive && !split ? kb.tile('Bn', C, 1) : undefined;
    if (!split) kb.map(A, b.f(0));
    if (Bn) kb.map(Bn, b.f(0));
    // Split form with a scalar gate (or none): q and k are used only decayed, so they are scaled as
    // they are loaded (the gate sums are loaded before the slice loop): two fewer passes and
    // barriers per key slice.
    const preScale = split && !vecGate;
    /** q̃ ⊙ e^{b_row}, and k̃ ⊙ e^{b_L − b_row} ⊙ s_row (the state update's factors). */
    const qDecay = (row: SExpr) => (hasGate ? b.exp(bAt(readRow(row), Cv)) : b.f(1));
    const kDecay = (row: SExpr) => b.mul(hasGate ? b.exp(b.sub(bLast(Cv), bAt(row, Cv))) : b.f(1), sOf(row));
    // Split: the intra-chunk weights load with the chunk's other inputs, and without a normalizer
    // their part of the output is taken before the slice loop (nothing after it then touches
    // workgroup memory: one barrier fewer per chunk).
    if (split) loadWeights(A);
    const intraFirst = split && !Dn;
    if (intraFirst) kb.matmul(O, A, Vc!, { acc: 'add' });
    if (!preScale) primeSlice();
    kb.for('k0', b.i(0), b.i(K), b.i(BK), () => {
      if (preScale) {
        const cols = sliceGuard(k0);
        kb.map(Qs, b.mul(q('q').at(R, b.add(Cv, k0)), qDecay(R)), cols);
        kb.map(Ks, b.mul(q('k').at(R, b.add(Cv, k0)), kDecay(R)), cols);
      } else loadSlice();
      if (Bn && src.has('bonus')) {
        const ub = q('bonus');
        const uAt = (d: SExpr) => ub.at(R, ub.width ? b.add(k0, d) : b.i(0));
        // Only the key columns of this slice that exist: u is read from its buffer.
        const dEnd = b.min(b.i(BK), b.sub(b.i(K), k0));
        kb.map(Bn, b.add(b.tile(Bn, R, b.i(0)), b.fold('sum', 'd', b.i(0), dEnd, b.mul(b.mul(b.tile(Qs, R, b.v('d')), b.tile(Ks, R, b.v('d'))), uAt(b.v('d'))))));
      }
      if (split) {
        // (the weights come from the intra-chunk kernel)
      } else if (vecGate) kb.map(A, b.add(b.tile(A, R, Cv), b.sel(b.le(Cv, readRow(R)), decayedDot(Qs, Ks, readRow(R)), b.f(0))));
      else kb.matmul(A, Qs, Ks, { transB: true, acc: 'add' });
      if (hasGate && !preScale) kb.map(Qs, b.mul(b.tile(Qs, R, Cv), qDecay(R)));
      kb.matmul(O, Qs, sliceView, { acc: 'add' });
      if (Dn) kb.map(Dn, b.add(b.tile(Dn, R, b.i(0)), b.fold('sum', 'd', b.i(0), b.i(BK), b.mul(b.tile(Qs, R, b.v('d')), b.tile(Z!, b.add(k0, b.v('d')), b.i(0))))));
      // State slice: S ← e^{b_L} S + (K ⊙ e^{b_L − b} ⊙ s)ᵀ V.
      if (!preScale) kb.map(Ks, b.mul(b.tile(Ks, R, Cv), kDecay(R)));
      decayStateSlice();
      kb.matmul(sliceView, Ks, Vc!, decayedUpdate({ transA: true, acc: 'add' }));
      if (Z) kb.map(zSlice, b.add(b.tile(Z, sRow(R), b.i(0)), b.fold('sum', 'j', b.i(0), b.i(C), b.tile(Ks, b.v('j'), R))));
    }, 'key-feature slices');
    // Fused: the intra-chunk weights from the scores (split: loaded from the intra-chunk kernel).
    if (!split) kb.map(A, outputWeights(A, Bn));
    if (!intraFirst) kb.matmul(O, A, Vc!, { acc: 'add' });
    if (Dn) {
      kb.map(Dn, b.add(b.tile(Dn, R, b.i(0)), b.fold('sum', 'j', b.i(0), b.i(C), b.tile(A, R, b.v('j')))));
      kb.map(O, b.div(b.tile(O, R, Cv), b.add(b.tile(Dn, R, b.i(0)), b.f(SUM_EPS))));
    }
    storeOutput();
  };

  // ── mLSTM (maxabs) ─────────────────────────────────────────────────────────
  const maxabsChunk = () => {
    const A = kb.tile('A', C, C);
    kb.map(A, b.f(0));
    kb.map(Li!, src.has('logScale') ? q('logScale').at(R, b.i(0)) : b.f(0), { ...rowsValid, cols: b.i(1) });
    const bR = (row: SExpr) => bAt(row, b.i(0));
    // m_t = b_t + max(m_c, max_{j ≤ t}(log s_j − b_j))
    kb.map(Mr!, b.add(bR(R), b.max(b.tile(Mt!, b.i(0), b.i(0)), b.fold('max', 'j', b.i(0), b.add(R, b.i(1)), b.sub(b.tile(Li!, b.v('j'), b.i(0)), bR(b.v('j')))))));
    const mc = b.tile(Mt!, b.i(0), b.i(0));
    const mL = b.tile(Mr!, b.sub(L, b.i(1)), b.i(0));
    primeSlice();
    kb.for('k0', b.i(0), b.i(K), b.i(BK), () => {
      loadSlice();
      kb.matmul(A, Qs, Ks, { transB: true, acc: 'add' });
      kb.map(Qs, b.mul(b.tile(Qs, R, Cv), b.exp(b.sub(b.add(mc, bR(R)), b.tile(Mr!, R, b.i(0))))));
      kb.matmul(O, Qs, sliceView, { acc: 'add' });
      kb.map(Dn!, b.add(b.tile(Dn!, R, b.i(0)), b.fold('sum', 'd', b.i(0), b.i(BK), b.mul(b.tile(Qs, R, b.v('d')), b.tile(Z!, b.add(k0, b.v('d')), b.i(0))))));
      kb.map(Ks, b.mul(b.tile(Ks, R, Cv), b.exp(b.sub(b.sub(b.add(b.tile(Li!, R, b.i(0)), bR(b.sub(L, b.i(1)))), bR(R)), mL))));
      const f = b.exp(b.sub(b.add(mc, bR(b.sub(L, b.i(1)))), mL));
      // The state's decay f rides on the update's matmul.
      kb.map({ tile: Z!, r0: k0, rows: BK }, b.mul(b.tile(Z!, b.add(k0, R), b.i(0)), f));
      kb.matmul(sliceView, Ks, Vc!, { transA: true, acc: 'add', scale: f });
      kb.map({ tile: Z!, r0: k0, rows: BK }, b.add(b.tile(Z!, b.add(k0, R), b.i(0)), b.fold('sum', 'j', b.i(0), b.i(C), b.tile(Ks, b.v('j'), R))));
    }, 'key-feature slices');
    kb.map(A, b.sel(b.le(Cv, R), b.mul(b.tile(A, R, Cv), b.exp(b.sub(b.sub(b.add(b.tile(Li!, Cv, b.i(0)), bR(R)), bR(Cv)), b.tile(Mr!, R, b.i(0))))), b.f(0)));
    kb.matmul(O, A, Vc!, { acc: 'add' });
    kb.map(Dn!, b.add(b.tile(Dn!, R, b.i(0)), b.fold('sum', 'j', b.i(0), b.i(C), b.tile(A, R, b.v('j')))));
    kb.map(O, b.div(b.tile(O, R, Cv), b.max(b.un('abs', b.tile(Dn!, R, b.i(0))), b.exp(b.un('neg', b.tile(Mr!, R, b.i(0)))))));
    storeOutput();
    kb.map(Mt!, mL);
  };

  // ── delta rule ─────────────────────────────────────────────────────────────
  const deltaChunk = () => {
    const Akk = kb.tile('Akk', C, C);
    const Aqk = kb.tile('Aqk', C, C);
    const X = kb.tile('X', C, BV);
    // A scalar gate's decay e^{b_r} is one factor per row: it scales the rows of K S and Q S once
    // after the slice loop, and the update's e^{b_L − b_r} scales k as it is staged in, so that
    // a key slice is one phase of products after its loads (no rescaling phase between).
    const rowGate = hasGate && !vecGate;
    // With two key slices and a scalar gate (or none: pairUpdate), the state update takes k from
    // the scores' loop (no second load of k): the first slice kept in registers (Kr), the second
    // left in Ks. Both are scaled into Qs and Ks (free once the scores are done) with the chunk's
    // matrices, and both halves of the state are updated in one phase after the solve.
    const pairUpdate = wrapSlices && !vecGate && KP === 2 * BK;
    const Kr = pairUpdate ? kb.tile('Kr', C, BK, 'register') : undefined;
    kb.map(Akk, b.f(0));
    kb.map(Aqk, b.f(0));
    kb.map(X, b.f(0));
    if (!wrapSlices) primeSlice();
    kb.for('k0', b.i(0), b.i(K), b.i(BK), () => {
      // Kr keeps the first slice of k from its stage; the last slice's stage takes the next chunk's first.
      if (Kr) kb.map(Kr, b.sel(b.bin('eq', k0, b.i(0)), b.tile(stages.get(Ks)!, R, Cv), b.tile(Kr, R, Cv)));
      loadSlice(true, !!Kr);
      if (vecGate) {
        kb.map(Akk, b.add(b.tile(Akk, R, Cv), b.sel(b.lt(Cv, R), decayedDot(Ks, Ks, R), b.f(0))));
        kb.map(Aqk, b.add(b.tile(Aqk, R, Cv), b.sel(b.le(Cv, R), decayedDot(Qs, Ks, R), b.f(0))));
        kb.map(Ks, b.mul(b.tile(Ks, R, Cv), b.exp(bAt(R, Cv))));
        kb.map(Qs, b.mul(b.tile(Qs, R, Cv), b.exp(bAt(R, Cv))));
      } else {
        kb.matmul(Akk, Ks, Ks, { transB: true, acc: 'add' });
        kb.matmul(Aqk, Qs, Ks, { transB: true, acc: 'add' });
      }
      kb.matmul(X, Ks, sliceView, { acc: 'add' });
      kb.matmul(O, Qs, sliceView, { acc: 'add' });
      if (deferNorms)
        for (const [tile, of] of [[Qn!, Qs], [Kn!, Ks]])
          kb.map(tile, b.add(b.tile(tile, R, b.i(0)), b.fold('sum', 'd', b.i(0), b.i(BK), b.mul(b.tile(of, R, b.v('d')), b.tile(of, R, b.v('d'))))));
    }, 'key-feature slices: scores and reads of the old state');
    // The state update's first k (and gate) slice, loading while the chunk's solve runs.
    if (!Kr) primeSlices([Ks, 'k'], ...(Gs ? [[Gs, 'g'] as [string, Staged]] : []));
    const beta = (row: SExpr) => b.tile(Bt!, row, b.i(0));
    // deferNorms: the factors of q̃ and k̃ of a row, from its sums of squares.
    const one = b.f(1);
    const times = (x: SExpr, y: SExpr) => (y === one ? x : x === one ? y : b.mul(x, y));
    const qf = (row: SExpr) => (deferNorms ? qNorm!(b.tile(Qn!, row, b.i(0))) : one);
    const kf = (row: SExpr) => (deferNorms ? kNorm!(b.tile(Kn!, row, b.i(0))) : one);
    const decay = rowGate ? b.exp(b.sub(bAt(R, b.i(0)), bAt(Cv, b.i(0)))) : one;
    const rowDecay = rowGate ? b.exp(bAt(R, b.i(0))) : one;
    kb.map(Akk, b.sel(b.lt(Cv, R), b.mul(times(times(b.tile(Akk, R, Cv), decay), times(kf(R), kf(Cv))), beta(R)), b.f(0)));
    kb.map(Aqk, b.sel(b.le(Cv, R), times(times(b.tile(Aqk, R, Cv), decay), times(qf(R), kf(Cv))), b.f(0)));
    kb.map(X, b.mul(beta(R), b.sub(valuesInPlace ? valuesInPlaceAt() : b.tile(Vc!, R, Cv), times(b.tile(X, R, Cv), times(rowDecay, kf(R))))));
    if (valuesInPlace) nextValues();
    // (The state's decay e^{b_L} rides on the update's matmuls: stateScale.)
    if (rowGate || deferNorms) kb.map(O, times(b.tile(O, R, Cv), times(rowDecay, qf(R))));
    const kScale = times(rowGate ? b.exp(b.sub(bLast(b.i(0)), bAt(R, b.i(0)))) : one, kf(R));
    const scale = kScale === one ? undefined : kScale;
    if (Kr) {
      copyStage(Qs, Kr, 'k', b.i(0), scale);
      if (scale) kb.map(Ks, b.mul(b.tile(Ks, R, Cv), scale));
    }
    kb.op({ op: 'trisolve', a: Akk, b: X, sign: 1 });
    kb.matmul(O, Aqk, X, { acc: 'add' });
    storeOutput();
    // The next chunk's log-gates (this chunk's cumulative sum has read Gc).
    if (gateAhead) gateOfChunk(b.add(t0, b.i(C)), b.add(c0, b.i(C)));
    if (Kr) {
      kb.matmul({ tile: S, r0: b.i(0), rows: BK }, Qs, X, decayedUpdate({ transA: true, acc: 'add' }));
      kb.matmul({ tile: S, r0: b.i(BK), rows: BK }, Ks, X, decayedUpdate({ transA: true, acc: 'add' }));
      return;
    }
    // One key slice, nothing staged, no vector gate: Ks still holds the slice the scores read, so
    // the update scales it in place instead of loading k again (a decode step's second trip to k).
    if (KP === BK && !vecGate && !staging) {
      if (scale) kb.map(Ks, b.mul(b.tile(Ks, R, Cv), scale), { ...rowsValid, cols: b.i(BK) });
      kb.matmul(keyTile ? { tile: S } : { tile: S, r0: b.i(0), rows: BK }, Ks, X, decayedUpdate({ transA: true, acc: 'add' }));
      return;
    }
    kb.for('k0', b.i(0), b.i(K), b.i(BK), () => {
      sliceOf(Ks, 'k', scale, true);
      if (vecGate) {
        loadGateSlice(true);
        kb.map(Ks, b.mul(b.tile(Ks, R, Cv), b.exp(b.sub(bLast(Cv), bAt(R, Cv)))));
        decayStateSlice();
      }
      kb.matmul(sliceView, Ks, X, decayedUpdate({ transA: true, acc: 'add' }));
    }, 'key-feature slices: state update');
  };

  /**
   * The split additive chunk when one key slice covers K (scalar or no gate): the chunk's tiles
   * load at once, q and k as they are — the gates scale the products instead (the rows of Q S and
   * of the normalizer's Q z by e^{b}, the rows of V by e^{b_L − b}·s before the update) — so that
   * the backend can have all loads of the chunk in flight together (see splitDeltaOneSlice).
   */
  const additiveOneSlice = (A: string) => {
    const cols = { ...rowsValid, cols: b.i(K) };
    loadWeights(A);
    kb.map(Qs, q('q').at(R, Cv), cols);
    kb.map(Ks, q('k').at(R, Cv), cols);
    kb.matmul(O, Qs, S, { acc: 'add' });
    if (Dn) kb.map(Dn, b.add(b.tile(Dn, R, b.i(0)), b.fold('sum', 'd', b.i(0), b.i(K), b.mul(b.tile(Qs, R, b.v('d')), b.tile(Z!, b.v('d'), b.i(0))))));
    if (hasGate) {
      const qDecay = b.exp(bAt(readRow(R), Cv));
      kb.map(O, b.mul(b.tile(O, R, Cv), qDecay));
      if (Dn) kb.map(Dn, b.mul(b.tile(Dn, R, b.i(0)), qDecay));
    }
    kb.matmul(O, A, Vc!, { acc: 'add' });
    if (Dn) {
      kb.map(Dn, b.add(b.tile(Dn, R, b.i(0)), b.fold('sum', 'j', b.i(0), b.i(C), b.tile(A, R, b.v('j')))));
      kb.map(O, b.div(b.tile(O, R, Cv), b.add(b.tile(Dn, R, b.i(0)), b.f(SUM_EPS))));
    }
    storeOutput();
    /** e^{b_L − b_row}·s_row: the factor of token `row` in the state update. */
    const kDecay = (row: SExpr) => b.mul(hasGate ? b.exp(b.sub(bLast(b.i(0)), bAt(row, b.i(0)))) : b.f(1), sOf(row));
    if (Z) {
      const zDecay = hasGate ? b.exp(bLast(b.i(0))) : b.f(1);
      kb.map(Z, b.add(b.mul(b.tile(Z, R, b.i(0)), zDecay), b.fold('sum', 'j', b.i(0), b.i(C), b.mul(b.tile(Ks, b.v('j'), R), kDecay(b.v('j'))))));
    }
    if (hasGate || Sc) kb.map(Vc!, b.mul(b.tile(Vc!, R, Cv), kDecay(R)));
    kb.matmul(S, Ks, Vc!, decayedUpdate({ transA: true, acc: 'add' }));
  };

  // ── split form with an output kernel: the state before the chunk, then its update ──
  /**
   * Stores S (and z) before the chunk for the output kernel, then updates the state:
   * S ← e^{b_L} S + (K ⊙ e^{b_L − b} ⊙ s)ᵀ Y with Y = V (additive) or the corrected values
   * Y = U − W S (delta rules; stored over U for the output kernel). A token's factor e^{b_L − b}·s
   * scales the rows of k (scaleKeys), and a scalar gate's e^{b_L} rides on the update's matmul.
   */
  const stateOnlyChunk = () => {
    // One key slice (k0 = 0, bound before the chunk loop): no slice loops, so that every load of
    // the chunk follows the chunk inputs' and the backend issues them together.
    const slices = (body: () => void, note: string) => (oneSlice ? body() : kb.for('k0', b.i(0), b.i(K), b.i(BK), body, note));
    // Keys decayed to the chunk's end by the intra-chunk kernel (decayedKeys), and the state's
    // decay e^{b_L} from the gate sums' last row, as a column over the slice's key rows.
    const Bl = decayed ? kb.tile('Bl', BK, 1) : undefined;
    const loadKeys = () => {
      if (Bl) {
        kb.map(Ks, b.ld('w_k', b.add(rowBase(R, K), b.add(k0, Cv))), sliceGuard(k0));
        kb.map(Bl, b.exp(b.ld('w_b', b.add(rowBase(b.sub(L, b.i(1)), K), b.add(k0, R)))), { rows: b.min(b.i(BK), b.sub(b.i(K), k0)), cols: b.i(1), fill: 0 });
        return;
      }
      kb.map(Ks, q('k').at(R, b.add(Cv, k0)), sliceGuard(k0));
      if (vecGate) loadGateSlice();
    };
    /**
     * Token r's factor in the update, e^{b_L − b_r}·s_r (per key column for vector gates), where
     * the keys are not decayed already (Bl).
     */
    const tokenFactor = (): SExpr | undefined => {
      if (Bl) return undefined;
      const decay = vecGate ? b.exp(b.sub(bLast(Cv), bAt(R, Cv))) : hasGate ? b.exp(b.sub(bLast(b.i(0)), bAt(R, b.i(0)))) : undefined;
      return decay && Sc ? b.mul(decay, sOf(R)) : (decay ?? (Sc ? sOf(R) : undefined));
    };
    /**
     * The factor on the rows of the key slice. Scaling k rather than the values leaves the
     * corrected values as they are stored for the output kernel, in the phase that reads the old state.
     */
    const scaleKeys = () => {
      const factor = tokenFactor();
      if (factor) kb.map(Ks, b.mul(b.tile(Ks, R, Cv), factor));
    };
    const Ws = cls === 'delta' ? kb.tile('Ws', C, BK) : undefined;
    const uIdx = b.add(rowBase(R, V), b.add(v0, Cv));
    const loadW = () => kb.map(Ws!, b.ld('w_w', b.add(rowBase(R, K), b.add(k0, Cv))), sliceGuard(k0));
    /** S (and z) before the chunk, for the output kernel. */
    const storeStateBefore = () => {
      const hRow = chunkStateRow(chunkSlot(start, n, c0, C), h, K);
      if (pass !== 'segment') kb.op({ op: 'store', src: S, dst: { buf: 'w_h', index: b.add(b.mul(hRow(stateRow(R)), b.i(V)), b.add(v0, Cv)), rows: stateRows, cols: vCols }, value: b.tile(S, R, Cv) });
      if (Z) kb.if(b.bin('eq', v0, b.i(0)), () => kb.op({ op: 'store', src: Z, dst: { buf: 'w_z', index: hRow(stateRow(R)), rows: stateRows, cols: b.i(1) }, value: b.tile(Z, R, b.i(0)) }));
    };
    if (regState) {
      // The delta rule with S in registers (Tiling.stateRegisters; one key slice): the chunk's
      // tiles load first (the CUDA backend issues them a chunk ahead); S goes to w_h and, once,
      // into the shared tile Sh that the product W·S reads; the corrected values X = U − W·Sh are
      // register accumulators, stored over U and scaled by the token factor into the shared Xd;
      // then S ← e^{b_L} S + Kᵀ Xd accumulates (a vector gate's e^{b_L} scales S's rows first, its
      // keys decayed already). Every op on S and X is elementwise or a matmul into them, so no
      // thread reads another's elements (FLA's h kernel has this shape).
      const Uc = kb.tile('Uc', C, BV);
      kb.map(Uc, b.ld('w_u', uIdx), { ...rowsValid, cols: vCols });
      loadW();
      loadKeys();
      storeStateBefore();
      const Sh = kb.tile('Sh', KP, BV);
      kb.map(Sh, b.tile(S, R, Cv));
      const X = kb.tile('X', C, BV, 'register');
      kb.map(X, b.tile(Uc, R, Cv));
      kb.matmul(X, Ws!, Sh, { acc: 'sub' });
      kb.op({ op: 'store', src: X, dst: { buf: correctedValues(st), index: uIdx, rows: L, cols: vCols }, value: b.tile(X, R, Cv) });
      const factor = tokenFactor();
      const Xd = kb.tile('Xd', C, BV);
      kb.map(Xd, factor ? b.mul(b.tile(X, R, Cv), factor) : b.tile(X, R, Cv));
      if (Bl) kb.map(S, b.mul(b.tile(S, R, Cv), b.tile(Bl, R, b.i(0))));
      kb.matmul(S, Ks, Xd, Bl ? { transA: true, acc: 'add' } : decayedUpdate({ transA: true, acc: 'add' }));
      return;
    }
    let Y = Vc!;
    if (Ws) {
      Y = kb.tile('X', C, BV);
      kb.map(Y, b.ld('w_u', uIdx), { ...rowsValid, cols: vCols });
    }
    if (oneSlice) {
      if (Ws) loadW();
      loadKeys();
    }
    storeStateBefore();
    if (oneSlice) scaleKeys();
    if (Ws) {
      slices(() => {
        if (!oneSlice) loadW();
        kb.matmul(Y, Ws, sliceView, { acc: 'sub' });
      }, 'key-feature slices: reads of the old state');
      kb.op({ op: 'store', src: Y, dst: { buf: correctedValues(st), index: uIdx, rows: L, cols: vCols }, value: b.tile(Y, R, Cv) });
    }
    slices(() => {
      if (!oneSlice) {
        loadKeys();
        scaleKeys();
      }
      decayStateSlice(Bl ? (r) => b.tile(Bl, r, b.i(0)) : undefined);
      kb.matmul(sliceView, Ks, Y, decayedUpdate({ transA: true, acc: 'add' }));
      if (Z) kb.map(zSlice, b.add(b.tile(Z, sRow(R), b.i(0)), b.fold('sum', 'j', b.i(0), b.i(C), b.tile(Ks, b.v('j'), R))));
      if (Dl) kb.map(Dl, b.add(b.tile(Dl, R, b.i(0)), bLast(vecGate ? R : b.i(0))));
    }, 'key-feature slices: state update');
  };

  // ── delta rule, split form: X = U − W S with W, U and the weights from the intra-chunk kernel ──
  const splitDeltaChunk = () => {
    const Aqk = kb.tile('Aqk', C, C);
    const X = kb.tile('X', C, BV);
    const Ws = kb.tile('Ws', C, BK);
    if (KP === BK && !vecGate) return splitDeltaOneSlice(Aqk, X, Ws);
    kb.map(X, b.ld('w_u', b.add(rowBase(R, V), b.add(v0, Cv))), { ...rowsValid, cols: vCols });
    // Loaded with the chunk's other inputs (one barrier for all), read after the slice loop.
    loadWeights(Aqk);
    kb.for('k0', b.i(0), b.i(K), b.i(BK), () => {
      const cols = sliceGuard(k0);
      // Scalar gates: q is scaled as it is loaded (the gate sums are already loaded); vector gates
      // load their slice of gate sums next to it, then scale.
      kb.map(Qs, hasGate && !vecGate ? b.mul(q('q').at(R, b.add(Cv, k0)), b.exp(bAt(R, Cv))) : q('q').at(R, b.add(Cv, k0)), cols);
      kb.map(Ws, b.ld('w_w', b.add(rowBase(R, K), b.add(k0, Cv))), cols);
      if (vecGate) loadGateSlice();
      if (vecGate) kb.map(Qs, b.mul(b.tile(Qs, R, Cv), b.exp(bAt(R, Cv))));
      kb.matmul(X, Ws, sliceView, { acc: 'sub' });
      kb.matmul(O, Qs, sliceView, { acc: 'add' });
    }, 'key-feature slices: reads of the old state');
    kb.matmul(O, Aqk, X, { acc: 'add' });
    storeOutput();
    kb.for('k0', b.i(0), b.i(K), b.i(BK), () => {
      const kDecay = b.exp(b.sub(bLast(Cv), bAt(R, Cv)));
      kb.map(Ks, hasGate && !vecGate ? b.mul(q('k').at(R, b.add(Cv, k0)), kDecay) : q('k').at(R, b.add(Cv, k0)), sliceGuard(k0));
      if (vecGate) loadGateSlice();
      if (vecGate) kb.map(Ks, b.mul(b.tile(Ks, R, Cv), kDecay));
      decayStateSlice();
      kb.matmul(sliceView, Ks, X, decayedUpdate({ transA: true, acc: 'add' }));
    }, 'key-feature slices: state update');
  };

  /**
   * The split delta chunk when one key slice covers K (scalar or no gate): every tile of the chunk
   * loaded at once, q and k as they are — the gates scale the products instead (the rows of Q S by
   * e^{b}, the rows of U by e^{b_L − b} before the update) — so the backend can have all loads of
   * the chunk in flight together, and the chunk waits for memory once.
   */
  const splitDeltaOneSlice = (Aqk: string, X: string, Ws: string) => {
    const cols = { ...rowsValid, cols: b.i(K) };
    // Row factors of q and k (l2norm's) scale the rows of Q S and of U instead of the loaded rows,
    // like the gates: the loads then do not wait for the factors (no barrier of their own).
    // (With foldK, k has no factor here: q('k') is the raw k.)
    const factor = (name: 'q' | 'k') => (scales.has(name) && src.linearInScale(name) ? scales.get(name)! : undefined);
    const [qf, kf] = [factor('q'), factor('k')];
    const rowFactor = (f: string | undefined, decay: SExpr | undefined): SExpr | undefined => (f && decay ? b.mul(b.tile(f, R, b.i(0)), decay) : f ? b.tile(f, R, b.i(0)) : decay);
    kb.map(X, b.ld('w_u', b.add(rowBase(R, V), b.add(v0, Cv))), { ...rowsValid, cols: vCols });
    loadWeights(Aqk);
    kb.map(Qs, (qf ? src.elem('q', rt, null) : q('q')).at(R, Cv), cols);
    kb.map(Ws, b.ld('w_w', b.add(rowBase(R, K), Cv)), cols);
    kb.map(Ks, (kf ? src.elem('k', rt, null) : q('k')).at(R, Cv), cols);
    const state = S;
    kb.matmul(X, Ws, state, { acc: 'sub' });
    kb.matmul(O, Qs, state, { acc: 'add' });
    const oRows = rowFactor(qf, hasGate ? b.exp(bAt(R, Cv)) : undefined);
    if (oRows) kb.map(O, b.mul(b.tile(O, R, Cv), oRows));
    kb.matmul(O, Aqk, X, { acc: 'add' });
    storeOutput();
    // The update's values U ⊙ e^{b_L − b} into a tile of their own: the output's product Aqk·X
    // and the scaling then both only read X, with no barrier between them.
    const xRows = rowFactor(kf, hasGate ? b.exp(b.sub(bLast(Cv), bAt(R, Cv))) : undefined);
    const Xd = xRows ? kb.tile('Xd', C, BV) : X;
    if (xRows) kb.map(Xd, b.mul(b.tile(X, R, Cv), xRows));
    if (hasGate && Z) kb.map(Z, b.mul(b.tile(Z, R, b.i(0)), b.exp(bLast(R))));
    kb.matmul(state, Ks, Xd, decayedUpdate({ transA: true, acc: 'add' }));
  };

  // ── diagonal plus rank one ─────────────────────────────────────────────────
  const dplrChunk = () => {
    const As = kb.tile('As', C, BK);
    const Bb = kb.tile('Bb', C, BK);
    const Aab = kb.tile('Aab', C, C);
    const Aak = kb.tile('Aak', C, C);
    const Aqb = kb.tile('Aqb', C, C);
    const Aqk = kb.tile('Aqk', C, C);
    const Rr = kb.tile('Rr', C, BV);
    for (const t of [Aab, Aak, Aqb, Aqk, Rr]) kb.map(t, b.f(0));
    /** b at the previous token: b_{t−1} = b_t − g_t. */
    const bPrev = (row: SExpr, d: SExpr): SExpr => {
      if (!hasGate) return b.f(0);
      const g = vecGate ? b.tile(Gs!, row, d) : b.tile(Gc!, row, b.i(0));
      return b.sub(bAt(row, d), g);
    };
    const sliceCols = sliceGuard(k0);
    const loadAB = () => {
      kb.map(As, q('a').at(R, b.add(Cv, k0)), sliceCols);
      kb.map(Bb, q('b').at(R, b.add(Cv, k0)), sliceCols);
    };
    const dd = (x: string, y: string, xb: (row: SExpr, d: SExpr) => SExpr) =>
      b.fold('sum', 'd', b.i(0), b.i(BK), b.mul(b.mul(b.tile(x, R, b.v('d')), b.tile(y, Cv, b.v('d'))), b.exp(b.sub(xb(R, b.v('d')), bAt(Cv, b.v('d'))))));
    primeSlice();
    kb.for('k0', b.i(0), b.i(K), b.i(BK), () => {
      loadSlice();
      loadAB();
      if (vecGate) {
        kb.map(Aab, b.add(b.tile(Aab, R, Cv), b.sel(b.lt(Cv, R), dd(As, Bb, bPrev), b.f(0))));
        kb.map(Aak, b.add(b.tile(Aak, R, Cv), b.sel(b.lt(Cv, R), dd(As, Ks, bPrev), b.f(0))));
        kb.map(Aqb, b.add(b.tile(Aqb, R, Cv), b.sel(b.le(Cv, R), dd(Qs, Bb, bAt), b.f(0))));
        kb.map(Aqk, b.add(b.tile(Aqk, R, Cv), b.sel(b.le(Cv, R), dd(Qs, Ks, bAt), b.f(0))));
      } else {
        kb.matmul(Aab, As, Bb, { transB: true, acc: 'add' });
        kb.matmul(Aak, As, Ks, { transB: true, acc: 'add' });
        kb.matmul(Aqb, Qs, Bb, { transB: true, acc: 'add' });
        kb.matmul(Aqk, Qs, Ks, { transB: true, acc: 'add' });
      }
      if (hasGate) {
        kb.map(As, b.mul(b.tile(As, R, Cv), b.exp(bPrev(R, Cv))));
        kb.map(Qs, b.mul(b.tile(Qs, R, Cv), b.exp(bAt(R, Cv))));
      }
      kb.matmul(Rr, As, sliceView, { acc: 'add' });
      kb.matmul(O, Qs, sliceView, { acc: 'add' });
    }, 'key-feature slices: scores and reads of the old state');
    // The state update's first slices of k and b, loading while the chunk's solve runs.
    primeSlices([Ks, 'k'], [Bb, 'b']);
    if (!vecGate) {
      const dPrev = hasGate ? b.exp(b.sub(bPrev(R, b.i(0)), bAt(Cv, b.i(0)))) : b.f(1);
      const dCur = hasGate ? b.exp(b.sub(bAt(R, b.i(0)), bAt(Cv, b.i(0)))) : b.f(1);
      kb.map(Aab, b.sel(b.lt(Cv, R), b.mul(b.tile(Aab, R, Cv), dPrev), b.f(0)));
      kb.map(Aak, b.sel(b.lt(Cv, R), b.mul(b.tile(Aak, R, Cv), dPrev), b.f(0)));
      kb.map(Aqb, b.sel(b.le(Cv, R), b.mul(b.tile(Aqb, R, Cv), dCur), b.f(0)));
      kb.map(Aqk, b.sel(b.le(Cv, R), b.mul(b.tile(Aqk, R, Cv), dCur), b.f(0)));
    }
    kb.matmul(Rr, Aak, Vc!, { acc: 'add' });
    kb.op({ op: 'trisolve', a: Aab, b: Rr, sign: -1 });
    kb.matmul(O, Aqb, Rr, { acc: 'add' });
    kb.matmul(O, Aqk, Vc!, { acc: 'add' });
    storeOutput();
    kb.for('k0', b.i(0), b.i(K), b.i(BK), () => {
      sliceOf(Ks, 'k');
      sliceOf(Bb, 'b');
      if (vecGate) {
        kb.map(Gs!, q('g').at(R, b.add(Cv, k0)), sliceCols);
        kb.op({ op: 'cumsum', dst: Bs!, src: Gs! });
      }
      if (hasGate) {
        kb.map(Ks, b.mul(b.tile(Ks, R, Cv), b.exp(b.sub(bLast(Cv), bAt(R, Cv)))));
        kb.map(Bb, b.mul(b.tile(Bb, R, Cv), b.exp(b.sub(bLast(Cv), bAt(R, Cv)))));
      }
      decayStateSlice();
      kb.matmul(sliceView, Bb, Rr, decayedUpdate({ transA: true, acc: 'add' }));
      kb.matmul(sliceView, Ks, Vc!, { transA: true, acc: 'add' });
    }, 'key-feature slices: state update');
  };

  // ── output (with the epilogue) ─────────────────────────────────────────────
  const storeOutput = () => storeChunkOutput(kb, st, src, { O, rt, t0, L, v0, vCols, h, C });

  // The state-only chunk with one key slice binds k0 once (stateOnlyChunk).
  const oneSlice = outputKernel && (KP === BK || !!keyTile);
  if (oneSlice) kb.let('k0', kt0);
  // The last segment: no later segment needs its own state (the segment pass skips it), and its
  // state at the end is the sequence's final state (a sequence shorter than the segments' span
  // leaves the later segments empty: their start state is its final state).
  const lastSegment = nseg ? b.bin('eq', sg!, b.sub(nseg, b.i(1))) : undefined;
  if (SEG) {
    // This workgroup's segment of the sequence (none where the sequence is shorter).
    const from = kb.let('seg0', b.mul(sg!, segLen!));
    const to = b.min(len, b.add(from, segLen!));
    kb.for('c0', from, pass === 'segment' ? b.sel(lastSegment!, from, to) : to, b.i(C), chunkLoop, 'chunks of the segment, in order');
  } else kb.for('c0', b.i(0), len, b.i(C), chunkLoop, 'chunks of the sequence, in order');

  if (pass === 'segment') {
    kb.note("the segment's own final state and log-decay");
    kb.if(b.lt(sg!, b.sub(nseg!, b.i(1))), () => {
      kb.op({ op: 'store', src: S, dst: { buf: 'w_sl', index: b.add(b.mul(segmentRow(stateRow(R)), b.i(V)), b.add(v0, Cv)), rows: stateRows, cols: vCols }, value: b.tile(S, R, Cv) });
      if (Dl) kb.if(b.bin('eq', v0, b.i(0)), () => kb.op({ op: 'store', src: Dl, dst: { buf: 'w_sd', index: segmentRow(stateRow(R)), rows: stateRows, cols: b.i(1) }, value: b.tile(Dl, R, b.i(0)) }));
    });
  }
  if (pass !== 'segment') kb.note('final state');
  if (pass !== 'segment') kb.if(pass === 'fromStarts' ? b.and(lastSegment!, b.bin('ne', P.STORE_FINAL, b.i(0))) : b.bin('ne', P.STORE_FINAL, b.i(0)), () => {
    kb.op({ op: 'store', src: S, dst: { buf: 'final_state', index: b.add(b.mul(b.add(stateBase, stateRow(R)), b.i(V)), b.add(v0, Cv)), rows: stateRows, cols: vCols }, value: b.tile(S, R, Cv) });
    kb.if(b.bin('eq', v0, b.i(0)), () => {
      if (Z) kb.op({ op: 'store', src: Z, dst: { buf: 'final_z', index: b.add(stateBase, stateRow(R)), rows: stateRows, cols: b.i(1) }, value: b.tile(Z, R, b.i(0)) });
      if (Mt) kb.op({ op: 'store', src: Mt, dst: { buf: 'final_m', index: b.add(b.mul(n, P.H), h), rows: b.i(1), cols: b.i(1) }, value: b.tile(Mt, b.i(0), b.i(0)) });
    });
  });

  const buffers = [...programBuffers(ir, 'f32'), ...preparedBuffers(st), ...(split ? splitBuffers(st) : []), ...(outputKernel ? stateBuffers(ir, C) : []), ...(SEG ? segmentBuffers(ir, tl) : []), tokinfoBuffer];
  const groups = keyTile ? b.i(VT * Math.ceil(K / BK)) : b.ceilDiv(b.i(V), b.i(BV));
  return kb.build([groups, P.H, SEG ? b.mul(P.N, segmentCount(ir, tl)) : P.N], keyTile || regState ? (tl.stateThreads ?? tl.threads) : tl.threads, programParams(ir), buffers, `${ir.name}: ${C === 1 ? 'token-sequential' : `chunks of ${C}`} ${cls} update, state tile [${keyTile ? BK : K}, ${BV}] per workgroup${keyTile ? ` (key tiles of ${BK} in the grid)` : `, key slices of ${BK}`}${regState ? ', in registers' : ''}`);
}

export function preparedBuffers(st: PlanState) {
  return Object.entries(st.quantities ?? {})
    .filter(([, p]) => p!.how === 'prepared')
    .map(([name, p]) => scratchBuffer(name, p!.width));
}

export type { AttentionIR };
