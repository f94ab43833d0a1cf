/**
 * The lowering pipeline from the attention IR to kernel IR: named passes, each a function from
 * plan to plan, run in this order. `attnc explain FILE --target T --dump-after PASS` prints the
 * plan after any of them.
 *
 *   form-selection   chunk / recurrent / parallel, by the cost model below
 *   fusion           which per-token quantities are computed in the main kernel's loads (fused)
 *                    and which by a prepare kernel; gate cumsums into the chunk kernel
 *   tiling           chunk size and tiles that fit the profile's workgroup memory and threads
 *   kernels          kernel IR for the chosen form
 *   barriers         keep only the barriers that separate dependent tile ops
 *   binding-packing  pack buffers when a kernel would exceed the storage-buffer limit
 *   dtype            storage types: f16/bf16 inputs and outputs, f32 state and arithmetic
 *   memory           check every kernel against the workgroup-memory and thread limits
 */
import { diag } from '../diagnostics/diagnostic.ts';
import { isVectorGate, type AttentionIR } from '../ir/attention-ir.ts';
import { walk, type TExpr } from '../ir/expr.ts';
import * as b from '../kernel-ir/build.ts';
import type { BufferDecl, Dtype, Kernel, Program, SExpr, Stmt } from '../kernel-ir/types.ts';
import { blocksOverlap, deepTileAccess, forEachStmt, memoryLets, tileBlocks, usedTiles, type RowBlock } from '../kernel-ir/analysis.ts';
import { PROFILES, PROFILE_NAMES, type TargetProfile } from '../targets/profiles.ts';
import { featBuf, programBuffers, programParams, scratchBuffer, segmentBuffers, segmented, splitBuffers, stateBuffers, tokinfoBuffer } from './buffers.ts';
import { buildChunkKernel } from './build-chunk.ts';
import { buildSegmentCombineKernel } from './build-segments.ts';
import { buildIntraKernel } from './build-intra.ts';
import { buildOutputKernel, isOutputKernel } from './build-output.ts';
import { buildPrepareKernel } from './build-prepare.ts';
import { buildGateCumsumKernel, buildSoftmaxKernel, gcumBuffer, plainCausalScores } from './build-softmax.ts';
import { rowTilesFit, storageDtype, storedDtype, tensorCoreMatmuls } from './dtypes.ts';
import { isElementwise, Unsupported } from './lower-expr.ts';
import { rowScaleOf, type KernelForm, type PlanOptions, type PlanState, type Quantity, type QuantityPlan, type TileRequest, type Tiling } from './plan.ts';

export type Pass = { name: string; run: (st: PlanState) => void; doc: string };

const fail = (st: PlanState, id: Parameters<typeof diag>[0], args: (string | number)[], hint?: string) => {
  st.diagnostics.push(diag(id, st.ir.span, args, { ...(st.ir.source ? { source: st.ir.source } : {}), ...(hint ? { hint } : {}) }));
};

// ── form selection ─────────────────────────────────────────────────────────────

/**
 * Cost model: softmax specs use the parallel (FlashAttention) form. State-recurrent specs use the
 * chunk form for prefill and the recurrent (token-sequential) form for decode (T ≤ 16 tokens per
 * call). The chunk form of additive and delta updates is split in two kernels (see `canSplit`):
 * the intra-chunk work (scores, WY factors: O(C) per token) runs for all chunks at once instead of
 * once per value tile inside the sequential loop; mLSTM's stabilised and DPLR updates keep the
 * fused single-pass kernel. General linear and vector-state updates have no kernels yet.
 */
function formSelection(st: PlanState): void {
  const ir = st.ir;
  const want = st.options.form;
  if (ir.family === 'softmax') {
    if (want && want !== 'parallel') return fail(st, 'FormUnsupported', [want, ir.name, 'softmax specs compile to the parallel (FlashAttention) form']);
    st.form = 'parallel';
    st.notes.push('form: parallel (tiled online softmax)');
    return;
  }
  const cls = ir.update!.cls;
  if (cls === 'general-linear' || cls === 'vector-state') {
    return fail(st, 'FormUnsupported', [want ?? 'chunk', ir.name, `no kernel target compiles a ${cls} update: only the reference interpreter runs it, in the recurrent form`], 'run it with `attnc run FILE --backend reference --form recurrent`; write the update as an additive, delta or DPLR rule to get kernels');
  }
  if (ir.direction === 'bidirectional') return fail(st, 'FormUnsupported', [want ?? 'chunk', ir.name, 'bidirectional kernels are not generated yet (the reference interpreter runs them)']);
  if (want === 'parallel') return fail(st, 'FormUnsupported', ['parallel', ir.name, 'state-recurrent specs compile to the chunk and recurrent forms']);
  const T = st.options.shape?.T ?? 4096;
  st.form = want ?? (T <= 16 ? 'recurrent' : 'chunk');
  const how = st.form === 'chunk' ? (canSplit(st) ? 'intra-chunk kernel for all chunks in parallel, then the sequential state kernel' : 'fused single-pass chunk kernel') : '';
  st.notes.push(`form: ${st.form}${want ? ' (asked for)' : T <= 16 ? ' (decode: a few tokens per call)' : ' (prefill)'}${how ? `: ${how}` : ''}`);
  if (canSplit(st)) st.options = splitOptions(st);
}

/**
 * The split chunk form's options: the caller's, and where the caller left them unset, the
 * profile's measured defaults (TargetProfile.deltaRegisterState: a delta update whose key
 * dimension one key slice covers, with no normalizer, in a 16-bit program, takes three kernels,
 * 16-bit operands and the state in registers).
 */
function splitOptions(st: PlanState): PlanOptions {
  const { ir, options } = st;
  const sixteen = options.dtype === 'bf16' || options.dtype === 'f16';
  // Where tiling can give the state kernel one key slice (K' within the widest, and no narrower
  // slice asked for: registerStateAllowed then holds).
  const delta = ir.update?.cls === 'delta' && ir.keyDim <= MAX_KEY_SLICE && registerStateAllowed(st, options.tiles?.BK ?? ir.keyDim);
  // Value tiles of 64 (asked for) leave the state kernel's accumulators too few registers: it spills.
  const narrow = (options.tiles?.BV ?? 0) <= 32;
  if (!st.target.deltaRegisterState || !sixteen || !delta || !narrow || options.outputKernel === false || options.stateRegisters === false) return options;
  return { ...options, outputKernel: true, halfOperands: options.halfOperands ?? true, stateRegisters: true };
}

/** The widest key slice of the chunk form's kernels. */
const MAX_KEY_SLICE = 128;

