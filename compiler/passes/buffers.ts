/**
 * The buffer and parameter contract between the host bindings and the kernels — one place for it.
 *
 * Tokens are flattened: token `tok` ∈ [0, NT) with NT = B·T; sequence n covers
 * [cu[n], cu[n+1]) (without cu_seqlens the host passes cu = [0, T, 2T, …, B·T]).
 *   in_<x>      per-token input  [NT, H_x, …shape]   (int inputs: [NT])
 *   p_<x>       parameter        [H, …shape] per head, else […shape]
 *   out         output           [NT, H, V']
 *   initial_state, final_state   S [N, H, K', V'] (read at the start if HAS_INIT; written at the end if STORE_FINAL)
 *   initial_z, final_z           z [N, H, K']     (sum / maxabs normalizer)
 *   initial_m, final_m           m [N, H]         (maxabs stabiliser)
 *   (separate in and out buffers: the value tiles of one head share z and m, so in place would race)
 *   cu          sequence offsets [N + 1]  (i32)
 *   tokinfo     [NT, 2] (position in its sequence, sequence length), when an expression uses t or T
 *   f_<name>    prepared per-token values [NT, H, width] (scratch, written by the prepare kernel)
 *   gcum        cumulative log-gates [NT, H] (softmax family with a gate)
 *   w_a, w_b, w_w, w_u   split chunk form: per-token rows of the intra-chunk kernel's results —
 *               output weights [NT, H, C], cumulative log-gates in the chunk [NT, H, 1 or K'],
 *               delta rules' WY factors W [NT, H, K'] (stored like the inputs: bf16/f16 in 16-bit
 *               programs) and U [NT, H, V'] (compiler/passes/build-intra.ts);
 *               with an output kernel, the state kernel overwrites U with the corrected values U − W S
 *   w_k         split form with an output kernel, delta rules with vector gates: the chunk's keys
 *               decayed to its end, k ⊙ e^{b_L − b} [NT, H, K'] (raw k where its row factor is folded
 *               into the WY factors; stored like the inputs), for the state kernel's update (decayedKeys)
 *   w_h, w_z    split form with an output kernel: the state S [slots, H, K', V'] (stored like the
 *               inputs: bf16/f16 in 16-bit programs) and the normalizer z [slots, H, K'] before each
 *               chunk, chunk slot ⌊cu[n]/C⌋ + n + c0/C (chunkSlot, chunkStateRow)
 */
import { isVectorGate, type AttentionIR } from '../ir/attention-ir.ts';
import type { IndexVar, Ref } from '../ir/expr.ts';
import * as b from '../kernel-ir/build.ts';
import type { BufferDecl, Dtype, ParamDecl, SExpr } from '../kernel-ir/types.ts';
import type { Elem, LeafEnv } from './lower-expr.ts';
import type { PlanState, Tiling } from './plan.ts';
import { tensorCoreMatmuls } from './dtypes.ts';
import { Unsupported } from './lower-expr.ts';

export const inputBuf = (name: string) => `in_${name}`;
export const paramBuf = (name: string) => `p_${name}`;
export const featBuf = (name: string) => `f_${name}`;
export const headsParam = (name: string) => `H_${name}`;

export const P = {
  B: b.v('B'),
  T: b.v('T'),
  H: b.v('H'),
  N: b.v('N'),
  NT: b.v('NT'),
  MAXLEN: b.v('MAXLEN'),
  HAS_INIT: b.v('HAS_INIT'),
  STORE_FINAL: b.v('STORE_FINAL'),
};

export function programParams(ir: AttentionIR): ParamDecl[] {
  const ps: ParamDecl[] = ['B', 'T', 'H', 'N', 'NT', 'MAXLEN', 'HAS_INIT', 'STORE_FINAL'].map((name) => ({ name, type: 'u32' as const }));
  for (const i of ir.inputs) if (i.type === 'real') ps.push({ name: headsParam(i.name), type: 'u32' });
  return ps;
}

const prod = (xs: readonly number[]) => xs.reduce((a, c) => a * c, 1);