/** Whether the chunk form is split into the intra-chunk and state kernels. */
export function canSplit(st: PlanState): boolean {
  const ir = st.ir;
  if (st.form !== 'chunk' || st.options.split === false || ir.family !== 'recurrent') return false;
  const cls = ir.update!.cls;
  const possible = (cls === 'additive' && ir.normalizer !== 'maxabs') || cls === 'delta';
  // The profile's measured preference, unless the caller asked for the split form.
  return possible && (st.options.split === true || st.target.chunkPlan?.kernels !== 'fused');
}

/**
 * Whether the split form with key slices of BK takes its outputs from the output kernel
 * (build-output.ts): asked for, else the profile's measured preference (`chunkPlan.outputKernel`)
 * — except where the state kernel reads the state in one key slice with a scalar gate or none and
 * no normalizer: that kernel computes the outputs in the phases of its state reads, and measured
 * faster than three kernels on an H100 (bf16, B=4 T=4096: RetNet 0.73 against 0.90 ms, Gated
 * DeltaNet 1.40 against 1.49; docs/benchmarks.md, 2026-12-06).
 */
export function splitOutputs(st: PlanState, BK: number): boolean {
  if (st.options.outputKernel !== undefined) return st.options.outputKernel;
  if (!st.target.chunkPlan?.outputKernel) return false;
  const ir = st.ir;
  return !(BK >= ir.keyDim && !isVectorGate(ir.gate.cls) && ir.normalizer === 'none');
}

// ── fusion ─────────────────────────────────────────────────────────────────────

function quantityExprs(ir: AttentionIR, form: KernelForm): Partial<Record<Quantity, { expr: TExpr; width: number }>> {
  const out: Partial<Record<Quantity, { expr: TExpr; width: number }>> = {};
  const put = (q: Quantity, e: TExpr | undefined) => {
    if (e) out[q] = { expr: e, width: e.shape[0] ?? 0 };
  };
  put('q', ir.features.q);
  put('k', ir.features.k);
  put('v', ir.features.v);
  put('g', ir.gate.expr);
  const u = ir.update;
  if (u?.cls === 'delta') put('beta', u.beta);
  if (u?.cls === 'additive') {
    if (ir.normalizer === 'maxabs') put('logScale', u.logScale);
    else put('scale', u.scale);
  }
  if (u?.cls === 'dplr') {
    put('a', u.a);
    put('b', u.b);
  }
  if (ir.read.kind === 'exclusive') put('bonus', ir.read.bonus);
  void form;
  return out;
}

/**
 * A feature map whose only non-elementwise part is one l2norm or rmsnorm of an elementwise
 * argument: the norm's per-token factor (rsqrt(Σx² + ε), or of the mean square) as a scalar TExpr,
 * so the map itself can be fused (x times a prepared scalar per token).
 */
function rowScale(q: Quantity, e: TExpr): { node: TExpr; arg: TExpr; factor: TExpr } | undefined {
  if (q !== 'q' && q !== 'k' && q !== 'v') return undefined;
  const norms: Extract<TExpr, { op: 'vecfn' }>[] = [];
  walk(e, (x) => void (x.op === 'vecfn' && norms.push(x)));
  const node = norms[0];
  if (norms.length !== 1 || (node!.fn !== 'l2norm' && node!.fn !== 'rmsnorm') || !isElementwise(node!.a) || !isElementwise(e, new Set([node!]))) return undefined;
  const { a, span, eps } = node!;
  const scalar = { type: 'real' as const, shape: [] as number[], span };
  const squares: TExpr = { ...a, op: 'binary', fn: 'mul', a, b: a };
  const sum: TExpr = { ...scalar, op: 'reduce', fn: node!.fn === 'l2norm' ? 'sum' : 'mean', a: squares };
  const plusEps: TExpr = { ...scalar, op: 'binary', fn: 'add', a: sum, b: { ...scalar, op: 'const', value: eps } };
  return { node: node!, arg: a, factor: { ...scalar, op: 'unary', fn: 'rsqrt', a: plusEps } };
}

function fusion(st: PlanState): void {
  const qs: Partial<Record<Quantity, QuantityPlan>> = {};
  for (const [name, x] of Object.entries(quantityExprs(st.ir, st.form!)) as [Quantity, { expr: TExpr; width: number }][]) {
    const scaled = rowScale(name, x.expr);
    if (scaled) {
      const scale = rowScaleOf(name as 'q' | 'k' | 'v');
      qs[name] = { ...x, how: 'fused', why: `elementwise but for its ${(scaled.node as Extract<TExpr, { op: 'vecfn' }>).fn}: the input times the per-token ${scale}, computed where it is loaded`, rowScale: { node: scaled.node, arg: scaled.arg, scale } };
      qs[scale] = { expr: scaled.factor, width: 0, how: 'prepared', why: `the per-token factor of ${name}'s norm: computed by the prepare kernel` };
      continue;
    }
    const fused = isElementwise(x.expr);
    qs[name] = { ...x, how: fused ? 'fused' : 'prepared', why: fused ? 'elementwise: computed where it is loaded' : 'needs reductions or products: computed by the prepare kernel' };
  }
  st.quantities = qs;
  const prepared = Object.entries(qs).filter(([, p]) => p!.how === 'prepared').map(([n]) => n);
  st.notes.push(prepared.length ? `fusion: ${prepared.join(', ')} prepared by a separate kernel; the rest fused into loads` : 'fusion: every feature map and gate argument fused into the main kernel');
}

// ── tiling ─────────────────────────────────────────────────────────────────────

/**
 * Workgroup memory of a kernel as WGSL compilers count it: each shared tile rounded up to 16 bytes,
 * plus a 16-byte slot per value broadcast through workgroup memory (lets that read memory). Tiles
 * no op touches (a store's shape anchor, say) are not declared by the backends and not counted.
 */
export function sharedBytes(k: Kernel): number {
  const used = usedTiles(k.body);
  const tiles = k.tiles.filter((t) => t.space === 'shared' && used.has(t.name)).reduce((s, t) => s + Math.ceil((t.rows * t.cols * 4) / 16) * 16, 0);
  return tiles + 16 * memoryLets(k.body).size;
}

function tiling(st: PlanState): void {
  const ir = st.ir;
  const prof = st.target;
  const limit = prof.limits.sharedBytes;
  // The recurrent form: the profile's preference, else 256, unless asked; the chunk and parallel forms: the profile's preferences below.
  const askedThreads = st.options.threads;
  if (askedThreads !== undefined && !(Number.isInteger(askedThreads) && askedThreads >= 32 && askedThreads % 32 === 0)) {
    return fail(st, 'DoesNotFit', [`a workgroup of ${askedThreads} threads`, prof.name, 'the workgroup size must be a positive multiple of 32']);
  }
  let threads = Math.min(askedThreads ?? (st.form === 'recurrent' ? prof.recurrentThreads : undefined) ?? 256, prof.limits.threadsPerGroup);
  const build = (t: Tiling) => {
    st.tiling = t;
    try {
      if (ir.family === 'softmax') return buildSoftmaxKernel(st);
      const main = buildChunkKernel(st);
      if (!t.split) return main;
      // Every kernel of the split form must fit: report the largest.
      const ks = [main, buildIntraKernel(st), ...(t.outputKernel ? [buildOutputKernel(st)] : [])];
      return ks.reduce((x, y) => (sharedBytes(y) > sharedBytes(x) ? y : x));
    } catch (e) {
      if (e instanceof Unsupported) return undefined;
      throw e;
    }
  };
  // Epilogues that need the whole output row (norms over o) need one value tile per head.
  const fullRow = ir.family !== 'softmax' && ir.epilogue !== undefined && !isElementwise(ir.epilogue);
  const req = requestedTiles(st, fullRow);
  if (!req) return;
  // The smallest kernel among the candidates, for the diagnostic when requested tiles fit nowhere.
  let smallest: { t: Tiling; bytes: number } | undefined;
  const measured = (t: Tiling, bytes: number) => {
    if (!smallest || bytes < smallest.bytes) smallest = { t, bytes };
    return bytes <= limit;
  };
  const prepareRows = choosePrepareRows(st, limit);
  if (ir.family === 'softmax') {
    // The profile's measured workgroup size for the flash kernel, where it allows it.
    if (askedThreads === undefined && prof.parallelThreads) threads = Math.min(prof.parallelThreads, prof.limits.threadsPerGroup);
    const pref = st.options.chunk ?? (ir.chunk.kind === 'tiles' ? ir.chunk.q : 64);
    const specK = ir.chunk.kind === 'tiles' ? ir.chunk.k : 64;
    const profK = (plainCausalScores(st) && prof.parallelPlainKeyTile) || prof.parallelKeyTile;
    const prefK = !req.BK && profK && tensorCoreMatmuls(st) ? Math.min(specK, profK) : specK;
    // Balanced tiles first: the smaller of the two tile sizes sets how often a query tile's running
    // max/sum is rescaled and how many barriers a key sweep costs, so 32 × 32 beats 64 × 8.
    // An explicit query tile (--chunk) is the only candidate while some key tile fits with it.
    let bestS: { t: Tiling; score: number } | undefined;
    const Bks = req.BK ? [req.BK] : [prefK, 64, 32, 16, 8].filter((x, i, a) => x <= prefK && a.indexOf(x) === i);
    const allBq = [pref, 64, 32, 16, 8].filter((x, i, a) => x <= pref && a.indexOf(x) === i);
    const askedQ = st.options.chunk;
    for (const Bqs of askedQ ? [[askedQ], allBq.slice(1)] : [allBq]) {
      if (bestS) break;
      for (const Bq of Bqs) for (const Bk of Bks) {
        // Where the scores can be row-owned with the profile's workgroup for them, that workgroup.
        const rowThreads = prof.rowTiles?.threads;
        const own = askedThreads === undefined && rowThreads && rowTilesFit(st, rowThreads, Bq, [Bk, ir.valueDim, 1, ir.keyDim]) ? rowThreads : threads;
        const t: Tiling = { C: Bq, BK: Bk, BV: ir.valueDim, threads: own, prepareRows, sharedBytes: 0, why: '' };
        const k = build(t);
        if (!k) return fail(st, 'FormUnsupported', ['parallel', ir.name, 'the score must use q and k only through dot(q, k), and per-token inputs as x[i] or x[j]']);
        const bytes = sharedBytes(k);
        if (!measured(t, bytes)) continue;
        const score = Math.min(Bq, Bk) * 1e4 + Bq * 10 + Bk;
        if (!bestS || score > bestS.score) bestS = { t: { ...t, sharedBytes: bytes }, score };
      }
    }
    if (bestS) {
      const { C: Bq, BK: Bk, sharedBytes: bytes } = bestS.t;
      if (askedQ && Bq !== askedQ) st.notes.push(`tiling: the requested query tile ${askedQ} (--chunk) does not fit ${prof.name} with any key tile; using ${Bq}`);
      if (Bk === prefK && prefK < specK) st.notes.push(`tiling: key tiles of ${Bk} instead of the spec's ${specK}: ${prof.name} prefers them for the flash kernel on tensor cores (results are the same up to rounding)`);
      st.tiling = { ...bestS.t, why: `query tiles of ${Bq} and key tiles of ${Bk}${req.BK ? ' (requested)' : ''} (at most ${bytes} bytes of workgroup memory; ${prof.name} allows ${limit})` };
      st.notes.push(`tiling: ${st.tiling.why}`);
      return;
    }
    st.tiling = undefined;
    if (req.BK && smallest) return tooBig(st, req, smallest, `query tiles of ${smallest.t.C}, key tiles of ${smallest.t.BK}`);
    return fail(st, 'DoesNotFit', [`spec '${ir.name}' (head dims ${ir.keyDim}/${ir.valueDim})`, prof.name, `even 8 × 8 tiles need more than ${limit} bytes of workgroup memory; use a profile with more (webgpu-large) or smaller head dims`]);
  }
  const K = ir.keyDim;
  const V = ir.valueDim;
  const recurrent = st.form === 'recurrent';
  const specC = st.options.chunk ?? (ir.chunk.kind === 'size' ? ir.chunk.size : 64);
  const Cs = recurrent ? [1] : [specC, 64, 32, 16].filter((x, i, a) => x <= specC && a.indexOf(x) === i);
  // Requested tiles (checked by requestedTiles) are the only candidates of their kind.
  const split = canSplit(st);
  // The profile's measured preferences apply to the kernel shape they were measured for.
  const pref = prof.chunkPlan && (prof.chunkPlan.kernels === 'split') === !!split ? prof.chunkPlan : undefined;
  const widest = split && pref?.valueTile ? pref.valueTile : 64;
  // The chunk form's workgroup size: asked for, else the profile's measured preference where it allows it.
  // Like the other preferences, it applies to the kernel shape it was measured for.
  if (!recurrent && askedThreads === undefined && pref?.threads) threads = Math.min(pref.threads, prof.limits.threadsPerGroup);
  const BVs = req.BV ? [req.BV] : fullRow ? [V] : [64, 32, 16, 8].filter((x) => x <= widest).map((x) => Math.min(x, pow2Ceil(V))).filter((x, i, a) => a.indexOf(x) === i);
  const BKs = req.BK ? [req.BK] : [MAX_KEY_SLICE, 64, 32, 16, 8].map((x) => Math.min(x, pow2Ceil(K))).filter((x, i, a) => a.indexOf(x) === i);
  // The chunk to prefer: an explicit --chunk, else the profile's where it is smaller than the
  // spec's (a measured preference), else the spec's.
  const prefC = st.options.chunk ?? (pref && pref.chunk < specC ? pref.chunk : specC);
  let best: { t: Tiling; score: number } | undefined;
  // An explicit chunk (--chunk) is the only candidate while some tiles fit with it.
  const asked = recurrent ? undefined : st.options.chunk;
  for (const Cset of asked ? [[asked], Cs.filter((c) => c !== asked)] : [Cs]) {
    if (best) break;
    for (const C of Cset)
      for (const BV of BVs)
        for (const BK of BKs) {
          const outputKernel = split && splitOutputs(st, BK);
          const t: Tiling = { C, BK, BV, threads, prepareRows, sharedBytes: 0, why: '', ...(split ? { split } : {}), ...(outputKernel ? { outputKernel } : {}), ...(outputKernel ? stateWorkgroups(st, pref, askedThreads, C, BK) : {}) };
          const k = build(t);
          if (!k) return fail(st, 'FormUnsupported', [st.form!, ir.name, 'an epilogue or feature map the kernel cannot compute']);
          const bytes = sharedBytes(k);
          if (!measured(t, bytes)) continue;
          // Fused: prefer the requested chunk, then wide value tiles (less repeated work), then wide
          // key slices. Split: the state kernel is a chain of barrier-separated phases per chunk,
          // two or three per key slice, and on a GPU each phase costs about a microsecond of
          // latency (an H100 through WebGPU: ~39 µs per chunk at 29 phases); so value tiles of 32
          // (each value tile reloads the chunk's q and W; narrower tiles also give more
          // workgroups), then the widest key slice (fewest slices, fewest phases), then the
          // preferred chunk, then wider value tiles.
          const score = split
            ? Math.min(BV, 32) * 1e7 + Math.min(BK, K) * 1e4 + (C === prefC ? 1e3 : C) + BV / 1e3
            : (C === prefC ? 1e6 : C * 1e3) + BV * 10 + Math.min(BK, K);
          if (!best || score > best.score) best = { t: { ...t, sharedBytes: bytes }, score };
        }
  }
  if (!best) {
    st.tiling = undefined;
    if ((req.BV || req.BK) && smallest) return tooBig(st, req, smallest, `chunk ${smallest.t.C}, value tile ${smallest.t.BV}, key slice ${smallest.t.BK}${smallest.t.split ? ', the larger of the two kernels of the split form' : ''}`);
    return fail(st, 'DoesNotFit', [
      `spec '${ir.name}' (K' = ${K}, V' = ${V})`,
      prof.name,
      `the smallest ${recurrent ? 'recurrent' : 'chunk'} kernel (chunk ${Cs[Cs.length - 1]}, value tile ${BVs[BVs.length - 1]}, key slice 8) needs more than ${limit} bytes of workgroup memory${fullRow ? ' (its epilogue needs whole output rows)' : ''}; use a profile with more (webgpu-large), or smaller head dims`,
    ]);
  }
  const t = best.t;
  const segments = t.segment ? `, in segments of ${t.segment} tokens` : t.segmentWorkgroups ? `, in segments the run's shape sets (at least ${t.segmentWorkgroups} workgroups)` : '';
  const keyTiles = t.stateKeyTile || segments ? `, state kernel${t.stateKeyTile ? ` with key tiles of ${t.stateKeyTile}${t.stateThreads ? ` and ${t.stateThreads} threads` : ''}` : ''}${segments}` : t.stateRegisters ? `, state kernel with the state in registers${t.stateThreads ? ` and ${t.stateThreads} threads` : ''}` : '';
  const kernelsOf = t.outputKernel ? ' (the largest of the three kernels; outputs from the output kernel, for all chunks in parallel)' : t.split ? ' (the larger of the two kernels)' : '';
  st.tiling = { ...t, why: `chunk ${t.C}, value tile ${t.BV}${req.BV ? ' (requested)' : ''}, key slice ${t.BK}${req.BK ? ' (requested)' : ''}, ${t.threads} threads${keyTiles}: ${t.sharedBytes} bytes of workgroup memory${kernelsOf} (${prof.name} allows ${limit})` };
  if (asked && t.C !== asked) st.notes.push(`tiling: the requested chunk ${asked} (--chunk) does not fit ${prof.name}; using ${t.C} (results are the same up to rounding)`);
  else if (!recurrent && !asked && t.C !== specC && t.C === prefC) st.notes.push(`tiling: chunk ${t.C} instead of the spec's ${specC}: ${prof.name} prefers it for the ${split ? 'split' : 'fused'} form (results are the same up to rounding)`);
  else if (!recurrent && !asked && t.C !== specC) st.notes.push(`tiling: the spec's chunk ${specC} does not fit ${prof.name}; using ${t.C} (results are the same up to rounding)`);
  st.notes.push(`tiling: ${st.tiling.why}`);
  if (st.options.stateThreads !== undefined && !t.stateThreads) st.notes.push(`tiling: stateThreads ${st.options.stateThreads} not applied (it sets the state kernel's workgroup with key tiles or the state in registers, in a multiple of 32 within the profile's ${prof.limits.threadsPerGroup})`);
  if (st.options.stateRegisters && !t.stateRegisters) st.notes.push('tiling: the state stays in shared memory (stateRegisters needs three kernels of a delta update with one key slice over K\' and no normalizer)');
}