/** Global buffers every program of this spec may bind (kernels list the subset they use). */
export function programBuffers(ir: AttentionIR, dtype: Dtype): BufferDecl[] {
  const out: BufferDecl[] = [];
  for (const i of ir.inputs) {
    const n = prod(i.shape);
    out.push(
      i.type === 'int'
        ? { name: inputBuf(i.name), role: 'input', dtype: 'i32', access: 'read', elems: P.NT }
        : { name: inputBuf(i.name), role: 'input', dtype, access: 'read', elems: b.mul(b.mul(P.NT, b.v(headsParam(i.name))), b.i(n)) },
    );
  }
  for (const p of ir.params) {
    const n = prod(p.shape);
    out.push({ name: paramBuf(p.name), role: 'param', dtype: 'f32', access: 'read', elems: p.perHead ? b.mul(P.H, b.i(n)) : b.i(n) });
  }
  out.push({ name: 'cu', role: 'meta', dtype: 'i32', access: 'read', elems: b.add(P.N, b.i(1)) });
  out.push({ name: 'out', role: 'output', dtype, access: 'read_write', elems: b.mul(b.mul(P.NT, P.H), b.i(ir.valueDim)) });
  if (ir.family === 'recurrent') {
    const S = b.mul(b.mul(P.N, P.H), b.i(ir.keyDim * ir.valueDim));
    const Z = b.mul(b.mul(P.N, P.H), b.i(ir.keyDim));
    const M = b.mul(P.N, P.H);
    const pair = (name: string, elems: SExpr) => {
      out.push({ name: `initial_${name}`, role: 'state-in', dtype: 'f32', access: 'read', elems });
      out.push({ name: `final_${name}`, role: 'state-out', dtype: 'f32', access: 'read_write', elems });
    };
    pair('state', S);
    if (ir.normalizer !== 'none') pair('z', Z);
    if (ir.normalizer === 'maxabs') pair('m', M);
  }
  return out;
}

export function scratchBuffer(name: string, width: number): BufferDecl {
  return { name: featBuf(name), role: 'scratch', dtype: 'f32', access: 'read_write', elems: b.mul(b.mul(P.NT, P.H), b.i(Math.max(1, width))) };
}

/**
 * Scratch written by the intra-chunk kernel and read by the state kernel (and the corrected values
 * the state kernel writes for the output kernel, correctedValues): [NT, H, width]. Stored
 * like the inputs (16 bits in a bf16/f16 program) where that rounds nothing more than its readers
 * do: the delta rules' W (the state kernel's 16-bit operands), U with PlanOptions.halfValues (which
 * the state kernel turns into the corrected values, as FLA stores u and v_new), and the intra-chunk
 * weights `w_a` where the output kernel alone reads them (the three-kernel form) with 16-bit
 * tensor-core operands (halfWeights) — the same bits it rounded them to from f32, in half the bytes.
 */
export function splitBuffers(st: PlanState): BufferDecl[] {
  const ir = st.ir;
  const t = st.tiling!;
  const scratch = (name: string, width: number): BufferDecl => ({ name, role: 'scratch', dtype: 'f32', access: 'read_write', elems: b.mul(b.mul(P.NT, P.H), b.i(width)) });
  const out: BufferDecl[] = [{ ...scratch('w_a', t.C), ...(halfWeights(st) ? { ioDtype: true } : {}) }];
  const gate = ir.gate.cls;
  if (gate !== 'none') out.push(scratch('w_b', isVectorGate(gate) ? ir.keyDim : 1));
  if (ir.update!.cls === 'delta') out.push({ ...scratch('w_w', ir.keyDim), ioDtype: true }, { ...scratch('w_u', ir.valueDim), ...(st.options.halfValues ? { ioDtype: true } : {}) });
  if (correctedValues(st) === 'w_x') out.push({ ...scratch('w_x', ir.valueDim), ioDtype: true });
  if (decayedKeys(ir, t)) out.push({ ...scratch('w_k', ir.keyDim), ioDtype: true });
  return out;
}

/**
 * Where the delta rules' state kernel stores the corrected values X = U − W·S for the output
 * kernel: over U (`w_u`), or — where the output kernel reads them with 16-bit operands
 * (halfWeights) and U is f32 — into `w_x`, stored like the inputs: the bits that kernel rounded
 * them to, in half the bytes (U stays f32 for the state kernel's subtraction).
 */
export function correctedValues(st: PlanState): 'w_u' | 'w_x' {
  return st.ir.update?.cls === 'delta' && halfWeights(st) && !st.options.halfValues ? 'w_x' : 'w_u';
}