/**
 * How the three-kernel split form spreads an additive update's state over more workgroups.
 * Key tiles (Tiling.stateKeyTile): the state's rows evolve independently, so its key rows can be
 * split over workgroups; asked for (PlanOptions.stateKeyTile; 0 = none), else the profile's
 * measured `chunkPlan`, where the tile is smaller than K'; the workgroup size is the profile's
 * `stateThreads` unless threads were asked for. Segments of the sequence (Tiling.segment): asked
 * for only (PlanOptions.segmentChunks).
 */
function stateWorkgroups(st: PlanState, pref: TargetProfile['chunkPlan'], askedThreads: number | undefined, C: number, BK: number): Pick<Tiling, 'stateKeyTile' | 'stateThreads' | 'stateRegisters' | 'segment' | 'segmentWorkgroups'> {
  const asked = st.options.stateThreads;
  /** A workgroup size for the state kernel, where it is a multiple of 32 the profile allows. */
  const stateThreads = (n: number | undefined) => (n && n % 32 === 0 && n <= st.target.limits.threadsPerGroup ? { stateThreads: n } : {});
  if (st.ir.update?.cls === 'delta') return st.options.stateRegisters && registerStateAllowed(st, BK) ? { stateRegisters: true, ...stateThreads(asked) } : {};
  if (st.ir.update?.cls !== 'additive' || st.ir.normalizer === 'maxabs') return {};
  const tile = st.options.stateKeyTile ?? pref?.stateKeyTile;
  const keyTiles = !!tile && tile < st.ir.keyDim;
  // Segments (asked for): a state without a normalizer, held whole by each workgroup's key rows
  // (key tiles, or one key slice).
  const chunks = st.options.segmentChunks;
  const wgs = st.options.segmentWorkgroups;
  const segmentable = st.ir.normalizer === 'none' && (keyTiles || BK >= st.ir.keyDim);
  const segment = !segmentable ? {} : chunks && chunks > 0 ? { segment: chunks * C } : wgs && wgs > 0 ? { segmentWorkgroups: wgs } : {};
  if (!keyTiles) return segment;
  return { stateKeyTile: tile, ...stateThreads(asked ?? (askedThreads === undefined ? pref?.stateThreads : undefined)), ...segment };
}

/**
 * Whether the delta rule's state kernel may hold its state in registers (Tiling.stateRegisters):
 * one key slice over K' and no normalizer.
 */
function registerStateAllowed(st: PlanState, BK: number): boolean {
  return BK >= st.ir.keyDim && st.ir.normalizer === 'none';
}

/** Powers of two from 8 (or `cap`, when smaller) up to `cap`, itself a power of two. */
function tileSizes(cap: number): number[] {
  const out: number[] = [];
  for (let x = Math.min(8, cap); x <= cap; x *= 2) out.push(x);
  return out;
}

/** The key tiles a softmax request may name: up to the largest tile a spec may declare. */
const SOFTMAX_KEY_TILES = tileSizes(256);

const oneOf = (xs: readonly number[]) => (xs.length === 1 ? `${xs[0]}` : `one of ${xs.join(', ')}`);

/**
 * `options.tiles` checked against the spec; undefined (with ATTN4006 for each bad size) when one is
 * not allowed. Recurrent family: BV and BK are powers of two from 8 up to the next power of two of
 * V' and K'; BV is V' when the epilogue needs whole output rows. Softmax: BK only (the key tile),
 * up to 256; the value tile is always the whole row.
 */
function requestedTiles(st: PlanState, fullRow: boolean): TileRequest | undefined {
  const ir = st.ir;
  const want = st.options.tiles ?? {};
  const out: TileRequest = {};
  let ok = true;
  const check = (key: 'BV' | 'BK', allowed: readonly number[], why: string, hint?: string) => {
    const x = want[key];
    if (x === undefined) return;
    if (allowed.includes(x)) out[key] = x;
    else {
      ok = false;
      fail(st, 'BadTiles', [`${key}=${x}`, ir.name, why], hint);
    }
  };
  if (ir.family === 'softmax') {
    check('BV', [], `softmax specs take no value tile: each workgroup computes whole output rows (V' = ${ir.valueDim})`, 'give BK, the key tile, and the chunk (--chunk), the query tile');
    check('BK', SOFTMAX_KEY_TILES, `the key tile must be ${oneOf(SOFTMAX_KEY_TILES)}`);
  } else {
    const V = ir.valueDim;
    const K = ir.keyDim;
    if (fullRow) check('BV', [V], `the epilogue needs whole output rows, so the value tile must be V' = ${V}`, `leave BV out, or give BV=${V}`);
    else check('BV', tileSizes(pow2Ceil(V)), `the value tile must be ${oneOf(tileSizes(pow2Ceil(V)))} (V' = ${V})`);
    check('BK', tileSizes(pow2Ceil(K)), `the key slice must be ${oneOf(tileSizes(pow2Ceil(K)))} (K' = ${K})`);
  }
  return ok ? out : undefined;
}

/** ATTN4001 for requested tiles whose smallest kernel (`where` says which) exceeds the workgroup memory. */
function tooBig(st: PlanState, req: TileRequest, smallest: { t: Tiling; bytes: number }, where: string): void {
  const named = (['BV', 'BK'] as const).filter((k) => req[k] !== undefined).map((k) => `${k}=${req[k]}`).join(', ');
  const limit = st.target.limits.sharedBytes;
  fail(
    st,
    'DoesNotFit',
    [`the tile request ${named} for spec '${st.ir.name}'`, st.target.name, `its smallest kernel (${where}) needs ${smallest.bytes} bytes of workgroup memory; ${st.target.name} allows ${limit}`],
    'ask for smaller tiles, or leave them to the tiling pass (no --tiles)',
  );
}

function pow2Ceil(x: number): number {
  return 2 ** Math.ceil(Math.log2(Math.max(1, x)));
}

/**
 * Token rows per workgroup of the prepare kernel: the most (up to 32) whose tiles fit, and stay
 * within the profile's residentSharedBytes where it has one (so that several workgroups share a
 * compute unit: the kernel streams its rows and has no other use for a larger tile).
 */
function choosePrepareRows(st: PlanState, limit: number): number {
  if (!Object.values(st.quantities ?? {}).some((p) => p!.how === 'prepared')) return 16;
  const saved = st.tiling;
  const budget = Math.min(limit, st.target.limits.residentSharedBytes ?? limit);
  try {
    for (let R = 32; R >= 1; R /= 2) {
      st.tiling = { C: 1, BK: 1, BV: 1, threads: 64, prepareRows: R, sharedBytes: 0, why: '' };
      const k = buildPrepareKernel(st);
      if (!k || sharedBytes(k) <= budget) return R;
    }
    return 1;
  } finally {
    st.tiling = saved;
  }
}

// ── kernels ────────────────────────────────────────────────────────────────────