/**
 * The intra-chunk weights stored in 16 bits: the three-kernel split form, whose output kernel alone
 * reads them, with 16-bit tensor-core operands there (a 16-bit program on a target with tensor
 * cores: the dtype pass gives the output kernel the program's type) and a chunk that is a multiple
 * of 16 (their matmul's reduction: m16n8k16, not TF32).
 */
export function halfWeights(st: PlanState): boolean {
  const t = st.tiling!;
  return !!t.split && !!t.outputKernel && t.C % 16 === 0 && tensorCoreMatmuls(st);
}

/**
 * Whether the intra-chunk kernel stores each chunk's keys decayed to its end, k ⊙ e^{b_L − b}
 * (`w_k`), for the state kernel's update: delta rules with vector gates in three kernels (KDA).
 * The state kernel then loads them and the gate sums' last row, instead of k and all the gate
 * sums, and scales nothing — once per chunk instead of once per value tile.
 */
export function decayedKeys(ir: AttentionIR, t: Tiling): boolean {
  return !!t.split && !!t.outputKernel && ir.update?.cls === 'delta' && isVectorGate(ir.gate.cls);
}

/**
 * The chunk slot of sequence n's chunk at position c0 (a multiple of C) in the per-chunk buffers
 * `w_h`, `w_z`: ⌊cu[n]/C⌋ + n + c0/C. Distinct for every chunk of every sequence, and below
 * ⌊NT/C⌋ + N + 1 (`stateBuffers`).
 */
export const chunkSlot = (start: SExpr, n: SExpr, c0: SExpr, C: number): SExpr => b.add(b.add(b.idiv(start, b.i(C)), n), b.idiv(c0, b.i(C)));

/** Row r of head h's state in chunk slot `slot`: an index of `w_z`, and times V' the start of the row in `w_h`. */
export const chunkStateRow = (slot: SExpr, h: SExpr, K: number) => (r: SExpr): SExpr => b.add(b.mul(b.add(b.mul(slot, P.H), h), b.i(K)), r);

/** Per-chunk states written by the state kernel and read by the output kernel: ⌊NT/C⌋ + N + 1 slots. */
export function stateBuffers(ir: AttentionIR, C: number): BufferDecl[] {
  const slots = b.add(b.idiv(P.NT, b.i(C)), b.add(P.N, b.i(1)));
  const out: BufferDecl[] = [{ name: 'w_h', role: 'scratch', dtype: 'f32', access: 'read_write', elems: b.mul(b.mul(slots, P.H), b.i(ir.keyDim * ir.valueDim)), ioDtype: true }];
  if (ir.normalizer === 'sum') out.push({ name: 'w_z', role: 'scratch', dtype: 'f32', access: 'read_write', elems: b.mul(b.mul(slots, P.H), b.i(ir.keyDim)) });
  return out;
}

/**
 * The segmented state passes (Tiling.segment or segmentWorkgroups, additive updates without a
 * normalizer): per sequence × segment × head, the segment's own final state from a zero start
 * (`w_sl`), its log-decay per key row, Σ of its chunks' b_L (`w_sd`), and the state at its start
 * (`w_s0`). Segments are counted from the longest sequence: ⌈MAXLEN / segment⌉ per sequence.
 */
export function segmentBuffers(ir: AttentionIR, tl: Tiling): BufferDecl[] {
  const heads = b.mul(b.mul(P.N, segmentCount(ir, tl)), P.H);
  const state = (name: string): BufferDecl => ({ name, role: 'scratch', dtype: 'f32', access: 'read_write', elems: b.mul(heads, b.i(ir.keyDim * ir.valueDim)) });
  return [state('w_sl'), { name: 'w_sd', role: 'scratch', dtype: 'f32', access: 'read_write', elems: b.mul(heads, b.i(ir.keyDim)) }, state('w_s0')];
}

/** Whether the state passes run in segments (Tiling.segment or Tiling.segmentWorkgroups). */
export function segmented(tl: Tiling): boolean {
  return !!tl.segment || !!tl.segmentWorkgroups;
}

/** Workgroups per head and sequence of the (segmented) state kernel: value tiles × key tiles. */
export function stateGroupsPerHead(ir: AttentionIR, tl: Tiling): number {
  const VT = Math.ceil(ir.valueDim / tl.BV);
  return tl.stateKeyTile ? VT * Math.ceil(ir.keyDim / tl.stateKeyTile) : VT;
}