function kernels(st: PlanState): void {
  const ir = st.ir;
  const ks: Kernel[] = [];
  const extra: BufferDecl[] = [];
  let intra: Kernel | undefined;
  try {
    if (ir.family === 'softmax') {
      if (ir.gate.cls !== 'none') {
        ks.push(buildGateCumsumKernel(st));
        extra.push(gcumBuffer);
      }
      ks.push(buildSoftmaxKernel(st));
    } else {
      if (st.tiling!.split) {
        intra = buildIntraKernel(st);
        ks.push(intra);
        extra.push(...splitBuffers(st));
      }
      if (segmented(st.tiling!)) {
        // Segments: each segment's own state, the states at the segments' starts, then each
        // segment from its start (build-segments.ts).
        ks.push(buildChunkKernel(st, 'segment'), buildSegmentCombineKernel(st), buildChunkKernel(st, 'fromStarts'));
        extra.push(...segmentBuffers(ir, st.tiling!));
      } else ks.push(buildChunkKernel(st));
      if (st.tiling!.outputKernel) {
        ks.push(buildOutputKernel(st));
        extra.push(...stateBuffers(ir, st.tiling!.C));
      }
    }
    // The prepare kernel computes what the others read and no other kernel writes (a fused delta
    // kernel may compute its l2norm factors itself; the split form's intra-chunk kernel, which
    // runs first, computes and stores the row factors), and runs first.
    const written = new Set<string>();
    for (const k of ks) forEachStmt(k.body, (s) => void (s.op === 'store' && written.add(s.dst.buf)));
    const read = new Set(ks.flatMap((k) => k.buffers.map((x) => x.name)).filter((x) => !written.has(x)));
    const unread = Object.entries(st.quantities ?? {}).filter(([n, p]) => p!.how === 'prepared' && !read.has(featBuf(n))).map(([n]) => n);
    if (unread.length) st.notes.push(`fusion: ${unread.join(', ')} computed by the ${intra ? 'intra-chunk' : 'main'} kernel itself (from the rows it loads), not prepared`);
    const prep = buildPrepareKernel(st, read);
    if (prep) ks.unshift(prep);
  } catch (e) {
    if (e instanceof Unsupported) return fail(st, 'FormUnsupported', [st.form!, ir.name, e.message]);
    throw e;
  }
  const scratch = Object.entries(st.quantities ?? {})
    .filter(([, p]) => p!.how === 'prepared')
    .map(([n, p]) => scratchBuffer(n, p!.width));
  const used = new Set(ks.flatMap((k) => k.buffers.map((x) => x.name)));
  const buffers = [...programBuffers(ir, 'f32'), ...scratch, ...extra, tokinfoBuffer].filter((x) => used.has(x.name));
  if (st.options.asyncState ?? (st.form === 'recurrent' && !!st.target.recurrentAsyncState)) for (const k of ks) k.asyncState = true;
  // Register floors of the CUDA launch bounds: an explicit option for every kernel, else the
  // profile's for the recurrent form, and for the split form's intra-chunk kernel where the gate is
  // not a vector gate (their per-element decayed scores need the registers: RWKV-6's intra kernel
  // spilled 92 bytes at cuda-sm90's 64).
  const floorOf = (k: Kernel) =>
    st.options.registerFloor ?? (st.form === 'recurrent' ? st.target.recurrentRegisterFloor : k === intra && !isVectorGate(ir.gate.cls) ? st.target.intraRegisterFloor : undefined);
  for (const k of ks) {
    const floor = floorOf(k);
    if (floor !== undefined) k.registerFloor = floor;
  }
  st.program = { spec: ir.name, target: st.target.name, form: st.form!, kernels: ks, params: programParams(ir), buffers, notes: st.notes };
}

// ── barriers ───────────────────────────────────────────────────────────────────

/**
 * Keep a barrier only where an op reads a shared tile written since the last barrier, or writes a
 * shared tile read or written since then by another op — by row blocks: ops on disjoint rows of a
 * tile (views at constant offsets, tileBlocks) need none between them. Register tiles never need one: each
 * thread touches only the elements it owns (the interpreter's `checkRegisterUse` enforces it).
 * A loop gets a barrier in front only when its bounds or its body up to the body's first barrier
 * (at any depth) conflict with the current epoch; its body ends with a barrier when it touched shared tiles (the next
 * iteration, or the code after, may depend on them). After a loop that runs at least once the
 * epoch is fresh; after one that may run zero times the epoch before it carries on.
 */
export function minimiseBarriers(body: Stmt[], registers: ReadonlySet<string> = new Set()): Stmt[] {
  const out: Stmt[] = [];
  let written: RowBlock[] = [];
  let read: RowBlock[] = [];
  const shared = (bs: RowBlock[]) => sharedBlocks(bs, registers);
  const whole = (ts: Iterable<string>) => wholeTiles(ts, registers);
  const flush = () => {
    if (out.length && out[out.length - 1]!.op !== 'barrier' && (written.length || read.length)) out.push({ op: 'barrier' });
    written = [];
    read = [];
  };
  // Row blocks at constant offsets can be told apart at compile time.
  const meets = (x: RowBlock, ys: RowBlock[]) => ys.some((y) => blocksOverlap(x, y));
  const conflicts = (reads: RowBlock[], writes: RowBlock[]) => reads.some((t) => meets(t, written)) || writes.some((t) => meets(t, written) || meets(t, read));
  for (const s of body) {
    if (s.op === 'barrier') continue;
    if (s.op === 'if') {
      // Like a loop: a barrier in front only where the branches, up to their first barriers,
      // conflict with the current epoch (the flash kernel's masked and unmasked score maps touch
      // registers alone); after it, what either path leaves without a barrier behind it
      // (pendingAfter: a branch without one carries the epoch before the if on).
      const then = minimiseBarriers(s.then, registers);
      const other = minimiseBarriers(s.else, registers);
      const upTo = (ss: Stmt[]) => ss.slice(0, ss.findIndex((x) => x.op === 'barrier') >>> 0);
      const head = deepTileAccess([{ ...s, then: upTo(then), else: upTo(other) }]);
      if (conflicts(whole(head.reads), whole(head.writes))) flush();
      const branch = { ...s, then, else: other };
      out.push(branch);
      ({ written, read } = pendingAfter([branch], { written, read }, registers));
      continue;
    }
    if (s.op === 'for') {
      const inner = endWithBarrier(minimiseBarriers(s.body, registers), registers);
      // Only what the loop touches before its body's first barrier (bounds included) can meet
      // the current epoch: the rest of the first iteration comes after that barrier.
      const cut = inner.findIndex((x) => x.op === 'barrier');
      const head = deepTileAccess([{ ...s, body: inner.slice(0, cut < 0 ? inner.length : cut) }]);
      if (conflicts(whole(head.reads), whole(head.writes))) flush();
      const loop = { ...s, body: inner };
      out.push(loop);
      ({ written, read } = pendingAfter([loop], { written, read }, registers));
      continue;
    }
    const acc = tileBlocks(s);
    const reads = shared(acc.reads);
    const writes = shared(acc.writes);
    if (conflicts(reads, writes)) flush();
    out.push(s);
    written.push(...writes);
    read.push(...reads);
  }
  return out;
}

/** Whether a loop provably runs at least once (constant bounds with from < to). */
function runsOnce(s: Extract<Stmt, { op: 'for' }>): boolean {
  return s.from.k === 'const' && s.to.k === 'const' && s.from.v < s.to.v;
}

/** The row blocks of shared tiles among `bs` (register and row-owned tiles need no barrier). */
function sharedBlocks(bs: RowBlock[], registers: ReadonlySet<string>): RowBlock[] {
  return bs.filter((x) => !registers.has(x.tile));
}

/** Whole shared tiles among `ts`, as row blocks. */
function wholeTiles(ts: Iterable<string>, registers: ReadonlySet<string>): RowBlock[] {
  return sharedBlocks([...ts].map((tile) => ({ tile })), registers);
}

/** Shared row blocks written and read since the last barrier. */
interface Epoch {
  written: RowBlock[];
  read: RowBlock[];
}

/**
 * The epoch at the end of `ss` from `from` at its start, on any path through it: a barrier starts
 * a fresh one, an if leaves the union of its branches' (a branch without a barrier carries `from`
 * on), and a loop a fresh one where it runs at least once and its body ends with a barrier, else
 * everything it touches joins.
 */
function pendingAfter(ss: Stmt[], from: Epoch, registers: ReadonlySet<string>): Epoch {
  const shared = (bs: RowBlock[]) => sharedBlocks(bs, registers);
  const whole = (ts: Iterable<string>) => wholeTiles(ts, registers);
  let cur = from;
  for (const s of ss) {
    if (s.op === 'barrier') cur = { written: [], read: [] };
    else if (s.op === 'if') {
      const a = pendingAfter(s.then, cur, registers);
      const b = pendingAfter(s.else, cur, registers);
      cur = { written: [...a.written, ...b.written.filter((x) => !a.written.includes(x))], read: [...a.read, ...b.read.filter((x) => !a.read.includes(x))] };
    } else if (s.op === 'for') {
      if (runsOnce(s) && s.body[s.body.length - 1]?.op === 'barrier') cur = { written: [], read: [] };
      else {
        // The loop may not run (or ends without a barrier): what it touches joins the epoch.
        const deep = deepTileAccess([s]);
        cur = { written: [...cur.written, ...whole(deep.writes)], read: [...cur.read, ...whole(deep.reads)] };
      }
    } else {
      const acc = tileBlocks(s);
      cur = { written: [...cur.written, ...shared(acc.writes)], read: [...cur.read, ...shared(acc.reads)] };
    }
  }
  return cur;
}

/**
 * A body ends with a barrier when some path through it leaves shared tiles touched since its last
 * barrier (pendingAfter): the next iteration, or the code after, may depend on them. Register
 * tiles and buffer stores alone need none. Where only the paths through a closing if leave any,
 * the barriers go at the ends of those paths (the flash kernel's key tiles the mask skips then
 * pass without one, unless they load the next tile's keys).
 */
function endWithBarrier(ss: Stmt[], registers: ReadonlySet<string>): Stmt[] {
  const fresh = (x: Stmt[]) => {
    const left = pendingAfter(x, { written: [], read: [] }, registers);
    return !left.written.length && !left.read.length;
  };
  if (fresh(ss)) return ss;
  const last = ss[ss.length - 1];
  if (last?.op === 'if' && fresh(ss.slice(0, -1))) return [...ss.slice(0, -1), { ...last, then: endWithBarrier(last.then, registers), else: endWithBarrier(last.else, registers) }];
  return [...ss, { op: 'barrier' }];
}

function barriers(st: PlanState): void {
  for (const k of st.program?.kernels ?? []) k.body = minimiseBarriers(k.body, new Set(k.tiles.filter((t) => t.space !== 'shared').map((t) => t.name)));
}

// ── binding packing ────────────────────────────────────────────────────────────

/**
 * WebGPU allows few storage buffers per stage (8 by default). When a kernel needs more, pack
 * buffers into shared bindings, cheapest first: read-only meta, parameters and initial states (the
 * host copies them in), prepared scratch (written by our own kernels: free), final states (the
 * host copies them out after the pass), then inputs (copied in).
 *
 * A packed binding is an array of 32-bit words and `packedInto.offset` counts words. This pass runs
 * before `dtype`, so it sizes each member by the storage type that pass will give it
 * (`storedDtype`): f16 inputs take two elements to a word.
 */
function bindingPacking(st: PlanState): void {
  const p = st.program;
  if (!p) return;
  const limit = st.target.limits.storageBuffers;
  const groups: { name: string; roles: BufferDecl['role'][] }[] = [
    { name: 'packed_meta', roles: ['meta', 'param', 'state-in'] },
    { name: 'packed_scratch', roles: ['scratch'] },
    { name: 'packed_final', roles: ['state-out'] },
    { name: 'packed_in', roles: ['input'] },
  ];
  const bindingsOf = (k: Kernel) => new Set(k.buffers.map((x) => x.packedInto?.buffer ?? x.name)).size;
  for (const g of groups) {
    if (p.kernels.every((k) => bindingsOf(k) <= limit)) break;
    const members = p.buffers.filter((x) => g.roles.includes(x.role) && !x.packedInto);
    if (members.length < 2) continue;
    let offset: SExpr = b.i(0);
    // Scratch that our kernels write keeps 32-bit elements once packed (two threads would race on
    // the halves of a word): the 16-bit copies of the split form's W and states (ioDtype) stay f32.
    const wide = new Set(members.filter((m) => m.ioDtype && m.role === 'scratch').map((m) => m.name));
    for (const x of [...p.buffers, ...p.kernels.flatMap((k) => k.buffers)]) if (wide.has(x.name)) delete x.ioDtype;
    for (const m of members) {
      m.packedInto = { buffer: g.name, offset };
      offset = b.add(offset, alignUp(packedWords(m, storedDtype(m, storageDtype(st)))));
    }
    for (const k of p.kernels) for (const x of k.buffers) {
      const m = members.find((y) => y.name === x.name);
      if (m) x.packedInto = m.packedInto;
    }
    st.notes.push(`binding packing: ${members.map((m) => m.name).join(', ')} share the binding ${g.name}`);
  }
  for (const k of p.kernels) {
    const n = bindingsOf(k);
    if (n > limit) fail(st, 'DoesNotFit', [`kernel ${k.name}`, st.target.name, `it needs ${n} storage buffers even after packing; the profile allows ${limit}`]);
  }
}