/**
 * Tokens per segment, a multiple of the chunk: Tiling.segment, or from the run's shape
 * (Tiling.segmentWorkgroups = W): ⌈W / (N·H·G)⌉ segments wanted (G the state kernel's workgroups
 * per head), so each of ⌈⌈MAXLEN / C⌉ / that⌉ chunks — a single segment where N·H·G ≥ W.
 */
export function segmentLength(ir: AttentionIR, tl: Tiling): SExpr {
  if (tl.segment) return b.i(tl.segment);
  const W = tl.segmentWorkgroups;
  if (!W) throw new Error('internal: segmentLength without segments');
  const wanted = b.ceilDiv(b.i(W), b.mul(b.mul(P.N, P.H), b.i(stateGroupsPerHead(ir, tl))));
  const chunks = b.max(b.ceilDiv(b.ceilDiv(P.MAXLEN, b.i(tl.C)), wanted), b.i(1));
  return b.mul(chunks, b.i(tl.C));
}

/** Segments per sequence of the segmented state passes. */
export function segmentCount(ir: AttentionIR, tl: Tiling): SExpr {
  return b.ceilDiv(P.MAXLEN, segmentLength(ir, tl));
}

/** Row 0 of head h's state of segment `seg` of sequence n in w_sl and w_s0 ([K, V] rows; w_sd: [K]), of `nseg` per sequence. */
export function segmentStateRow(n: SExpr, nseg: SExpr, seg: SExpr, h: SExpr, K: number): SExpr {
  return b.mul(b.add(b.mul(b.add(b.mul(n, nseg), seg), P.H), h), b.i(K));
}

export const tokinfoBuffer: BufferDecl = { name: 'tokinfo', role: 'meta', dtype: 'i32', access: 'read', elems: b.mul(P.NT, b.i(2)) };

/** Where a row of a tile reads its token from. */
export interface RowTokens {
  tok: (r: SExpr) => SExpr;
  /** Position of the token in its sequence, and the sequence length. */
  pos: (r: SExpr) => SExpr;
  len: (r: SExpr) => SExpr;
  head: SExpr;
}

/** The input head serving output head h: ⌊h·H_x / H⌋ (GQA/GVA). */
export function inputHead(name: string, head: SExpr): SExpr {
  return b.idiv(b.mul(head, b.v(headsParam(name))), P.H);
}

/** Leaves of per-token expressions (features, gates, rule arguments, epilogues) read from the buffers. */
export function tokenLeaves(ir: AttentionIR, rt: RowTokens, uses: { tokinfo: boolean }): LeafEnv {
  return {
    ref(ref: Ref, shape: readonly number[]): Elem {
      if (ref.kind === 'input') {
        const inp = ir.inputs.find((i) => i.name === ref.name)!;
        if (inp.type === 'int') return { width: 0, at: (r) => b.ld(inputBuf(inp.name), rt.tok(r)) };
        const Hx = b.v(headsParam(inp.name));
        const hx = inputHead(inp.name, rt.head);
        const d = prod(inp.shape);
        const rowBase = (r: SExpr) => b.mul(b.add(b.mul(rt.tok(r), Hx), hx), b.i(d));
        return { width: inp.shape[0] ?? 0, at: (r, c) => b.ld(inputBuf(inp.name), inp.shape.length ? b.add(rowBase(r), c) : rowBase(r)) };
      }
      if (ref.kind === 'param') {
        // Global parameter; a matrix is addressed row-major by a flattened column index.
        return { width: shape.length ? prod(shape) : 0, at: (_r, c) => b.ld(paramBuf(ref.name), shape.length ? c : b.i(0)) };
      }
      throw new Unsupported(`a ${ref.kind} reference in a per-token expression`);
    },
    paramAt(name: string, shape: readonly number[]): Elem {
      const n = prod(shape);
      return { width: shape.length ? n : 0, at: (_r, c) => b.ld(paramBuf(name), shape.length ? b.add(b.mul(rt.head, b.i(n)), c) : rt.head) };
    },
    index(name: IndexVar) {
      switch (name) {
        case 't':
          uses.tokinfo = true;
          return (r: SExpr) => b.un('float', rt.pos(r));
        case 'T':
          uses.tokinfo = true;
          return (r: SExpr) => b.un('float', rt.len(r));
        case 'h':
          return () => b.un('float', rt.head);
        case 'H':
          return () => b.un('float', P.H);
        default:
          throw new Unsupported(`index ${name} in a per-token expression`);
      }
    },
  };
}