/** Offsets in a packed binding stay 4-word aligned (16 bytes), for vector loads. */
function alignUp(e: SExpr): SExpr {
  return b.mul(b.ceilDiv(e, b.i(4)), b.i(4));
}

/** 32-bit words a buffer of this storage type takes in a packed binding. */
export function packedWords(m: BufferDecl, dtype: Dtype): SExpr {
  return dtype === 'f16' || dtype === 'bf16' ? b.ceilDiv(m.elems, b.i(2)) : m.elems;
}

// ── dtype legalisation ─────────────────────────────────────────────────────────

/**
 * Inputs and outputs are stored in the requested type; state, scratch, parameters and arithmetic
 * stay f32. WGSL has no bf16, and f16 needs 'shader-f16': there the storage falls back to f32
 * (with a note), so a program always runs on its profile. (Binding packing, which runs before,
 * sizes packed members with the same `storageDtype`/`storedDtype`.)
 */
function dtypeLegalisation(st: PlanState): void {
  const want = st.options.dtype ?? 'f32';
  const p = st.program;
  if (!p || want === 'f32') return;
  const use = storageDtype(st);
  if (use !== want) st.notes.push(want === 'bf16' ? 'dtype: WGSL has no bf16: f32 storage' : `dtype: ${st.target.name} has no 'shader-f16': f32 storage`);
  for (const x of [...p.buffers, ...p.kernels.flatMap((k) => k.buffers)]) x.dtype = storedDtype(x, use);
  st.notes.push(`dtype: ${use} inputs and outputs; state, accumulators and arithmetic in f32`);
  if (tensorCoreMatmuls(st)) {
    // The flash kernel's operands are the program's 16-bit inputs and probabilities in [0, 1]
    // (FlashAttention-2 rounds them likewise); the chunk kernels' also carry states and decayed
    // keys, which keep TF32's extra bits.
    // The output kernel of the split chunk form reads the 16-bit inputs, the states
    // stored in that type and the intra-chunk weights, and keeps nothing across chunks: its
    // operands are rounded like FLA's (q, h and the weights in 16 bits).
    const sixteen = use === 'bf16' || use === 'f16' ? use : undefined;
    const half = p.form === 'parallel' || st.options.halfOperands ? sixteen : undefined;
    for (const k of p.kernels) k.tensorCores = (isOutputKernel(k) ? sixteen : half) ?? 'tf32';
    // Warpgroup MMA is Hopper's (sm_90a): asked for elsewhere, the option is ignored.
    if (sixteen && (st.target.sm ?? 0) >= 90 && (st.options.warpgroupMma ?? st.target.warpgroupMma)) for (const k of p.kernels) k.warpgroupMma = true;
    const prefetch = st.options.prefetchWords ?? st.target.pipelinedWords;
    if (prefetch !== undefined) for (const k of p.kernels) k.prefetchWords = prefetch;
    const depth = st.options.prefetchDepth ?? st.target.pipelinedDepth;
    if (depth !== undefined && st.target.features.asyncCopy) {
      for (const k of p.kernels) {
        k.prefetchDepth = depth;
        if (st.options.prefetchDepth !== undefined) k.prefetchDepthAsked = true;
      }
    }
    st.notes.push(half ? `matmuls: tensor cores where the tile shapes allow (mma.sync m16n8k16 with ${half} operands, else m16n8k8 with TF32 operands; f32 accumulation)` : 'matmuls: tensor cores where the tile shapes allow (mma.sync m16n8k8, TF32 operands, f32 accumulation)');
  }
}

// ── memory ─────────────────────────────────────────────────────────────────────

function memory(st: PlanState): void {
  for (const k of st.program?.kernels ?? []) {
    const bytes = sharedBytes(k);
    if (bytes > st.target.limits.sharedBytes) fail(st, 'DoesNotFit', [`kernel ${k.name}`, st.target.name, `${bytes} bytes of workgroup memory, the profile allows ${st.target.limits.sharedBytes}`]);
    if (k.threads > st.target.limits.threadsPerGroup) fail(st, 'DoesNotFit', [`kernel ${k.name}`, st.target.name, `${k.threads} threads per workgroup, the profile allows ${st.target.limits.threadsPerGroup}`]);
  }
}

export const PASSES: Pass[] = [
  { name: 'form-selection', run: formSelection, doc: 'chunk / recurrent / parallel, by the cost model' },
  { name: 'fusion', run: fusion, doc: 'feature maps and gate arguments into loads, or a prepare kernel' },
  { name: 'tiling', run: tiling, doc: 'chunk size and tiles that fit the profile' },
  { name: 'kernels', run: kernels, doc: 'kernel IR for the chosen form' },
  { name: 'barriers', run: barriers, doc: 'only the barriers dependent tile ops need' },
  { name: 'binding-packing', run: bindingPacking, doc: 'pack buffers past the storage-buffer limit' },
  { name: 'dtype', run: dtypeLegalisation, doc: 'f16/bf16 storage, f32 state and arithmetic' },
  { name: 'memory', run: memory, doc: 'workgroup memory and threads within the limits' },
];

export const PASS_NAMES = PASSES.map((p) => p.name);

export interface PlanResult extends PlanState {
  /** The plan printed after the requested pass. */
  dump?: string;
}

/** Plan kernels for a target: a profile name, or a profile object (a device's own limits, say). */
export function plan(ir: AttentionIR, targetName: string | TargetProfile, options: PlanOptions = {}, dumpAfter?: string, dumper?: (st: PlanState) => string): PlanResult {
  const target: TargetProfile | undefined = typeof targetName === 'string' ? PROFILES[targetName] : targetName;
  const st: PlanResult = { ir, target: target!, options, diagnostics: [], notes: [] };
  if (!target) {
    st.diagnostics.push(diag('UnknownTarget', ir.span, [String(targetName), PROFILE_NAMES.join(', ')], ir.source ? { source: ir.source } : {}));
    return st;
  }
  if (dumpAfter && !PASS_NAMES.includes(dumpAfter)) {
    st.diagnostics.push(diag('UnknownPass', ir.span, [dumpAfter, PASS_NAMES.join(', ')], ir.source ? { source: ir.source } : {}));
    return st;
  }
  for (const p of PASSES) {
    p.run(st);
    if (dumpAfter === p.name && dumper) st.dump = dumper(st);
    if (st.diagnostics.some((d) => d.severity === 'error')) {
      // Never hand out a plan that failed a check (an over-budget kernel, say).
      delete st.program;
      break;
    }
  }
  return st;
}

export type { Program };
