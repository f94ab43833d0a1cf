/**
 * The CUDA backend's kernels: each kernel-IR kernel becomes one `extern "C" __global__` function,
 * printed through the shared C-like printer (backends/clike/printer.ts decides how every tile op
 * is spread over a block's threads; this file is the CUDA dialect).
 *
 *   - uniform params: one struct passed by value; the kernel reads the fields it uses;
 *   - buffers: one pointer argument each (`const … __restrict__` where the kernel never stores
 *     to it), in the storage type (float, __half, __nv_bfloat16, int), converted to float on load
 *     and back on store (round to nearest); WebGPU's packed bindings do not exist here (a CUDA
 *     profile never packs: its storage-buffer limit is huge);
 *   - shared tiles: `__shared__ float` arrays while the block needs at most 48 KiB, otherwise
 *     slices of one `extern __shared__` array (the launcher raises the kernel's dynamic
 *     shared-memory limit with cudaFuncAttributeMaxDynamicSharedMemorySize); tiles that only
 *     lend a store its shape get no memory;
 *   - register tiles: local arrays, walked by `#pragma unroll` loops so slot indices are constants;
 *   - selects are C's lazy `c ? a : b`: reads under an untaken branch never happen.
 */
import { forEachStmt, loadsOf, tileAccess, usedTiles, usesVar, walkSExpr } from '../../compiler/kernel-ir/analysis.ts';
import type { BufferDecl, Dtype, Kernel, SExpr, Stmt, TileDecl } from '../../compiler/kernel-ir/types.ts';
import { CLikePrinter, type ExprCtx } from '../clike/printer.ts';
import { sexprKey } from '../clike/invariants.ts';
import { fragmentPads, warpGrid, type WarpGrid } from './mma.ts';
import { minBlocksPerUnit, REGISTER_FLOOR as DEFAULT_REGISTER_FLOOR } from './occupancy.ts';
import { blockUniform, columnIndex, guardKeepsVectors, vectorWidth } from './tile-io.ts';
import { substitute, unconditional } from '../clike/rewrite.ts';
import type { CType } from '../clike/types.ts';
import { coreByteOffset, coreIndex, corePad, coreStride, descriptorOffsets, wgmmaHelper, wgmmaN, wgmmaName, wgRow } from './wgmma.ts';

/** Static shared memory a block may declare; past it the tiles move to dynamic shared memory. */
export const STATIC_SHARED_LIMIT = 48 * 1024;

export interface CudaBufferArg {
  name: string;
  dtype: Dtype;
  /** C element type. */
  ctype: string;
  /** The kernel never writes it. */
  readOnly: boolean;
}

export interface CudaKernel {
  /** Kernel-IR name. */
  name: string;
  /** The `extern "C"` symbol. */
  symbol: string;
  code: string;
  threads: number;
  /** Minimum blocks per SM promised by the launch bounds. */
  minBlocks: number;
  /** Bytes of shared tiles (allocated ones). */
  sharedBytes: number;
  /** Bytes of dynamic shared memory the launch must ask for (0: the tiles are static). */
  dynamicSharedBytes: number;
  /** Shared tiles the kernel IR declares but no op touches (not allocated). */
  unusedSharedBytes: number;
  /** f32 words of register tiles per thread. */
  registerWords: number;
  buffers: CudaBufferArg[];
  /** The warpgroup-MMA helpers its matmuls call (wgmma.ts; none: the kernel builds for sm_80/sm_90). */
  wgmmaHelpers: string[];
}

export function ctypeOf(d: Dtype): string {
  switch (d) {
    case 'bf16':
      return '__nv_bfloat16';
    case 'f16':
      return '__half';
    case 'i32':
      return 'int';
    case 'u32':
      return 'unsigned int';
    default:
      return 'float';
  }
}

/** Whether `x` is the variable `name` (an element index r, c, a loop variable or a let). */
const isVar = (x: SExpr, name: string) => x.k === 'var' && x.name === name;

/** Device helpers every kernel file carries (inline: unused ones cost nothing). */
// exp and ln by the hardware's ex2 and lg2 with subnormals flushed (.ftz): without .ftz, ptxas
// wraps each MUFU in a range test and two predicated multiplies that keep subnormal results
// (about 7 % of KDA's intra-chunk instructions were those tests). A result below 2^-126 becomes
// 0, an absolute error under 1.2e-38.
// sigmoid, softplus and logsigmoid by them: log1pf and expf are ~40 instructions each, and in
// KDA's gate (a softplus per key feature and token) they took a quarter of its intra-chunk
// kernel. ln(1 + e^{−|x|}) by lg2 loses log1p's relative accuracy only where the term is below
// ~1e-7, next to max(x, 0) or in a gate near 0.
export const DEVICE_HELPERS = `__device__ __forceinline__ float attnc_exp2(float x) { float y; asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x)); return y; }
__device__ __forceinline__ float attnc_exp(float x) { return attnc_exp2(x * 1.44269504f); }
__device__ __forceinline__ float attnc_ln(float x) { float y; asm("lg2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x)); return y * 0.693147181f; }
__device__ __forceinline__ float attnc_sigmoid(float x) {
  if (x >= 0.0f) return __fdividef(1.0f, 1.0f + attnc_exp(-x));
  const float e = attnc_exp(x);
  return __fdividef(e, 1.0f + e);
}
__device__ __forceinline__ float attnc_softplus(float x) { return fmaxf(x, 0.0f) + attnc_ln(1.0f + attnc_exp(-fabsf(x))); }
__device__ __forceinline__ float attnc_logsigmoid(float x) { return fminf(x, 0.0f) - attnc_ln(1.0f + attnc_exp(-fabsf(x))); }
__device__ __forceinline__ float attnc_silu(float x) { return x * attnc_sigmoid(x); }
__device__ __forceinline__ float attnc_elu(float x) { return x > 0.0f ? x : expm1f(x); }
__device__ __forceinline__ float attnc_abs(float x) { return fabsf(x); }
__device__ __forceinline__ int attnc_abs(int x) { return x < 0 ? -x : x; }
__device__ __forceinline__ float attnc_min(float a, float b) { return fminf(a, b); }
__device__ __forceinline__ int attnc_min(int a, int b) { return a < b ? a : b; }
__device__ __forceinline__ float attnc_max(float a, float b) { return fmaxf(a, b); }
__device__ __forceinline__ int attnc_max(int a, int b) { return a > b ? a : b; }
__device__ __forceinline__ int attnc_clamp(int x, int lo, int hi) { return x < lo ? lo : (x > hi ? hi : x); }
// Sequence n's first token: the caller's cu_seqlens, or n·T for B sequences of T tokens (cu NULL).
__device__ __forceinline__ int attnc_seq_start(const int* cu, int n, int T) { return cu ? cu[n] : n * T; }
__device__ __forceinline__ float attnc_load(const __half* p, int i) { return __half2float(p[i]); }
__device__ __forceinline__ float attnc_load(const __nv_bfloat16* p, int i) { return __bfloat162float(p[i]); }
__device__ __forceinline__ void attnc_store(__half* p, int i, float x) { p[i] = __float2half_rn(x); }
__device__ __forceinline__ void attnc_store(__nv_bfloat16* p, int i, float x) { p[i] = __float2bfloat16_rn(x); }
__device__ __forceinline__ unsigned attnc_tf32(float x) {
  unsigned r;
  asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(r) : "f"(x));
  return r;
}
// x rounded to TF32, as a float (stored so in tiles that only TF32 matmuls read).
__device__ __forceinline__ float attnc_tf32f(float x) { return __uint_as_float(attnc_tf32(x)); }
// d += a·b for one 16×8 tile, k = 8 (a: 4 TF32 registers, b: 2; the PTX ISA's fragment layouts).
__device__ __forceinline__ void attnc_mma_tf32(float* d, const unsigned* a, const unsigned* b) {
  asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};"
               : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}
// d += a·b for one 16×8 tile, k = 16, with bf16 or f16 operands (a: 4 registers of two, b: 2).
__device__ __forceinline__ void attnc_mma_bf16(float* d, const unsigned* a, const unsigned* b) {
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};"
               : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}
__device__ __forceinline__ void attnc_mma_f16(float* d, const unsigned* a, const unsigned* b) {
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};"
               : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}
// Two values rounded to nearest into one register of a 16-bit pair (lo in the lower half); from
// two adjacent f32 words of a shared tile (8-byte aligned) with the *2 forms.
__device__ __forceinline__ unsigned attnc_pack_bf16(float lo, float hi) {
  const __nv_bfloat162 p = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<const unsigned*>(&p);
}
__device__ __forceinline__ unsigned attnc_pack_f16(float lo, float hi) {
  const __half2 p = __floats2half2_rn(lo, hi);
  return *reinterpret_cast<const unsigned*>(&p);
}
__device__ __forceinline__ unsigned attnc_pack2_bf16(const float* p) {
  const float2 v = *reinterpret_cast<const float2*>(p);
  return attnc_pack_bf16(v.x, v.y);
}
__device__ __forceinline__ unsigned attnc_pack2_f16(const float* p) {
  const float2 v = *reinterpret_cast<const float2*>(p);
  return attnc_pack_f16(v.x, v.y);
}
// cp.async: 16 bytes from global to shared memory without registers (zeros where !full; src is
// then not read); attnc_cp_async_wait waits for this thread's copies.
__device__ __forceinline__ void attnc_cp_async16(void* dst, const void* src, bool full) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" :: "r"((unsigned)__cvta_generic_to_shared(dst)), "l"(src), "r"(full ? 16 : 0) : "memory");
}
__device__ __forceinline__ void attnc_cp_async_wait() { asm volatile("cp.async.wait_all;" ::: "memory"); }
// The same for 4 bytes; groups of copies, and a wait until at most N of this thread's groups are
// still in flight (a ring of prefetched chunks).
__device__ __forceinline__ void attnc_cp_async4(void* dst, const void* src, bool full) {
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;" :: "r"((unsigned)__cvta_generic_to_shared(dst)), "l"(src), "r"(full ? 4 : 0) : "memory");
}
__device__ __forceinline__ void attnc_cp_async_commit() { asm volatile("cp.async.commit_group;" ::: "memory"); }
template <int N> __device__ __forceinline__ void attnc_cp_async_wait_group() { asm volatile("cp.async.wait_group %0;" :: "n"(N) : "memory"); }
// ldmatrix: 8×8 matrices of 16-bit elements from shared memory, lane l giving the address of row
// l % 8 of matrix l / 8; register j of lane l holds elements (l / 4, 2·(l % 4)) and the next of
// matrix j — or, with .trans, elements (2·(l % 4), l / 4) and (2·(l % 4) + 1, l / 4).
__device__ __forceinline__ void attnc_ldsm_x4(unsigned* r, const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"((unsigned)__cvta_generic_to_shared(p)));
}
__device__ __forceinline__ void attnc_ldsm_x4_trans(unsigned* r, const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"((unsigned)__cvta_generic_to_shared(p)));
}
__device__ __forceinline__ void attnc_ldsm_x2(unsigned* r, const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0, %1}, [%2];"
               : "=r"(r[0]), "=r"(r[1]) : "r"((unsigned)__cvta_generic_to_shared(p)));
}
__device__ __forceinline__ void attnc_ldsm_x2_trans(unsigned* r, const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0, %1}, [%2];"
               : "=r"(r[0]), "=r"(r[1]) : "r"((unsigned)__cvta_generic_to_shared(p)));
}`;

/** The shortest decimal that reads back as the same float32 value. */
export function shortestFloat(v: number): string {
  const f = Math.fround(v);
  if (Number.isInteger(f) && Math.abs(f) < 1e15) return String(f);
  for (let p = 1; p <= 9; p++) {
    const s = f.toPrecision(p);
    if (Math.fround(Number(s)) === f) return String(Number(s));
  }
  return String(f);
}

/** The CUDA pair type of a 16-bit storage type, and the conversion of two floats into one (round to nearest). */
function halfPair(d: Dtype): [string, string] {
  return d === 'bf16' ? ['__nv_bfloat162', '__floats2bfloat162_rn'] : ['__half2', '__floats2half2_rn'];
}

class CudaPrinter extends CLikePrinter {
  readonly eagerSelect = false;
  private readonly warps: number;
  /** Register tiles are laid out as tensor-core accumulator fragments (see registerElement). */
  private readonly fragments: boolean;

  private readonly sharedLimit: number;
  private readonly unit: { sharedBytes: number; registers: number } | undefined;

  constructor(k: Kernel, sharedLimit: number, unit?: { sharedBytes: number; registers: number }) {
    super(k);
    this.sharedLimit = sharedLimit;
    this.unit = unit;
    this.warps = k.threads % 32 === 0 ? k.threads / 32 : 0;
    const matmuls: Extract<Stmt, { op: 'matmul' }>[] = [];
    forEachStmt(k.body, (st) => {
      if (st.op === 'matmul') matmuls.push(st);
    });
    const registers = k.tiles.filter((t) => t.space === 'register');
    this.fragments =
      !!k.tensorCores &&
      this.warps > 0 &&
      registers.length > 0 &&
      registers.every((t) => {
        const g = warpGrid(t.rows, t.cols, this.warps);
        return !!g && this.fullGrid(g);
      }) &&
      matmuls.some((m) => this.tiles.get(m.dst.tile)!.space === 'register' && this.mmaShape(m, true));
    for (const t of k.tiles) if (t.space === 'rows') this.rowsGrid(t);
    this.halfTiles = this.sixteenBitTiles();
    this.roundedTiles = this.tf32Tiles();
    this.pipelinedCopies = this.chunkLoopCopies();
    this.warpgroupOperands(matmuls);
    // f32 tiles filled by cp.async (Kernel.asyncState): their rows stay unpadded (16-byte aligned).
    const asyncF32 = new Set<string>();
    const copies = this.copyMaps();
    for (const f of copies) if (!this.halfTiles.has(f.dst.tile)) asyncF32.add(f.dst.tile);
    this.asyncCopies = copies.length > 0;
    // Pad shared rows; the operands of tensor-core matmuls by 4 or 8 words (fragmentPads); a
    // 16-bit tile's rows to an odd number of 16-byte units, so that the 8 rows an ldmatrix phase
    // reads fall on distinct banks.
    const pads = fragmentPads(matmuls.filter((m) => this.mmaFits(m)), (m) => this.tiles.get(m.a.tile)!.space === 'rows', (m) => !!this.halfOperands(m));
    for (const name of this.halfTiles.keys()) pads.set(name, (this.tiles.get(name)!.cols / 8) % 2 ? 0 : 8);
    for (const name of this.cores.keys()) pads.set(name, corePad(this.tiles.get(name)!.cols));
    for (const name of asyncF32) pads.set(name, 0);
    // Quad folds: those of maps over a warp's worth of elements or more (a fold of one thread —
    // the recurrent kernel's [1, 1] tiles — gains nothing, and its 16 words of loads cost
    // registers). The rows they read by 16-byte loads: a multiple of 4 words apart (4 more than
    // 32·n: 8 lanes' 16-byte loads of 8 consecutive rows then fall on 32 distinct banks).
    forEachStmt(k.body, (st) => {
      const t = st.op === 'map' ? this.viewOf(st.dst).t : undefined;
      if (st.op !== 'map' || t!.rows * t!.cols < 32) return;
      walkSExpr(st.expr, (e) => {
        const reads = e.k === 'fold' ? this.quadFoldReads(e) : undefined;
        if (!reads) return;
        this.quadFolds.set(e, reads);
        for (const x of reads) if (!pads.has(x.tile)) pads.set(x.tile, 4);
      });
    });
    this.padSharedRows(sharedLimit, pads);
    // Copies held back from cp.async for a chunk loop that then pipelines nothing (no ring fits and
    // the group holds too many words for registers) go back to cp.async (the pads do not depend
    // on it: only 16-bit tiles are held back).
    for (;;) {
      const stuck = k.body.filter((s): s is Extract<Stmt, { op: 'for' }> => s.op === 'for' && !!this.leadingGroup(s)?.group.some((g) => this.pipelinedCopies.has(g.s)) && !this.pipelinedGroup(s));
      if (!stuck.length) break;
      for (const s of stuck) for (const g of this.leadingGroup(s)!.group) this.pipelinedCopies.delete(g.s);
      this.asyncCopies = this.copyMaps().length > 0;
    }
  }

  /** The maps (or a block-uniform select's load side) printed as cp.async copies (rawCopy). */
  private copyMaps(): Extract<Stmt, { op: 'map' }>[] {
    const out: Extract<Stmt, { op: 'map' }>[] = [];
    forEachStmt(this.k.body, (st) => {
      if (st.op !== 'map') return;
      // mapOp prints `uniform ? load : …` as a branch whose load side is a map of its own.
      const e = st.expr;
      const forms = e.k === 'sel' && blockUniform(e.c) ? [st, { ...st, expr: e.a }] : [st];
      for (const f of forms) {
        const vec = this.vectorLoad(f);
        if (vec && this.rawCopy(f, vec)) out.push(f);
      }
    });
    return out;
  }

  /**
   * A map `X ← X + (c ≤ r ? F : 0)` (or c < r, c ≤ r − 1) over a whole square shared tile, F
   * folding (the delta rules' per-element decayed scores, KDA's q·k and k·k): only the elements on
   * or below (below) the diagonal change, so the map runs over those alone (triangleMap), as the
   * value F without the select. Likewise over a block diagonal [m·n, n] with the row in its block,
   * `c ≤ r − ⌊r / n⌋·n` (or <: the vector gates' scores in blocks, build-intra.ts). Its kind, or
   * undefined.
   */
  private lowerTriangle(s: Extract<Stmt, { op: 'map' }>): { strict: boolean; value: SExpr } | undefined {
    const t = this.tiles.get(s.dst.tile)!;
    const e = s.expr;
    if (s.guard || s.dst.r0 || (s.dst.rows !== undefined && s.dst.rows !== t.rows) || t.space !== 'shared' || t.rows % t.cols !== 0 || t.cols < 8 || e.k !== 'bin' || e.fn !== 'add') return undefined;
    const isConst = (x: SExpr, v: number) => x.k === 'const' && x.v === v;
    const self = (x: SExpr) => x.k === 'tile' && x.tile === s.dst.tile && isVar(x.r, 'r') && isVar(x.c, 'c');
    const [keep, masked] = self(e.a) ? [e.a, e.b] : self(e.b) ? [e.b, e.a] : [undefined, undefined];
    if (!keep || !masked || masked.k !== 'sel' || masked.b.k !== 'const' || masked.b.v !== 0) return undefined;
    const c = masked.c;
    if (c.k !== 'bin' || (c.fn !== 'le' && c.fn !== 'lt') || !isVar(c.a, 'c')) return undefined;
    const rhs = c.b;
    const square = t.rows === t.cols;
    const rowMinusOne = square && rhs.k === 'bin' && rhs.fn === 'sub' && isVar(rhs.a, 'r') && isConst(rhs.b, 1);
    // r − ⌊r / n⌋·n: the row within its block of n rows.
    const n = t.cols;
    const inBlock = rhs.k === 'bin' && rhs.fn === 'sub' && isVar(rhs.a, 'r') && rhs.b.k === 'bin' && rhs.b.fn === 'mul' && isConst(rhs.b.b, n) && rhs.b.a.k === 'bin' && rhs.b.a.fn === 'idiv' && isVar(rhs.b.a.a, 'r') && isConst(rhs.b.a.b, n);
    if (!(square && isVar(rhs, 'r')) && !(c.fn === 'le' && rowMinusOne) && !inBlock) return undefined;
    let folds = false;
    walkSExpr(masked.a, (x) => void (x.k === 'fold' && (folds = true)));
    if (!folds) return undefined;
    return { strict: c.fn === 'lt' || rowMinusOne, value: { k: 'bin', fn: 'add', a: keep, b: masked.a } };
  }

  /**
   * lowerTriangle's map over the n(n + 1)/2 elements on and below the diagonal (n(n − 1)/2 below
   * it) of each n × n block of rows, numbered row by row: element e of a block is row
   * q = ⌊(√(8e + 1) − 1)/2⌋ (corrected by one where the float root rounds), column e − q(q + 1)/2
   * (strict: row q + 1). The lanes of a warp take consecutive elements, so no lane waits through a
   * fold whose value the mask drops (a warp per row of 32 did, for every column past the diagonal).
   */
  private triangleMap(s: Extract<Stmt, { op: 'map' }>, tri: { strict: boolean; value: SExpr }): void {
    const t = this.tiles.get(s.dst.tile)!;
    this.withInvariants(tri.value, ['r', 'c'], s.dst.tile, () =>
      this.triangleLoop(t, tri.strict, [t.name], '', this.splitRange([tri.value]), () => [this.assign(s.dst.tile, this.at(s.dst.tile, 'r', 'c'), this.expr(tri.value, {}, 'f32'))]),
    );
  }

  /**
   * The number of terms of the folds in `values`, where every one of them is a quadFold over one
   * constant range (so that triangleLoop may split that range between lanes); else undefined.
   */
  private splitRange(values: SExpr[]): number | undefined {
    const fs: Extract<SExpr, { k: 'fold' }>[] = [];
    for (const v of values) walkSExpr(v, (x) => void (x.k === 'fold' && fs.push(x)));
    const ranges = fs.map((f) => this.quadRange(f));
    if (!ranges.length || ranges.some((r) => !r || r.from !== ranges[0]!.from || r.to !== ranges[0]!.to)) return undefined;
    return ranges[0]!.to - ranges[0]!.from;
  }

  /** The constant range of a fold quadFold can print (its tile reads found, rows 16-byte aligned); else undefined. */
  private quadRange(e: Extract<SExpr, { k: 'fold' }>): { from: number; to: number } | undefined {
    const reads = this.quadFolds.get(e);
    if (!reads || e.from.k !== 'const' || e.to.k !== 'const' || reads.some((x) => this.rowStride(this.tiles.get(x.tile)!) % 4)) return undefined;
    return { from: e.from.v, to: e.to.v };
  }

  /**
   * While set (the tail of triangleLoop), each fold quadFoldsTogether prints sums part `part` (a
   * variable, 0 ≤ part < parts) of its range, and the parts combine by lane exchanges between the
   * `parts` neighbouring lanes that share an element.
   */
  private foldSplit: { parts: number; part: string } | undefined;

  /** The folds printed 4 terms a step (quadFold), with the tile reads quadFoldReads found in them. */
  private readonly quadFolds = new Map<SExpr, Extract<SExpr, { k: 'tile' }>[]>();

  /** Whether some map copies by cp.async (rawCopy): every barrier then waits for the copies first. */
  private asyncCopies: boolean;

  /**
   * Maps that would copy 16 unchanged bytes by cp.async (rawCopy) but open a top-level chunk loop's
   * load group, in a kernel that pipelines such groups (Kernel.prefetchWords or prefetchDepth): they
   * load a chunk ahead with the group (pipelinedGroup takes no cp.async member, and a cp.async
   * elsewhere makes every barrier wait for all copies, the ring's in flight too), and their 16
   * bytes go into the tile as they came (groupStores). The delta rules' state kernel with S in
   * registers loads W and k so.
   */
  private readonly pipelinedCopies: Set<Stmt>;

  /**
   * The candidates: the 16-bit copies of every top-level loop's leading load group (leadingGroup).
   * The constructor gives back to cp.async those of a loop that pipelinedGroup then does not take.
   */
  private chunkLoopCopies(): Set<Stmt> {
    const out = new Set<Stmt>();
    if (this.k.prefetchWords === undefined && (this.k.prefetchDepth ?? 1) < 2) return out;
    for (const s of this.k.body) {
      // A loop of one iteration (one key slice) has no next iteration to load for.
      if (s.op !== 'for' || (s.from.k === 'const' && s.to.k === 'const' && s.step.k === 'const' && s.to.v - s.from.v <= s.step.v)) continue;
      for (const g of this.leadingGroup(s)?.group ?? []) if (this.halfTiles.has(g.s.dst.tile) && this.unconverted(g.s, g.vec)) out.add(g.s);
    }
    return out;
  }

  /**
   * Warpgroup MMA (Kernel.warpgroupMma, sm_90a; wgmma.ts): the 16-bit shared tiles its matmuls
   * read, in the core-matrix layout (an A operand's rows permuted for the row-owned fragments: ma
   * row tiles a warp), and the matmuls it runs.
   */
  private cores = new Map<string, { ma?: number }>();
  private wgmmaOps = new Set<Stmt>();
  /** The helpers (wgmmaHelper) the kernel's warpgroup matmuls call. */
  readonly wgmmaHelpers = new Map<string, string>();

  /**
   * The matmuls a kernel that asks for warpgroup MMA runs so: 16-bit operands into a row-owned
   * output (the flash kernel's scores and P·V), A from a 16-bit shared tile or from row-owned
   * registers, B from a 16-bit shared tile, whole tiles, no mask or scale, N a valid wgmma width.
   * All or none: their shared operands change layout, so every other op on those tiles must be a
   * map that fills them (cp.async or stores through at()), and no tile may be both an A (rows
   * permuted) and a B.
   */
  private warpgroupOperands(matmuls: Extract<Stmt, { op: 'matmul' }>[]): void {
    if (!this.k.warpgroupMma || !this.sixteenBitOperands() || !this.warps || this.warps % 4) return;
    const cores = new Map<string, { ma?: number }>();
    const ops = new Set<Stmt>();
    const claim = (name: string, ma: number | undefined): boolean => {
      const had = cores.get(name);
      if (had && had.ma !== ma) return false;
      cores.set(name, ma === undefined ? {} : { ma });
      return true;
    };
    for (const s of matmuls) {
      const { A, B, D, m, kk, n } = this.matmulShape(s);
      if (D.t.space !== 'rows' || !this.halfOperands(s) || s.mask || s.scale || s.acc === 'sub' || s.dst.r0 || s.a.r0 || s.b.r0 || s.transA || !wgmmaN(n)) continue;
      if (B.t.space !== 'shared' || !this.halfTiles.has(B.t.name) || B.t.rows !== (s.transB ? n : kk) || B.t.cols !== (s.transB ? kk : n)) continue;
      const aShared = A.t.space === 'shared' && this.halfTiles.has(A.t.name) && A.t.rows === m && A.t.cols === kk;
      if (A.t.space !== 'rows' && !aShared) continue;
      if ((aShared && !claim(A.t.name, this.rowsGrid(D.t).ma)) || !claim(B.t.name, undefined)) return;
      ops.add(s);
    }
    if (!ops.size) return;
    let clean = true;
    forEachStmt(this.k.body, (st) => {
      if (ops.has(st)) return;
      const { reads, writes } = tileAccess(st);
      if ([...reads].some((t) => cores.has(t))) clean = false;
      if ([...writes].some((t) => cores.has(t)) && (st.op !== 'map' || st.dst.r0 !== undefined || this.pipelinedCopies.has(st))) clean = false;
    });
    if (!clean) return;
    this.cores = cores;
    this.wgmmaOps = ops;
  }

  /** Element (r, c) of a shared tile; the warpgroup operands' in their core-matrix layout. */
  protected override at(tile: string, r: string, c: string, r0?: string): string {
    const core = this.cores.get(tile);
    if (!core) return super.at(tile, r, c, r0);
    const t = this.tiles.get(tile)!;
    const row = r0 ? `(${r0} + ${r})` : r;
    return `${this.tileRef(tile)}[${coreIndex(core.ma ? wgRow(row, core.ma) : row, c, t.cols, coreStride(t.cols, this.rowStride(t)))}]`;
  }

  /** Shared tiles stored as 16-bit elements (sixteenBitTiles), with their type. */
  private readonly halfTiles: Map<string, 'bf16' | 'f16'>;

  /** Shared f32 tiles that hold TF32 values (tf32Tiles): rounded where stored, or exactly TF32 already. */
  private readonly roundedTiles: Map<string, 'exact' | 'round'>;

  /**
   * Shared tiles that only maps write and only 16-bit tensor-core matmuls read (the flash
   * kernel's Q, K and V tiles of a bf16 or f16 program) are stored in that type: the operand
   * loads round the same f32 values to the same 16 bits (round to nearest), so the results are
   * unchanged, and the tiles take half the space and load with ldmatrix. Rows of 8·n elements
   * (16-byte rows for ldmatrix and the 16-byte stores).
   */
  private sixteenBitTiles(): Map<string, 'bf16' | 'f16'> {
    const out = new Map<string, 'bf16' | 'f16'>();
    const tc = this.sixteenBitOperands();
    if (!tc) return out;
    const names = this.operandTiles((m) => !!this.halfOperands(m), false);
    for (const name of names) if (this.tiles.get(name)!.cols % 8 === 0) out.set(name, tc);
    return out;
  }

  /**
   * Shared f32 tiles that only maps write and only TF32 tensor-core matmuls read hold their values
   * already rounded to TF32 ('round': each map rounds what it stores, once per element, instead of
   * every fragment load rounding — cvt.rna is two instructions, and each element is loaded by
   * every warp whose output tiles need it), or hold values that are TF32 already ('exact': only
   * 16-bit inputs stored unchanged, and zeros): their fragment loads take the bits as they are.
   * Rounding where the value is stored or where it is loaded gives the same bits, so the results
   * are unchanged.
   */
  private tf32Tiles(): Map<string, 'exact' | 'round'> {
    const out = new Map<string, 'exact' | 'round'>();
    if (!this.k.tensorCores || !this.warps) return out;
    const names = this.operandTiles((m) => !this.halfOperands(m), true);
    for (const name of names) if (!this.halfTiles.has(name)) out.set(name, 'exact');
    forEachStmt(this.k.body, (st) => {
      if (st.op === 'map' && out.has(st.dst.tile) && !this.tf32Exact(st.expr)) out.set(st.dst.tile, 'round');
    });
    return out;
  }

  /** Whether every value of `e` is a TF32 number: a 16-bit input as loaded, or a constant that is one. */
  private tf32Exact(e: SExpr): boolean {
    switch (e.k) {
      case 'const':
        return e.t !== 'f' || (new Uint32Array(new Float32Array([e.v]).buffer)[0]! & 0x1fff) === 0;
      case 'ld':
        return ['bf16', 'f16'].includes(this.buffer(e.buf).dtype);
      case 'sel':
        return this.tf32Exact(e.a) && this.tf32Exact(e.b);
      case 'un':
        return (e.fn === 'neg' || e.fn === 'abs') && this.tf32Exact(e.a);
      default:
        return false;
    }
  }

  /**
   * Shared tiles that maps write (whole tiles only, unless `views`) and that are read only as the
   * operands of tensor-core matmuls that `operands` accepts (and read by at least one).
   */
  private operandTiles(operands: (m: Extract<Stmt, { op: 'matmul' }>) => boolean, views: boolean): string[] {
    const ok = new Map(this.k.tiles.filter((t) => t.space === 'shared').map((t) => [t.name, false]));
    const drop = (name: string) => ok.delete(name);
    forEachStmt(this.k.body, (st) => {
      const { reads, writes } = tileAccess(st);
      if (st.op === 'matmul') {
        const ops = new Set([st.a.tile, st.b.tile]);
        const fits = !!this.mmaFits(st) && operands(st);
        // (An accumulating output is among the reads, and dropped with the writes.)
        for (const name of reads) {
          if (!ops.has(name) || !fits) drop(name);
          else if (ok.has(name)) ok.set(name, true);
        }
        for (const name of writes) drop(name);
        // An operand the scale also reads elementwise (reads holds it once, as an operand).
        if (st.scale) walkSExpr(st.scale, (e) => void (e.k === 'tile' && drop(e.tile)));
        return;
      }
      for (const name of reads) drop(name);
      for (const name of writes) if (st.op !== 'map' || (st.dst.r0 && !views)) drop(name);
    });
    return [...ok].filter(([, read]) => read).map(([name]) => name);
  }

  /** A TF32 operand register from element `x` of tile `tile`: rounded here unless the tile holds TF32 values (tf32Tiles). */
  private tf32Operand(tile: string, x: string): string {
    return this.roundedTiles.has(tile) ? `__float_as_uint(${x})` : `attnc_tf32(${x})`;
  }

  /** A value stored into an element of `tile`: rounded to TF32 where the tile holds rounded values (tf32Tiles). */
  private storedValue(tile: string, v: string): string {
    return this.roundedTiles.get(tile) === 'round' && !/^\(?-?0\.0f\)?$/.test(v) ? `attnc_tf32f(${v})` : v;
  }

  /** The element type a shared tile is stored in (f32 unless sixteenBitTiles chose it). */
  sharedType(t: TileDecl): 'f32' | 'bf16' | 'f16' {
    return this.halfTiles.get(t.name) ?? 'f32';
  }

  protected override assign(tile: string, target: string, value: string): string {
    const h = this.halfTiles.get(tile);
    if (!h) return super.assign(tile, target, this.storedValue(tile, value));
    return `${target} = ${h === 'bf16' ? '__float2bfloat16_rn' : '__float2half_rn'}(${value});`;
  }

  /**
   * The layout of a row-owned tile ('rows'): tensor-core accumulator fragments with the warps
   * splitting the rows — warp w holds rows 16·w·ma … 16·(w + 1)·ma − 1 of every row-owned tile
   * (ma tiles of 16 rows), all nb tiles of 8 columns across (ma·nb ≤ 32: 128 accumulators); a
   * one-column tile (nb = 0) holds the warp's rows g and g + 8 of each 16, replicated over the 4
   * lanes that hold the row's fragments.
   */
  private rowsGrid(t: TileDecl): WarpGrid {
    const rowsPerWarp = this.warps ? t.rows / this.warps : 0;
    if (!this.k.tensorCores || !this.warps || rowsPerWarp % 16 || (t.cols !== 1 && t.cols % 8) || (t.cols !== 1 && (rowsPerWarp / 16) * (t.cols / 8) > 32)) {
      throw new Error(`internal: row-owned tile ${t.name} [${t.rows}, ${t.cols}] has no tensor-core fragment layout with ${this.k.threads} threads`);
    }
    return { wm: this.warps, wn: 1, ma: rowsPerWarp / 16, nb: t.cols === 1 ? 0 : t.cols / 8 };
  }

  override registerSlots(t: TileDecl): number {
    if (t.space !== 'rows') return super.registerSlots(t);
    const g = this.rowsGrid(t);
    return g.nb ? 4 * g.ma * g.nb : 2 * g.ma;
  }

  /** The slot of one-column row-owned tile `t` that holds the row of slot `s` of `of`. */
  private rowSlot(of: TileDecl, s: string): string {
    const g = this.rowsGrid(of);
    if (!g.nb) return s;
    return `((${s}) >> 2) / ${this.intLit(g.nb)} * 2 + (((${s}) >> 1) & 1)`;
  }

  /** Row-owned reads: the slot's own element, or its row's slot of a one-column tile. */
  protected override rowsRead(e: Extract<SExpr, { k: 'tile' }>, t: TileDecl, ctx: ExprCtx): string {
    const of = ctx.slotOf;
    if (!ctx.slot || !of || of.space !== 'rows' || of.rows !== t.rows) throw new Error(`internal: row-owned tile ${t.name} read outside an op on a row-owned tile of its rows`);
    if (t.cols === 1) return `${this.regRef(t.name)}[${this.rowSlot(of, ctx.slot)}]`;
    if (t.cols === of.cols) return `${this.regRef(t.name)}[${ctx.slot}]`;
    throw new Error(`internal: row-owned tile ${t.name} read at another column (${e.c.k})`);
  }

  /**
   * A fold along the row of a row-owned tile X (its columns 0 … X.cols − 1, in an op on a
   * row-owned tile of its rows): the thread folds the 2·nb elements of the row it holds, then the
   * 4 lanes that share the row combine theirs by two lane exchanges.
   */
  protected override foldExpr(e: Extract<SExpr, { k: 'fold' }>, ctx: ExprCtx): string | undefined {
    const of = ctx.slotOf;
    if (!of || of.space !== 'rows' || !ctx.slot) return this.quadFold(e, ctx);
    let X: TileDecl | undefined;
    walkSExpr(e.body, (x) => {
      const t = x.k === 'tile' ? this.tiles.get(x.tile) : undefined;
      if (t?.space === 'rows' && t.cols > 1 && x.k === 'tile' && x.c.k === 'var' && x.c.name === e.v) X = t;
    });
    if (!X || e.from.k !== 'const' || e.from.v !== 0 || e.to.k !== 'const' || e.to.v !== X.cols) return undefined;
    const g = this.rowsGrid(X);
    const i = (v: number) => this.intLit(v);
    const pre = this.hoisted[this.hoisted.length - 1];
    if (!pre) throw new Error('internal: fold outside a statement');
    const part = this.fresh('part');
    const combine = (a: string, b: string) => (e.fn === 'sum' ? `${a} + ${b}` : this.call(e.fn, [a, b]));
    const rs = this.rowSlot(of, ctx.slot);
    const fb = this.fresh('fb');
    const fe = this.fresh('fe');
    const fs = this.fresh('fs');
    pre.push(this.declVar(part, 'f32', e.fn === 'sum' ? this.floatLit(0) : this.floatLit(e.fn === 'max' ? -3.0e38 : 3.0e38)));
    pre.push('#pragma unroll', `${this.forLoop(fb, i(0), i(g.nb), i(1))} {`, '  #pragma unroll', `  ${this.forLoop(fe, i(0), i(2), i(1))} {`);
    pre.push(`    ${this.declConst(fs, 'i32', `4 * (((${rs}) >> 1) * ${i(g.nb)} + ${fb}) + 2 * ((${rs}) & 1) + ${fe}`)}`);
    pre.push(`    [[maybe_unused]] ${this.declConst(e.v, 'i32', `8 * ${fb} + 2 * (lid & 3) + ${fe}`)}`);
    this.hoisted.push([]);
    const body = this.expr(e.body, { ...ctx, slot: fs, slotOf: X }, 'f32');
    const inner = this.hoisted.pop()!;
    for (const l of inner) pre.push('    ' + l);
    pre.push(`    ${part} = ${combine(part, body)};`, '  }', '}');
    for (const off of [1, 2]) pre.push(`${part} = ${combine(part, this.laneXor(part, off))};`);
    return part;
  }

  /**
   * The shared f32 tiles a fold reads at (row, v) for its variable v, rows not depending on v —
   * the decayed dot products Σ_d x_rd·y_cd·e^{b_rd − b_cd} of the vector-gate intra-chunk kernels —
   * where v appears nowhere else in the body and the fold sums a multiple of 4 terms from a
   * multiple of 4: such a fold can read 4 consecutive terms of each row by one 16-byte load
   * (quadFold). Undefined where it cannot.
   */
  private quadFoldReads(e: Extract<SExpr, { k: 'fold' }>): Extract<SExpr, { k: 'tile' }>[] | undefined {
    if (e.fn !== 'sum' || e.from.k !== 'const' || e.to.k !== 'const' || e.from.v % 4 || (e.to.v - e.from.v) % 4 || e.to.v - e.from.v < 8) return undefined;
    const reads: Extract<SExpr, { k: 'tile' }>[] = [];
    let uses = 0;
    let ok = true;
    walkSExpr(e.body, (x) => {
      if (x.k === 'var' && x.name === e.v) uses++;
      else if (x.k === 'fold') ok = false;
      else if (x.k === 'tile' && x.c.k === 'var' && x.c.name === e.v) {
        const t = this.tiles.get(x.tile)!;
        if (t.space !== 'shared' || this.halfTiles.has(t.name) || t.cols % 4 || usesVar(x.r, e.v)) ok = false;
        else reads.push(x);
      }
    });
    return ok && reads.length && uses === reads.length ? reads : undefined;
  }

  /**
   * A fold that quadFoldReads accepts, 4 terms a step: each (tile, row) it reads by one 16-byte
   * load (rows 16-byte aligned: the constructor pads such tiles' rows to a multiple of 4 words),
   * its 4 words standing for the 4 terms' reads. A warp's lanes mostly share the rows of one
   * operand (a row of q) and differ in the other's (rows of k), so a 16-byte load takes about the
   * shared-memory wavefronts a 4-byte one does, for 4 terms: the per-element products stop being
   * bound by shared-memory bandwidth. The terms add in order, as in the scalar loop. A read under
   * a condition (the select of a row that may not exist) loads from a clamped row.
   */
  private quadFold(e: Extract<SExpr, { k: 'fold' }>, ctx: ExprCtx): string | undefined {
    return this.quadFoldsTogether([e], ctx)?.[0];
  }

  /**
   * Folds that quadFold takes, over one range, in one loop (pairedTriangles): each (tile, row)
   * that any of them reads is loaded once a step, and terms the folds share (KDA's k rows and
   * decays) are printed alike, so nvcc computes them once. Their accumulators, in order.
   */
  private quadFoldsTogether(es: Extract<SExpr, { k: 'fold' }>[], ctx: ExprCtx): string[] | undefined {
    const e0 = es[0]!;
    // A split range (triangleLoop's tail) needs every fold printed here: splitRange checked that.
    const none = () => {
      if (this.foldSplit) throw new Error('internal: a fold in a split triangle that quadFold does not take');
      return undefined;
    };
    const range = this.quadRange(e0);
    if (!range) return none();
    const { from, to } = range;
    for (const e of es) {
      const r = this.quadRange(e);
      if (!r || r.from !== from || r.to !== to) return none();
    }
    const pre = this.hoisted[this.hoisted.length - 1];
    if (!pre) throw new Error('internal: fold outside a statement');
    const i = (v: number) => this.intLit(v);
    const accs = es.map(() => this.fresh('acc'));
    const d = this.fresh('d');
    for (const acc of accs) pre.push(this.declVar(acc, 'f32', this.floatLit(0)));
    const split = this.foldSplit;
    if (split) {
      // This lane's part of the range: a constant trip count, so nvcc unrolls it.
      const len = (to - from) / split.parts;
      const j = this.fresh('j');
      pre.push(`${this.forLoop(j, i(0), i(len), i(4))} {`, `  ${this.declConst(d, 'i32', `${i(from)} + ${split.part} * ${i(len)} + ${j}`)}`);
    } else pre.push(`${this.forLoop(d, i(from), i(to), i(4))} {`);
    const quads = new Map<string, string>();
    const lanes = ['x', 'y', 'z', 'w'];
    this.hoisted.push([]);
    const terms = es.map((e) => {
      // Each fold names its own loop variable: its reads at d are the quads' lanes.
      const names: Map<SExpr, string>[] = lanes.map(() => new Map());
      for (const x of this.quadFolds.get(e)!) {
        const t = this.tiles.get(x.tile)!;
        let row = this.expr(x.r, ctx, 'i32');
        if (!unconditional(e.body, x)) row = `attnc_clamp(${row}, 0, ${i(t.rows - 1)})`;
        const key = `${x.tile}[${row}]`;
        let q = quads.get(key);
        if (!q) {
          q = this.fresh('quad');
          quads.set(key, q);
          this.hoisted[this.hoisted.length - 1]!.push(`const float4 ${q} = *reinterpret_cast<const float4*>(&${x.tile}[(${row}) * ${i(this.rowStride(t))} + ${d}]);`);
        }
        lanes.forEach((l, j) => names[j]!.set(x, `${q}.${l}`));
      }
      return names.map((m) => this.withNames(m, () => this.expr(e.body, ctx, 'f32')));
    });
    const inner = this.hoisted.pop()!;
    for (const l of inner) pre.push('  ' + l);
    for (let j = 0; j < lanes.length; j++) es.forEach((_, k) => pre.push(`  ${accs[k]} = ${accs[k]} + ${terms[k]![j]};`));
    pre.push('}');
    if (split) for (let off = split.parts / 2; off >= 1; off /= 2) for (const acc of accs) pre.push(`${acc} = ${acc} + ${this.laneXor(acc, off)};`);
    return accs;
  }

  /**
   * Two maps in a row that lowerTriangle takes, over tiles of one shape, neither reading the
   * other's tile, each folding once by quadFold over the same range (KDA's block-diagonal q·k and
   * k·k, which share the k rows and the decay of every term): one loop over the first's elements
   * (on and below the diagonal, unless both are strict) computes both folds together
   * (quadFoldsTogether); the second's value is stored only where its own mask keeps the element.
   * Whether it printed them.
   */
  private pairedTriangles(s1: Extract<Stmt, { op: 'map' }>, s2: Extract<Stmt, { op: 'map' }>): boolean {
    const t1 = this.tiles.get(s1.dst.tile)!;
    const t2 = this.tiles.get(s2.dst.tile)!;
    if (t1 === t2 || t1.rows !== t2.rows || t1.cols !== t2.cols) return false;
    const tri1 = this.lowerTriangle(s1);
    const tri2 = tri1 && this.lowerTriangle(s2);
    if (!tri1 || !tri2 || (tri1.strict && !tri2.strict)) return false;
    if (tileAccess(s1).reads.has(t2.name) || tileAccess(s2).reads.has(t1.name)) return false;
    const foldOf = (e: SExpr) => {
      const fs: Extract<SExpr, { k: 'fold' }>[] = [];
      walkSExpr(e, (x) => void (x.k === 'fold' && fs.push(x)));
      return fs.length === 1 && this.quadFolds.has(fs[0]!) ? fs[0] : undefined;
    };
    const f1 = foldOf(tri1.value);
    const f2 = foldOf(tri2.value);
    if (!f1 || !f2 || JSON.stringify([f1.from, f1.to]) !== JSON.stringify([f2.from, f2.to])) return false;
    const [g1, g2] = this.sharedFactors(f1, f2);
    const keeps = tri2.strict && !tri1.strict ? `, ${t2.name} where its mask keeps them` : '';
    const both: SExpr = { k: 'bin', fn: 'add', a: tri1.value, b: tri2.value };
    this.withInvariants(both, ['r', 'c'], t1.name, () =>
      this.triangleLoop(t1, tri1.strict, [t1.name, t2.name], ` in one loop${keeps}`, this.splitRange([tri1.value, tri2.value]), (q) => {
        const accs = this.quadFoldsTogether([g1, g2], {});
        if (!accs) throw new Error('internal: paired folds that quadFold does not take');
        return this.withNames(new Map<SExpr, string>([[f1, accs[0]!], [f2, accs[1]!]]), () => {
          const first = this.assign(t1.name, this.at(t1.name, 'r', 'c'), this.expr(tri1.value, {}, 'f32'));
          const second = this.assign(t2.name, this.at(t2.name, 'r', 'c'), this.expr(tri2.value, {}, 'f32'));
          // (Numbered on and below the diagonal: the strict one's elements are those with c < q.)
          return [first, tri2.strict && !tri1.strict ? `if (c < ${q}) ${second}` : second];
        });
      }),
    );
    return true;
  }

  /**
   * Two paired folds whose terms are (a·y)·z and (b·y)·z with y and z alike (KDA's q_r·k_c and
   * k_r·k_c, both times the decay e^{b_r − b_c}): as a·(y·z) and b·(y·z), the product y·z printed
   * alike in both, so nvcc computes it once — a multiply fewer per pair of terms (the rounding of
   * one product moves). Otherwise the folds as they are.
   */
  private sharedFactors(f1: Extract<SExpr, { k: 'fold' }>, f2: Extract<SExpr, { k: 'fold' }>): [Extract<SExpr, { k: 'fold' }>, Extract<SExpr, { k: 'fold' }>] {
    const split = (e: SExpr) => (e.k === 'bin' && e.fn === 'mul' && e.a.k === 'bin' && e.a.fn === 'mul' ? { a: e.a.a, y: e.a.b, z: e.b } : undefined);
    const s1 = split(f1.body);
    const s2 = split(f2.body);
    if (f1.v !== f2.v || !s1 || !s2 || sexprKey(s1.y) !== sexprKey(s2.y) || sexprKey(s1.z) !== sexprKey(s2.z)) return [f1, f2];
    const regroup = (f: Extract<SExpr, { k: 'fold' }>, x: { a: SExpr; y: SExpr; z: SExpr }): Extract<SExpr, { k: 'fold' }> => {
      const g: Extract<SExpr, { k: 'fold' }> = { ...f, body: { k: 'bin', fn: 'mul', a: x.a, b: { k: 'bin', fn: 'mul', a: x.y, b: x.z } } };
      // The same tile reads (the same objects) as the fold regrouped.
      this.quadFolds.set(g, this.quadFolds.get(f)!);
      return g;
    };
    return [regroup(f1, s1), regroup(f2, s2)];
  }

  /**
   * The loop of a triangle map over tile t [m·n, n] (triangleMap, pairedTriangles): its
   * n(n + 1)/2 elements on and below the diagonal of each n × n block of rows (n(n − 1)/2 below:
   * strict) over the workgroup's threads, declaring r and c for `body`, which gets the name of
   * the element's row within its triangle's numbering (r's row in its block, less one if strict)
   * and returns the statements that store the element (its folds hoisted in front of them).
   * Opens with a comment naming the tiles it writes (`how`: what else the comment says).
   *
   * Where the elements are not a whole number of passes of the workgroup (KDA's, GLA's and
   * RWKV-6's 272 on 256 threads), the last pass's few elements would each keep one thread busy
   * through a whole fold while the others wait at the next barrier: those elements go instead to
   * `parts` neighbouring lanes each (tailParts), which fold `range`'s terms a part each and
   * combine them by lane exchanges (foldSplit).
   */
  private triangleLoop(t: TileDecl, strict: boolean, tiles: string[], how: string, range: number | undefined, body: (q: string) => string[]): void {
    const n = t.cols;
    const blocks = t.rows / n;
    const count = strict ? (n * (n - 1)) / 2 : (n * (n + 1)) / 2;
    const total = blocks * count;
    const where = blocks > 1 ? ` of each of ${tiles.length > 1 ? 'their' : 'its'} ${blocks} blocks of ${n} rows` : '';
    this.emit(`// ${tiles.join(' and ')}: the ${total} elements ${strict ? 'below' : 'on and below'} the diagonal${where}${how} (the others keep their value)`);
    const i = (v: number) => this.intLit(v);
    const q = this.fresh('tr');
    // Row q and column of element e, counted from the first block's first element.
    const element = (e: string) => {
      const x = blocks > 1 ? this.fresh('te') : e;
      if (blocks > 1) this.emit(`const int ${x} = ${e} % ${i(count)};`);
      this.emit(`int ${q} = (int)((sqrtf(8.0f * (float)${x} + 1.0f) - 1.0f) * 0.5f);`);
      this.emit(`${q} += ((${q} + 1) * (${q} + 2)) / 2 <= ${x};`);
      this.emit(`${q} -= (${q} * (${q} + 1)) / 2 > ${x};`);
      const row = strict ? `${q} + 1` : q;
      this.emit(this.declConst('r', 'i32', blocks > 1 ? `(${e} / ${i(count)}) * ${i(n)} + ${row}` : row));
      this.emit(this.declConst('c', 'i32', `${x} - (${q} * (${q} + 1)) / 2`));
    };
    const parts = range === undefined ? 1 : this.tailParts(total % this.T, range);
    const whole = parts > 1 ? total - (total % this.T) : total;
    const e = this.fresh('e');
    if (whole > 0) {
      this.block(`for (int ${e} = lid; ${e} < ${i(whole)}; ${e} += ${i(this.T)})`, () => {
        element(e);
        this.withExprs(() => body(q));
      });
    }
    if (parts === 1) return;
    const rest = total - whole;
    this.emit(`// the last ${rest} elements: ${parts} lanes each, a ${range! / parts}-term part of the fold each, combined by lane exchanges`);
    this.block('', () => {
      const part = this.fresh('part');
      const busy = rest * parts;
      // Every thread takes part in the exchanges; those past the last element repeat it unstored.
      const own = busy === this.T ? `lid / ${i(parts)}` : `attnc_min(lid / ${i(parts)}, ${i(rest - 1)})`;
      this.emit(this.declConst(e, 'i32', `${i(whole)} + ${own}`));
      this.emit(this.declConst(part, 'i32', `lid % ${i(parts)}`));
      element(e);
      this.withExprs(() => {
        this.foldSplit = { parts, part };
        try {
          const store = body(q);
          const keep = busy === this.T ? `${part} == 0` : `${part} == 0 && lid < ${i(busy)}`;
          return [`if (${keep}) {`, ...store.map((l) => '  ' + l), '}'];
        } finally {
          this.foldSplit = undefined;
        }
      });
    });
  }

  /**
   * How many lanes share each of the `rest` elements of a triangle loop's last pass (triangleLoop):
   * the most, a power of two within a warp, that the workgroup holds for all of them and that
   * split the fold's `range` terms into parts of a multiple of 4 (quadFold's step). 1: none.
   */
  private tailParts(rest: number, range: number): number {
    if (rest === 0 || !this.warps) return 1;
    let parts = 1;
    while (parts < 32 && rest * parts * 2 <= this.T && range % (parts * 2 * 4) === 0) parts *= 2;
    return parts;
  }

  private fullGrid(g: WarpGrid): boolean {
    return g.wm * g.wn === this.warps;
  }

  protected override standardRegisters(): boolean {
    return !this.fragments;
  }

  /**
   * The one-column row-owned tile F of a map `X ← X·F` (either order) over a whole row-owned tile X
   * of several columns, without guard: every element of a row scaled by that row's factor.
   */
  private rowScaling(s: Extract<Stmt, { op: 'map' }>): TileDecl | undefined {
    const t = this.viewOf(s.dst).t;
    const e = s.expr;
    if (t.space !== 'rows' || t.cols === 1 || s.guard || s.dst.r0 !== undefined || e.k !== 'bin' || e.fn !== 'mul') return undefined;
    const own = (x: SExpr) => x.k === 'tile' && x.tile === t.name && isVar(x.r, 'r') && isVar(x.c, 'c');
    const factor = (x: SExpr) => {
      if (x.k !== 'tile' || !isVar(x.r, 'r') || x.c.k !== 'const' || x.c.v !== 0) return undefined;
      const f = this.tiles.get(x.tile)!;
      return f.space === 'rows' && f.cols === 1 && f.rows === t.rows ? f : undefined;
    };
    return own(e.a) ? factor(e.b) : own(e.b) ? factor(e.a) : undefined;
  }

  /**
   * With fragments, register tile t [rows, cols] is split like a tensor-core matmul output (warpGrid):
   * warp w = (w / wn, w % wn) holds tiles (mt, nt) = ((w / wn)·ma + a, (w % wn)·nb + b), and slot
   * 4·(a·nb + b) + q holds the accumulator fragment's element q: row 16·mt + lane / 4 + 8·(q / 2),
   * column 8·nt + 2·(lane % 4) + q % 2.
   */
  protected override registerElement(t: TileDecl, s: string): { r: string; c: string; guard?: string } {
    if (t.space === 'rows') {
      const g = this.rowsGrid(t);
      const mt = `(lid >> 5) * ${this.intLit(g.ma)}`;
      if (!g.nb) return { r: `16 * (${mt} + (${s} >> 1)) + ((lid & 31) >> 2) + 8 * (${s} & 1)`, c: '0' };
      return this.fragmentElement(g, mt, '0', '((lid & 31) >> 2)', '(lid & 3)', s);
    }
    if (!this.fragments) return super.registerElement(t, s);
    const g = warpGrid(t.rows, t.cols, this.warps)!;
    const i = (v: number) => this.intLit(v);
    return this.fragmentElement(g, `(lid >> 5) / ${i(g.wn)} * ${i(g.ma)}`, `(lid >> 5) % ${i(g.wn)} * ${i(g.nb)}`, '((lid & 31) >> 2)', '(lid & 3)', s);
  }

  /**
   * Row and column of accumulator slot s of a warp whose first output tile is (mt, nt) (lane
   * lid & 31 = 4·gr + tg): tile (s >> 2) of its ma × nb, element q = s & 3 of the PTX ISA's m16n8
   * f32 accumulator fragment — row gr + 8·(q >> 1), column 2·tg + (q & 1).
   */
  private fragmentElement(g: WarpGrid, mt: string, nt: string, gr: string, tg: string, s: string): { r: string; c: string } {
    const i = (v: number) => this.intLit(v);
    return {
      r: `16 * (${mt} + (${s} >> 2) / ${i(g.nb)}) + ${gr} + 8 * ((${s} >> 1) & 1)`,
      c: `8 * (${nt} + (${s} >> 2) % ${i(g.nb)}) + 2 * ${tg} + (${s} & 1)`,
    };
  }

  /** The 16-bit operand type of a tensor-core matmul (m16n8k16), where the kernel asks for it and the reduction allows; else TF32. */
  private halfOperands(s: Extract<Stmt, { op: 'matmul' }>): 'bf16' | 'f16' | undefined {
    const tc = this.sixteenBitOperands();
    return tc && this.matmulShape(s).kk % 16 === 0 ? tc : undefined;
  }

  /** The kernel's 16-bit tensor-core operand type (Kernel.tensorCores), if it asks for one. */
  private sixteenBitOperands(): 'bf16' | 'f16' | undefined {
    const tc = this.k.tensorCores;
    return tc === 'bf16' || tc === 'f16' ? tc : undefined;
  }

  /** Whether a matmul can run on tensor cores (shape only: `registerDst` assumes fragment registers). */
  private mmaShape(s: Extract<Stmt, { op: 'matmul' }>, registerDst: boolean): WarpGrid | undefined {
    if (!this.k.tensorCores || !this.warps) return undefined;
    const { A, B, D, m, kk, n } = this.matmulShape(s);
    if (B.t.space !== 'shared' || kk % 8) return undefined;
    if (D.t.space === 'rows') {
      // The interpreter's rules (checkRowsUse) and the planner's (rowTilesFit) make these hold.
      const g = this.rowsGrid(D.t);
      const aRows = A.t.space === 'rows' ? this.rowsGrid(A.t) : undefined;
      const ok = !D.r0 && !s.mask && !s.scale && D.rows === m && D.t.cols === n && (A.t.space === 'shared' || (aRows && !s.transA && !A.r0 && A.t.cols === kk && aRows.ma === g.ma));
      if (!ok) throw new Error(`internal: matmul into row-owned tile ${D.t.name} with operands the fragment layout cannot take`);
      return g;
    }
    if (A.t.space !== 'shared') return undefined;
    const g = warpGrid(m, n, this.warps);
    if (!g) return undefined;
    if (D.t.space === 'register') return registerDst && !D.r0 && D.rows === m && D.t.rows === m && D.t.cols === n && this.fullGrid(g) ? g : undefined;
    return D.t.space === 'shared' && D.t.cols === n ? g : undefined;
  }

  private mmaFits(s: Extract<Stmt, { op: 'matmul' }>): WarpGrid | undefined {
    return this.mmaShape(s, this.fragments);
  }

  typeName(t: CType): string {
    return t === 'f32' ? 'float' : t === 'i32' ? 'int' : 'bool';
  }
  floatLit(v: number): string {
    if (!Number.isFinite(v)) return v > 0 ? '3.0e38f' : '(-3.0e38f)';
    const s = shortestFloat(Math.abs(v));
    const t = /[.eE]/.test(s) ? s : `${s}.0`;
    return v < 0 ? `(-${t}f)` : `${t}f`;
  }
  intLit(v: number): string {
    return v < 0 ? `(${v})` : `${v}`;
  }
  declVar(name: string, t: CType, init: string): string {
    return `${this.typeName(t)} ${name} = ${init};`;
  }
  declConst(name: string, t: CType, init: string): string {
    // The element loops declare the element's row and column whether or not the op reads them.
    const unused = name === 'r' || name === 'c' ? '[[maybe_unused]] ' : '';
    return `${unused}const ${this.typeName(t)} ${name} = ${init};`;
  }
  /**
   * Chunks of up to 32 tokens: the solve's 496 products written out, each thread's column in
   * registers. The loop form reads every x_j back from shared memory, one dependent load per
   * product (~10 µs per chunk of 32 on an H100: most of the delta rules' intra-chunk kernel); written
   * out, only the last product of each row waits for the row before, and a row's products run as
   * up to 4 independent sums (trisolveOp), so its chain of dependent multiply-adds is a quarter as
   * long.
   */
  protected override unrolledSolveRows(): number {
    return 32;
  }
  /**
   * Larger solves (chunks of 64) in blocks of 16 rows: every thread takes part in the products
   * with the rows solved before a block, and a column's chain is 16 rows a block.
   */
  protected override solveBlockRows(): number {
    return 16;
  }
  /**
   * A compiler fence between the rows of a written-out solve: with the tiles in static shared
   * arrays nvcc otherwise hoists all 496 coefficient loads to the top (no aliasing to stop it) and
   * spills (1.7 KB in Gated DeltaNet's intra-chunk kernel); fenced, a row's loads issue together
   * and the row waits for them once.
   */
  protected override solveRowFence(): string {
    return 'asm volatile("" ::: "memory");';
  }
  /** A warp: the block is whole warps. */
  protected override foldLanes(): number {
    return this.warps > 0 ? 32 : 0;
  }
  protected override laneXor(v: string, off: number): string {
    return `__shfl_xor_sync(0xffffffffu, ${v}, ${off})`;
  }
  forLoop(v: string, from: string, to: string, step: string): string {
    return `for (int ${v} = ${from}; ${v} < ${to}; ${v} += ${step})`;
  }
  barrier(): string {
    // A kernel with asynchronous copies waits for this thread's before every barrier: the tile is
    // then complete for every thread after it (the copies are never read before a barrier).
    // Warpgroup MMA reads its shared operands through the async proxy: the threads' writes are
    // fenced for it before the barrier that publishes them.
    const fence = this.cores.size ? 'attnc_fence_async_shared(); ' : '';
    return this.asyncCopies ? `attnc_cp_async_wait(); ${fence}__syncthreads();` : `${fence}__syncthreads();`;
  }
  select(c: string, a: string, b: string): string {
    return `(${c} ? ${a} : ${b})`;
  }
  cast(to: CType, e: string): string {
    return `((${this.typeName(to)})(${e}))`;
  }
  call(fn: string, args: string[]): string {
    const name = ({ abs: 'attnc_abs', min: 'attnc_min', max: 'attnc_max', pow: 'powf' } as Record<string, string>)[fn] ?? fn;
    return `${name}(${args.join(', ')})`;
  }
  mathFn(fn: string, x: string): string {
    switch (fn) {
      case 'exp':
        // The hardware exponential (ex2.approx.ftz of x·log2 e, two instructions instead of about
        // ten): relative error near 2^-21 plus |x|·2^-24 from the scaling — far inside the f32
        // programs' 1e-4 and the bf16 programs' 5e-3 (bench/gpu/check.py), and the decays, gates
        // and softmax weights evaluate it per element.
        return `attnc_exp(${x})`;
      case 'exp2':
        // ex2.approx alone (the flash kernel's softmax weights, kept in base 2).
        return `attnc_exp2(${x})`;
      case 'log':
      case 'log2':
      case 'sqrt':
      case 'rsqrt':
      case 'tanh':
      case 'sin':
      case 'cos':
      case 'floor':
        return `${fn}f(${x})`;
      case 'relu':
        return `fmaxf(${x}, 0.0f)`;
      case 'sigmoid':
      case 'softplus':
      case 'logsigmoid':
      case 'silu':
      case 'elu':
        return `attnc_${fn}(${x})`;
      default:
        throw new Error(`internal: no CUDA spelling for the math function '${fn}'`);
    }
  }
  load(b: BufferDecl, idx: string): string {
    // The sequence offsets: without cu_seqlens the launcher passes NULL and they are n·T.
    if (b.name === 'cu') return `attnc_seq_start(cu, ${idx}, T)`;
    return b.dtype === 'f16' || b.dtype === 'bf16' ? `attnc_load(${b.name}, ${idx})` : `${b.name}[${idx}]`;
  }
  storeBuf(b: BufferDecl, idx: string, value: string): string {
    return b.dtype === 'f16' || b.dtype === 'bf16' ? `attnc_store(${b.name}, ${idx}, ${value});` : `${b.name}[${idx}] = ${value};`;
  }
  tileRef(name: string): string {
    return name;
  }
  regRef(name: string): string {
    return name;
  }
  wgId(axis: 0 | 1 | 2): string {
    return `((int)blockIdx.${'xyz'[axis]})`;
  }
  clampIndex(idx: string, size: string): string {
    return `attnc_clamp(${idx}, 0, ${size} - 1)`;
  }
  bufferLength(b: BufferDecl): string {
    throw new Error(`internal: the CUDA dialect never clamps reads (buffer ${b.name})`);
  }
  override registerLoopHint(): string {
    return '#pragma unroll';
  }
  /**
   * Element loops of shared tiles mostly load global memory into the tile: unrolled 8 ways, a
   * thread has 8 loads in flight instead of one (the state kernels issue these loads once per
   * chunk, in sequence, so their latency is the kernel's time).
   */
  protected override countedElementLoops(): boolean {
    return true;
  }
  override elementLoopHint(trips: number): string | undefined {
    return trips > 1 ? `#pragma unroll ${Math.min(8, trips)}` : undefined;
  }

  /**
   * A matmul into a register tile (the output accumulators): when the output width n divides the
   * block, thread lid owns column c = lid % n and rows lid / n + s·(T / n) — exactly its register
   * slots s — so the reduction runs outermost and every product goes straight into its slot:
   * one B element per step, reused across the slots, and a small unrolled body (fast to compile,
   * the tile never leaves registers). Other shapes take the shared printer's path.
   */
  protected override matmulOp(s: Extract<Stmt, { op: 'matmul' }>): void {
    const grid = this.mmaFits(s);
    if (grid) return this.mmaMatmul(s, grid);
    const { A, B, D, m, kk, n } = this.matmulShape(s);
    const fits = this.standardRegisters() && D.t.space === 'register' && !s.mask && !s.scale && !D.r0 && D.rows === m && D.t.cols === n && this.T % n === 0;
    if (!fits) return super.matmulOp(s);
    const i = (v: number) => this.intLit(v);
    const step = this.T / n;
    const slots = Math.ceil((m * n) / this.T);
    const reg = this.regRef(s.dst.tile);
    this.emit(`// ${s.dst.tile} ${s.acc === 'set' ? '=' : s.acc === 'add' ? '+=' : '-='} ${s.a.tile}${s.transA ? 'ᵀ' : ''} · ${s.b.tile}${s.transB ? 'ᵀ' : ''}: column lid % ${n}, rows lid / ${n} + ${step}·slot`);
    this.block('', () => {
      const names: Record<string, string> = {};
      for (const [key, v] of [['a', A], ['b', B]] as const) {
        if (v.r0) {
          names[key] = this.fresh(`r0${key}_`);
          this.emit(this.declConst(names[key]!, 'i32', v.r0));
        }
      }
      const mc = this.fresh('mc');
      const mr = this.fresh('mr');
      this.emit(this.declConst(mc, 'i32', `lid % ${i(n)}`));
      this.emit(this.declConst(mr, 'i32', `lid / ${i(n)}`));
      const sl = this.fresh('s');
      if (s.acc === 'set') {
        this.emit('#pragma unroll');
        this.block(this.forLoop(sl, i(0), i(slots), i(1)), () => this.emit(`${reg}[${sl}] = ${this.floatLit(0)};`));
      }
      const x = this.fresh('x');
      this.block(this.forLoop(x, i(0), i(kk), i(1)), () => {
        const bv = this.fresh('bv');
        this.emit(this.declConst(bv, 'f32', s.transB ? this.at(s.b.tile, mc, x, names['b']) : this.at(s.b.tile, x, mc, names['b'])));
        this.emit('#pragma unroll');
        this.block(this.forLoop(sl, i(0), i(slots), i(1)), () => {
          const row = `(${mr} + ${sl} * ${i(step)})`;
          const av = s.transA ? this.at(s.a.tile, x, row, names['a']) : this.at(s.a.tile, row, x, names['a']);
          const upd = `${reg}[${sl}] = ${reg}[${sl}] ${s.acc === 'sub' ? '-' : '+'} ${av} * ${bv};`;
          if (m % step !== 0) this.block(`if (${row} < ${i(m)})`, () => this.emit(upd));
          else this.emit(upd);
        });
      });
    });
  }

  /**
   * A map that fills a shared tile from one global load per element, at an index
   * `X·M + (c + Y)` (M a multiple of the vector width, Y free of r and c), is printed with 16-byte
   * loads — 8 bf16/f16 or 4 f32 elements per thread and load, the rest of the expression applied
   * to each — under a block-uniform check that the buffer, Y and the column bound are aligned to
   * the vector width; otherwise (or for any other map) the scalar element loop. The state and
   * softmax kernels load their tiles once per chunk or key tile and wait on those loads: 2-byte
   * loads kept too few bytes in flight.
   */
  protected override mapOp(s: Extract<Stmt, { op: 'map' }>): void {
    // A guarded map prints its value under a branch: lane exchanges there would leave lanes out.
    if (s.guard && this.viewOf(s.dst).t.space === 'rows') {
      walkSExpr(s.expr, (x) => {
        if (x.k === 'fold') throw new Error(`internal: a guarded map into row-owned tile ${s.dst.tile} folds a row`);
      });
    }
    // `uniform ? A : B` (HAS_INIT ? initial_state[…] : 0): the branch is taken by the whole block,
    // so each side is a map of its own and A's load may be vectorised.
    const e = s.expr;
    if (e.k === 'sel' && blockUniform(e.c) && this.viewOf(s.dst).t.space === 'shared' && this.vectorLoad({ ...s, expr: e.a })) {
      let cond = '';
      this.withExprs(() => {
        cond = this.expr(e.c, {}, 'bool');
        return [];
      });
      this.block(`if (${cond})`, () => this.mapOp({ ...s, expr: e.a }));
      this.block('else', () => this.mapOp({ ...s, expr: e.b }));
      return;
    }
    const factor = this.rowScaling(s);
    if (factor) {
      // x·1 = x exactly: a warp whose rows all keep their factor 1 (the flash kernel's accumulator
      // once its running maxima stop changing) skips the products.
      const slots = Array.from({ length: this.registerSlots(factor) }, (_, q) => `${this.regRef(factor.name)}[${q}] != 1.0f`);
      this.emit(`// ${s.dst.tile} scaled by ${factor.name} per row: skipped by a warp whose factors are all 1`);
      this.block(`if (__any_sync(0xffffffffu, ${slots.join(' || ')}))`, () => super.mapOp(s));
      return;
    }
    const tri = this.lowerTriangle(s);
    if (tri) return this.triangleMap(s, tri);
    if (this.fragmentPairs(s)) return;
    const vec = this.vectorLoad(s);
    if (!vec) return super.mapOp(s);
    const { ld, y, width } = vec;
    const v = this.viewOf(s.dst);
    const b = this.buffer(ld.buf);
    const r0 = this.viewOffset(s);
    const what = `${s.dst.tile}: ${width} elements per 16-byte load where ${ld.buf}, the column offset and bound allow`;
    if (this.rawCopy(s, vec)) {
      // Waited for at the next barrier (barrier()).
      // Counted passes (vectorLoop): the flash kernel's copies run once per key tile.
      this.vectorLoop(b, width, y, s.guard?.cols, v.rows, v.t.cols, `${s.dst.tile}: cp.async of 16 bytes where ${ld.buf}, the column offset and bound allow`, () => this.asyncCopy(s, vec, r0), () => super.mapOp(s), 4, true);
      return;
    }
    this.withInvariants(s.expr, ['r', 'c'], s.dst.tile, () => this.vectorLoop(b, width, y, s.guard?.cols, v.rows, v.t.cols, what, () => {
      const raw = this.fresh('raw');
      const body = () => {
        this.withExprs(() => `const uint4 ${raw} = __ldg(reinterpret_cast<const uint4*>(${b.name} + (${this.expr(ld.idx, {}, 'i32')})));`);
        this.completeVector(s, vec, raw, r0);
      };
      if (s.guard) {
        this.block(`if (${this.vectorGuard(s.guard)})`, body);
        this.block('else', () => this.storeVector(s, width, Array(width).fill(this.floatLit(s.guard!.fill)), r0));
      } else body();
    }, () => super.mapOp(s)));
  }

  /**
   * The `width` values of a 16-byte load `raw` (at row r, column c of the map's tile) converted to
   * f32, the rest of the map's expression applied to each (its row-only part once), and stored.
   */
  private completeVector(s: Extract<Stmt, { op: 'map' }>, vec: VectorLoad, raw: string, r0: string): void {
    const { ld, width } = vec;
    const b = this.buffer(ld.buf);
    const vals = this.fresh('ldv');
    this.emit(`float ${vals}[${width}];`);
    if (width === 1) {
      this.emit(`${vals}[0] = ${raw};`);
    } else if (b.dtype === 'f32') {
      this.emit(`${vals}[0] = __uint_as_float(${raw}.x); ${vals}[1] = __uint_as_float(${raw}.y); ${vals}[2] = __uint_as_float(${raw}.z); ${vals}[3] = __uint_as_float(${raw}.w);`);
    } else {
      const pair = b.dtype === 'bf16' ? '__nv_bfloat162' : '__half2';
      const cvt = b.dtype === 'bf16' ? '__bfloat1622float2' : '__half22float2';
      ['x', 'y', 'z', 'w'].forEach((w, k) => {
        const f = this.fresh('f');
        this.emit(`const float2 ${f} = ${cvt}(*reinterpret_cast<const ${pair}*>(&${raw}.${w}));`);
        this.emit(`${vals}[${2 * k}] = ${f}.x; ${vals}[${2 * k + 1}] = ${f}.y;`);
      });
    }
    // The parts of the expression that depend on the row alone: once per vector.
    this.withInvariants(s.expr, ['c'], s.dst.tile, () => {
      const out: string[] = [];
      for (let k = 0; k < width; k++) {
        this.typer.declareVar(`${vals}[${k}]`, 'f32');
        const ek = substitute(s.expr, ld, `${vals}[${k}]`, k);
        const o = this.fresh('sv');
        this.withExprs(() => this.declConst(o, 'f32', this.expr(ek, {}, 'f32')));
        out.push(o);
      }
      this.storeVector(s, width, out, r0);
    }, false);
  }

  /**
   * Whether a vectorised map copies 16-bit elements unchanged into a 16-bit tile of their type, or
   * (Kernel.asyncState) f32 elements into an f32 shared tile that holds no TF32 values: no
   * conversion, so cp.async — unless the map loads a chunk loop's tiles a chunk ahead
   * (chunkLoopCopies), whose loads then go through registers or a ring instead.
   */
  private rawCopy(s: Extract<Stmt, { op: 'map' }>, vec: VectorLoad): boolean {
    return !this.pipelinedCopies.has(s) && this.unconverted(s, vec);
  }

  /** Whether a vectorised map stores its 16 bytes unchanged (rawCopy, before chunkLoopCopies). */
  private unconverted(s: Extract<Stmt, { op: 'map' }>, vec: VectorLoad): boolean {
    if (s.expr !== vec.ld) return false;
    if (vec.width === 8 && this.halfTiles.get(s.dst.tile) === this.buffer(vec.ld.buf).dtype) return true;
    const t = this.tiles.get(s.dst.tile)!;
    return !!this.k.asyncState && vec.width === 4 && t.space === 'shared' && !this.halfTiles.has(t.name) && !this.roundedTiles.has(t.name) && this.buffer(vec.ld.buf).dtype === 'f32';
  }

  /** cp.async of the 16 bytes at the map's load into its tile at (r, c); zeros where the guard drops them. */
  private asyncCopy(s: Extract<Stmt, { op: 'map' }>, vec: VectorLoad, r0: string): void {
    this.cpAsync(s, vec, `&${this.at(s.dst.tile, 'r', 'c', r0 || undefined)}`);
  }

  /** cp.async of the map's load at (r, c) — 16 bytes, or one f32 where the load is single — to `dst`; zeros where the guard drops it. */
  private cpAsync(s: Extract<Stmt, { op: 'map' }>, vec: VectorLoad, dst: string): void {
    const b = this.buffer(vec.ld.buf);
    const copy = vec.width === 1 ? 'attnc_cp_async4' : 'attnc_cp_async16';
    this.withExprs(() => {
      const src = `${b.name} + (${this.expr(vec.ld.idx, {}, 'i32')})`;
      if (!s.guard) return `${copy}(${dst}, ${src}, true);`;
      const ok = this.fresh('ok');
      return [`const bool ${ok} = ${this.vectorGuard(s.guard)};`, `${copy}(${dst}, ${ok} ? ${src} : ${b.name}, ${ok});`];
    });
  }

  /** Store `width` values at row r, columns c… of the map's tile: 16 bytes at a time where rows and tile start on 16 bytes. */
  private storeVector(s: Extract<Stmt, { op: 'map' }>, width: number, vals: string[], r0: string): void {
    const t = this.tiles.get(s.dst.tile)!;
    const h = this.halfTiles.get(t.name);
    if (h) {
      // 16-bit tiles (rows of 8·n elements): pairs packed, 4·width bytes stored at once.
      if (width % 2) return vals.forEach((v, k) => this.emit(this.assign(t.name, this.at(s.dst.tile, 'r', k ? `(c + ${this.intLit(k)})` : 'c', r0 || undefined), v)));
      const words = Array.from({ length: width / 2 }, (_, k) => `attnc_pack_${h}(${vals[2 * k]}, ${vals[2 * k + 1]})`);
      const at = `&${this.at(s.dst.tile, 'r', 'c', r0 || undefined)}`;
      if (words.length === 4) this.emit(`*reinterpret_cast<uint4*>(${at}) = make_uint4(${words.join(', ')});`);
      else if (words.length === 2) this.emit(`*reinterpret_cast<uint2*>(${at}) = make_uint2(${words.join(', ')});`);
      else words.forEach((w, k) => this.emit(`reinterpret_cast<unsigned*>(${at})[${k}] = ${w};`));
      return;
    }
    vals = vals.map((v) => this.storedValue(t.name, v));
    // Every tile starts on 16 bytes (emitCudaKernel's layout); rows of 4·n words keep it.
    const wide = width % 4 === 0 && this.rowStride(t) % 4 === 0 && t.cols % 4 === 0;
    for (let k = 0; k < width; k += wide ? 4 : 1) {
      const at = this.at(s.dst.tile, 'r', k ? `(c + ${this.intLit(k)})` : 'c', r0 || undefined);
      if (wide) this.emit(`*reinterpret_cast<float4*>(&${at}) = make_float4(${vals.slice(k, k + 4).join(', ')});`);
      else this.emit(`${at} = ${vals[k]};`);
    }
  }

  /**
   * Consecutive maps that each fill a shared tile from 16-byte loads (vectorLoad), none reading a
   * tile another one writes: printed as one group (groupedLoads), so that every load of the group
   * is in flight before the first is waited for. At most `maxRegisters` (MAX_GROUP_REGISTERS) of raw data.
   */
  private loadGroup(ss: Stmt[], from: number, maxRegisters = this.groupWordBound()): LoadGroup {
    const out: LoadGroup = [];
    const written = new Set<string>();
    let registers = 0;
    for (let j = from; j < ss.length; j++) {
      const s = ss[j]!;
      if (s.op !== 'map') break;
      const vec = this.vectorLoad(s) ?? this.scalarLoad(s);
      if (!vec || written.has(s.dst.tile)) break;
      let readsGroup = false;
      walkSExpr(s.expr, (e) => {
        if (e.k === 'tile' && written.has(e.tile)) readsGroup = true;
      });
      if (readsGroup) break;
      const v = this.viewOf(s.dst);
      const trips = Math.ceil((v.rows * v.t.cols) / (this.T * vec.width));
      const words = (vec.width === 1 ? 1 : 4) * trips;
      // Under a tighter bound than MAX_GROUP_REGISTERS only the words held in registers count
      // (a cp.async copy holds none).
      const held = maxRegisters < MAX_GROUP_REGISTERS && this.rawCopy(s, vec) ? 0 : words;
      if (registers + held > maxRegisters) break;
      registers += held;
      written.add(s.dst.tile);
      out.push({ s, vec, trips, words });
    }
    return out;
  }

  /**
   * A load group: under the conjunction of its maps' alignment checks, every map's 16-byte loads
   * are issued into registers (zeros where the guard drops a vector), then each is converted, has
   * the rest of its expression applied and is stored; otherwise each map as it would be alone.
   * Loads of tiles that are loaded one after the other each wait for a full memory round trip; the
   * state kernels load four or five tiles per chunk.
   */
  private groupedLoads(group: LoadGroup): void {
    this.withGroupInvariants(group, () => {
      this.emit(`// ${group.map((g) => g.s.dst.tile).join(', ')}: 16-byte loads issued together, then converted and stored`);
      this.block(`if (${this.groupAlignment(group)})`, () => {
        const raws = this.groupRegisters(group);
        this.groupLoads(group, raws);
        this.groupStores(group, raws);
      });
      this.block('else', () => {
        for (const g of group) this.mapOp(g.s);
      });
    });
  }

  /** `body` with the f32 parts of the group's expressions that vary by neither r nor c computed once, before it. */
  private withGroupInvariants(group: LoadGroup, body: () => void): void {
    const nest = (k: number): void => {
      if (k === group.length) return body();
      const g = group[k]!;
      this.withInvariants(g.s.expr, ['r', 'c'], g.s.dst.tile, () => nest(k + 1));
    };
    nest(0);
  }

  /** The block-uniform condition under which every 16-byte load of the group is aligned. */
  private groupAlignment(group: LoadGroup): string {
    const conds = group.filter((g) => g.vec.width > 1).flatMap((g) => this.alignment(this.buffer(g.vec.ld.buf), g.vec.width, g.vec.y, g.s.guard?.cols));
    return [...new Set(conds)].join(' && ') || 'true';
  }

  /** The group's rings (pipelinedLoop), declared here as pointers into dynamic shared memory after the tiles, each on 16 bytes: [slot][entry]. */
  private groupRing(group: LoadGroup, depth: number): string[] {
    return group.map((g) => {
      const ring = this.fresh('ring');
      const type = g.vec.width === 1 ? 'float' : 'uint4';
      this.emit(`${type}* const ${ring} = reinterpret_cast<${type}*>(attnc_smem + ${this.ringBase() + this.ringBytes / 4});  // [${depth} slots][${this.slotEntries(g)}]`);
      this.ringBytes += this.memberRingBytes(g, depth);
      return ring;
    });
  }

  /** A member's element `j` in its ring slot, for this thread. */
  private ringAt(g: LoadGroup[number], raw: string, ring: Ring, j: string): string {
    return `${raw}[${ring.slot} * ${this.intLit(this.slotEntries(g))} + ${j} * ${this.intLit(this.T)} + lid]`;
  }

  /** The group's raw registers, declared here ('' for maps copied by cp.async). */
  private groupRegisters(group: LoadGroup): string[] {
    return group.map((g) => {
      if (this.rawCopy(g.s, g.vec)) return '';
      const raw = this.fresh('raw');
      this.emit(`${g.vec.width === 1 ? 'float' : 'uint4'} ${raw}[${g.trips}];`);
      return raw;
    });
  }

  /** Element `j` of a group member's loop: its row r and column c, where it is in the tile. */
  private groupElement(g: LoadGroup[number], j: string, body: () => void): void {
    const i = (x: number) => this.intLit(x);
    const v = this.viewOf(g.s.dst);
    const n = v.rows * v.t.cols;
    const e = this.fresh('e');
    this.emit(this.declConst(e, 'i32', `lid * ${i(g.vec.width)} + ${j} * ${i(this.T * g.vec.width)}`));
    const inner = () => {
      this.emit(this.declConst('r', 'i32', `${e} / ${i(v.t.cols)}`));
      this.emit(this.declConst('c', 'i32', `${e} % ${i(v.t.cols)}`));
      body();
    };
    if (n % (this.T * g.vec.width)) this.block(`if (${e} < ${i(n)})`, inner);
    else this.block('', inner);
  }

  /** The group's loads into its raw registers (zeros where a guard drops them); raw 16-bit copies go by cp.async, waited for at the next barrier. */
  private groupLoads(group: LoadGroup, raws: string[], ring?: Ring): void {
    const i = (x: number) => this.intLit(x);
    group.forEach((g, k) => {
      const j = this.fresh('j');
      this.emit('#pragma unroll');
      this.block(this.forLoop(j, i(0), i(g.trips), i(1)), () => {
        if (!raws[k]) return this.groupElement(g, j, () => this.asyncCopy(g.s, g.vec, this.viewOffset(g.s)));
        if (ring) return this.groupElement(g, j, () => this.cpAsync(g.s, g.vec, `&${this.ringAt(g, raws[k]!, ring, j)}`));
        this.emit(`${raws[k]}[${j}] = ${g.vec.width === 1 ? '0.0f' : 'make_uint4(0u, 0u, 0u, 0u)'};`);
        this.groupElement(g, j, () => {
          const load = () =>
            this.withExprs(() =>
              g.vec.width === 1
                ? `${raws[k]}[${j}] = ${this.expr(g.vec.ld, {}, 'f32')};`
                : `${raws[k]}[${j}] = __ldg(reinterpret_cast<const uint4*>(${this.buffer(g.vec.ld.buf).name} + (${this.expr(g.vec.ld.idx, {}, 'i32')})));`,
            );
          if (g.s.guard) this.block(`if (${this.vectorGuard(g.s.guard)})`, load);
          else load();
        });
      });
    });
  }

  /** The group's raw registers converted, the rest of each map's expression applied, and stored into its tile. */
  private groupStores(group: LoadGroup, raws: string[], ring?: Ring): void {
    const i = (x: number) => this.intLit(x);
    group.forEach((g, k) => {
      if (!raws[k]) return;
      const r0 = this.viewOffset(g.s);
      const j = this.fresh('j');
      this.emit('#pragma unroll');
      this.block(this.forLoop(j, i(0), i(g.trips), i(1)), () => {
        this.groupElement(g, j, () => {
          const body = () => {
            let raw = `${raws[k]}[${j}]`;
            if (ring) {
              // One shared load of this thread's copy, then converted as a register would be.
              raw = this.fresh('raw');
              this.emit(`const ${g.vec.width === 1 ? 'float' : 'uint4'} ${raw} = ${this.ringAt(g, raws[k]!, ring, j)};`);
            }
            // 16 bytes the tile holds unchanged (chunkLoopCopies): stored as they came.
            if (this.pipelinedCopies.has(g.s)) return this.emit(`*reinterpret_cast<uint4*>(&${this.at(g.s.dst.tile, 'r', 'c', r0 || undefined)}) = ${raw};`);
            this.completeVector(g.s, g.vec, raw, r0);
          };
          if (g.s.guard) {
            this.block(`if (${this.vectorGuard(g.s.guard)})`, body);
            this.block('else', () => this.storeVector(g.s, g.vec.width, Array(g.vec.width).fill(this.floatLit(g.s.guard!.fill)), r0));
          } else body();
        });
      });
    });
  }

  /**
   * A loop (the state kernels' chunk loop) whose body opens with scalar lets and register
   * initialisations and then a load group of tiles (loadGroup), where the group's loads are issued
   * one iteration ahead (pipelinedLoop): its buffers are not written by the kernel, its alignment
   * does not change from one iteration to the next, it copies nothing by cp.async, and it is at
   * least two maps (a single tile's loads gain little) holding at most PIPELINED_REGISTERS (or the
   * kernel's prefetchWords) raw words (registers held across the whole iteration).
   */
  private pipelinedGroup(s: Extract<Stmt, { op: 'for' }>): { at: number; group: LoadGroup; depth: number } | undefined {
    const lead = this.leadingGroup(s);
    if (!lead) return undefined;
    const { at, group, lets } = lead;
    if (group.length < 2) return undefined;
    const words = group.reduce((n, g) => n + g.words, 0);
    if (group.some((g) => this.rawCopy(g.s, g.vec))) return undefined;
    const depth = this.ringDepth(group);
    if (depth < 2 && words > (this.k.prefetchWords ?? PIPELINED_REGISTERS)) return undefined;
    if (group.some((g) => !this.loadsAhead(s, g))) return undefined;
    // The alignment is checked once, before the loop.
    const varies = (e: SExpr | undefined) => !!e && [...lets].some((v) => usesVar(e, v));
    if (group.some((g) => g.vec.width > 1 && (varies(g.vec.y) || varies(g.s.guard?.cols)))) return undefined;
    return { at, group, depth };
  }

  /**
   * The load group that opens loop `s`'s body after its scalar lets (named in `lets`, with the loop
   * variable) and register initialisations, and where it starts: as loadGroup finds it, without
   * its bound on raw registers where a ring is wanted (Kernel.prefetchDepth: the ring's slots hold
   * the loads in flight, not registers). None for a loop without a constant positive step.
   */
  private leadingGroup(s: Extract<Stmt, { op: 'for' }>): { at: number; group: LoadGroup; lets: Set<string> } | undefined {
    if (s.step.k !== 'const' || s.step.v <= 0) return undefined;
    let at = 0;
    const lets = new Set<string>([s.v]);
    for (; at < s.body.length; at++) {
      const x = s.body[at]!;
      if (x.op === 'note') continue;
      if (x.op === 'let' && !tileAccess(x).reads.size) lets.add(x.name);
      else if (!(x.op === 'map' && this.viewOf(x.dst).t.space !== 'shared' && !loadsOf(x.expr).length)) break;
    }
    return { at, group: this.loadGroup(s.body, at, (this.k.prefetchDepth ?? 1) >= 2 ? Infinity : MAX_GROUP_REGISTERS), lets };
  }

  /** A member's entries in one ring slot: one per vector (16 bytes) or single f32 of its tile. */
  private slotEntries(g: LoadGroup[number]): number {
    const v = this.viewOf(g.s.dst);
    return Math.ceil((v.rows * v.t.cols) / g.vec.width);
  }

  /** Bytes a member's ring of `depth` slots takes, rounded up to 16 (each ring starts on 16 bytes: cp.async of 16 bytes and uint4 reads need it). */
  private memberRingBytes(g: LoadGroup[number], depth: number): number {
    return Math.ceil((depth * this.slotEntries(g) * (g.vec.width === 1 ? 4 : 16)) / 16) * 16;
  }

  /** Bytes a group's rings of `depth` slots take (pipelinedLoop). */
  private groupRingBytes(group: LoadGroup, depth: number): number {
    return group.reduce((n, g) => n + this.memberRingBytes(g, depth), 0);
  }

  /**
   * Slots of the shared ring a pipelined group's loads go to by cp.async (Kernel.prefetchDepth, at
   * most RING_BYTES in all, no more than leave as many blocks per SM as the tiles alone do, and
   * the SM's blocks within RING_UNIT_SHARE of its shared memory with their rings),
   * or 1 where they stay in registers: no depth asked, another copy of the kernel already waits at
   * its barriers (attnc_cp_async_wait), or a member loads single elements of a 16-bit buffer
   * (cp.async copies 4 bytes at least).
   */
  private ringDepth(group: LoadGroup): number {
    const want = this.k.prefetchDepth ?? 1;
    if (want < 2 || this.asyncCopies) return 1;
    if (group.some((g) => g.vec.width === 1 && this.buffer(g.vec.ld.buf).dtype !== 'f32')) return 1;
    const base = this.ringBase() * 4 + this.ringBytes;
    const room = Math.min(RING_BYTES, this.sharedLimit - base);
    const blocks = this.minBlocks(base);
    // What the SM's blocks may take of its shared memory with their rings (the rest is L1).
    const share = this.unit ? RING_UNIT_SHARE * this.unit.sharedBytes : Infinity;
    const fits = (d: number) => {
      const ring = this.groupRingBytes(group, d);
      return ring <= room && (!!this.k.prefetchDepthAsked || (this.minBlocks(base + ring) >= blocks && blocks * (base + ring) <= share));
    };
    let depth = want;
    while (depth >= 2 && !fits(depth)) depth--;
    return depth >= 2 ? depth : 1;
  }

  /** Shared bytes of the rings this kernel's pipelined loops declared (after the tiles, ringBase). */
  ringBytes = 0;

  /**
   * The shared tiles the kernel uses, their word offsets in the block's shared memory (each on 16
   * bytes, for the 16-byte shared stores of the tile loads) and their bytes in all.
   */
  sharedLayout(): { shared: TileDecl[]; offsets: number[]; bytes: number } {
    if (this.layout) return this.layout;
    const used = usedTiles(this.k.body);
    const shared = this.k.tiles.filter((t) => t.space === 'shared' && used.has(t.name));
    // Words of a shared tile (a 16-bit tile's elements are half words).
    const words = (t: TileDecl) => (this.sharedType(t) === 'f32' ? t.rows * this.rowStride(t) : Math.ceil((t.rows * this.rowStride(t)) / 2));
    const offsets: number[] = [];
    const bytes = 4 * shared.reduce((off, t) => {
      const at = Math.ceil(off / 4) * 4;
      offsets.push(at);
      return at + words(t);
    }, 0);
    this.layout = { shared, offsets, bytes };
    return this.layout;
  }

  /**
   * Raw registers a load group may hold (while printing): MAX_GROUP_REGISTERS, or in a kernel with
   * 16-bit tensor-core operands that the launch bounds give fewer registers a thread than the
   * default floor (a register floor lowered for more blocks per SM), a quarter of them, counting
   * only the words held in registers (loadGroup). At 64 registers the cosine attention's chunks-of-64
   * intra-chunk kernel held q's and k's 32 words at once and spilled.
   */
  private groupWordBound(): number {
    if (!this.sixteenBitOperands() || !this.unit) return MAX_GROUP_REGISTERS;
    const registers = this.unit.registers / (this.k.threads * this.minBlocks(this.sharedLayout().bytes));
    return registers < DEFAULT_REGISTER_FLOOR ? Math.min(MAX_GROUP_REGISTERS, registers / 4) : MAX_GROUP_REGISTERS;
  }

  /** sharedLayout(), once the constructor has fixed the rows' padding. */
  private layout: { shared: TileDecl[]; offsets: number[]; bytes: number } | undefined;

  /** Minimum blocks per SM for `__launch_bounds__` (minBlocksPerUnit) with this much shared memory a block. */
  minBlocks(sharedBytes: number): number {
    const rowTileWords = this.k.tiles.filter((t) => t.space === 'rows').reduce((n, t) => n + this.registerSlots(t), 0);
    return minBlocksPerUnit(this.k.threads, sharedBytes, this.unit, rowTileWords, this.k.registerFloor);
  }

  /** The word offset of the load rings in dynamic shared memory: after the tiles, on 16 bytes. */
  ringBase(): number {
    return Math.ceil(this.sharedLayout().bytes / 16) * 4;
  }

  /**
   * Whether a group map's loads may be issued an iteration ahead in loop `s` (pipelinedGroup): the
   * kernel writes its buffer nowhere, or only by stores in the loop at exactly the index the map
   * loads — the delta rules' corrected values, w_u, read and written back in place — where that
   * index takes the rows t0 + r of the iteration's own tokens (t0 a let that advances with the
   * loop variable, the tile no taller than a step). The loads ahead then read the next chunk's
   * rows while this iteration writes its own.
   */
  private loadsAhead(s: Extract<Stmt, { op: 'for' }>, g: LoadGroup[number]): boolean {
    const buf = g.vec.ld.buf;
    const key = JSON.stringify(g.vec.ld.idx);
    let inLoop = 0;
    let elsewhere = false;
    forEachStmt(this.k.body, (x) => {
      if (x.op !== 'store' || x.dst.buf !== buf) return;
      if (JSON.stringify(x.dst.index) === key) inLoop++;
      else elsewhere = true;
    });
    if (elsewhere) return false;
    if (!inLoop) return true;
    let storedHere = 0;
    forEachStmt(s.body, (x) => void (x.op === 'store' && x.dst.buf === buf && storedHere++));
    if (storedHere !== inLoop || s.step.k !== 'const' || (g.s.dst.r0 !== undefined || (g.s.dst.rows ?? this.tiles.get(g.s.dst.tile)!.rows) > s.step.v)) return false;
    // Lets of the loop body that advance with the loop variable: t0 = start + c0.
    const advancing = new Set<string>();
    for (const x of s.body) {
      if (x.op !== 'let' || x.value.k !== 'bin' || x.value.fn !== 'add') continue;
      const { a, b } = x.value;
      if ((isVar(a, s.v) && !usesVar(b, s.v)) || (isVar(b, s.v) && !usesVar(a, s.v))) advancing.add(x.name);
    }
    let ownRows = false;
    walkSExpr(g.vec.ld.idx, (e) => {
      if (e.k !== 'bin' || e.fn !== 'add') return;
      const isT0 = (x: SExpr) => x.k === 'var' && advancing.has(x.name);
      if ((isT0(e.a) && isVar(e.b, 'r')) || (isVar(e.a, 'r') && isT0(e.b))) ownRows = true;
    });
    return ownRows;
  }

  /**
   * A loop with a pipelined load group (pipelinedGroup): the group's raw registers live across
   * the loop. Before it, the first iteration's loads are issued; in each iteration, the registers
   * are converted and stored into their tiles where the group was, and the next iteration's loads
   * are issued at once (the loop's opening lets evaluated for it), so that their latency overlaps
   * the rest of the iteration instead of opening the next one. Unaligned buffers take the loop as
   * it was.
   */
  private pipelinedLoop(s: Extract<Stmt, { op: 'for' }>, p: { at: number; group: LoadGroup; depth: number }): void {
    const { at, group, depth } = p;
    // The opening lets that the group's loads and guards need, directly or through later lets.
    const needed = new Set<string>();
    const uses = (e: SExpr) => walkSExpr(e, (x) => void (x.k === 'var' && needed.add(x.name)));
    for (const g of group) {
      uses(g.vec.ld);
      if (g.s.guard) [g.s.guard.rows, g.s.guard.cols].forEach(uses);
    }
    const lets: Stmt[] = [];
    for (const x of s.body.slice(0, at).reverse()) {
      if (x.op !== 'let' || !needed.has(x.name)) continue;
      lets.unshift(x);
      uses(x.value);
    }
    const ok = this.fresh('ahead');
    const issue = this.fresh('issue');
    const tiles = group.map((g) => g.s.dst.tile).join(', ');
    let from = '';
    let to = '';
    let step = '';
    this.withExprs(() => {
      [from, to, step] = [this.expr(s.from, {}, 'i32'), this.expr(s.to, {}, 'i32'), this.expr(s.step, {}, 'i32')];
      return [];
    });
    const ring = depth >= 2 ? { depth, slot: this.fresh('slot') } : undefined;
    if (ring) {
      this.emit(`// ${tiles}: loads issued ${depth} iterations ahead by cp.async into a ring of ${depth} slots (shared; each thread reads back only its own copies)`);
    } else this.emit(`// ${tiles}: 16-byte loads issued one iteration ahead, into registers held across the loop`);
    this.emit(this.declConst(ok, 'bool', this.groupAlignment(group)));
    const raws = ring ? this.groupRing(group, depth) : this.groupRegisters(group);
    // The loads of the iteration at `s.v`, if there is one: its lets, then the group's loads.
    this.emit(`auto ${issue} = [&](const int ${s.v}${ring ? `, const int ${ring.slot}` : ''}) {`);
    this.depth++;
    this.block(`if (${s.v} < ${to})`, () => {
      for (const x of lets) this.stmt(x);
      this.groupLoads(group, raws, ring);
    });
    if (ring) this.emit('attnc_cp_async_commit();');
    this.depth--;
    this.emit('};');
    if (ring) {
      const d = this.fresh('d');
      this.block(`if (${ok})`, () => this.emit(`for (int ${d} = 0; ${d} < ${this.intLit(depth)}; ${d}++) ${issue}(${from} + ${d} * ${step}, ${d});`));
    } else this.emit(`if (${ok}) ${issue}(${from});`);
    const slotOf = ring ? `((${s.v} - ${from}) / ${step}) % ${this.intLit(depth)}` : '';
    const next = ring ? `${issue}(${s.v} + ${this.intLit(depth)} * ${step}, ${ring.slot})` : `${issue}(${s.v} + ${step})`;
    this.pipelined = { first: group[0]!.s, group, raws, ok, next, ...(ring ? { ring: { ...ring, slotOf } } : {}) };
    try {
      this.stmt(s);
    } finally {
      this.pipelined = undefined;
    }
  }

  /** The group of the loop pipelinedLoop is printing: where its first map was, its registers are stored into the tiles and the next loads issued. */
  private pipelined: { first: Stmt; group: LoadGroup; raws: string[]; ok: string; next: string; ring?: Ring & { slotOf: string } } | undefined;

  /** The pipelined group in its loop (pipelinedLoop): stores from the registers, then the next iteration's loads; unaligned, the maps alone. */
  private pipelinedStores(p: NonNullable<CudaPrinter['pipelined']>): void {
    this.withGroupInvariants(p.group, () => {
      this.emit(`// ${p.group.map((g) => g.s.dst.tile).join(', ')}: from the ${p.ring ? 'ring slot loaded ' + p.ring.depth + ' iterations' : 'registers loaded an iteration'} ahead, then the next iteration's loads`);
      this.block(`if (${p.ok})`, () => {
        if (p.ring) {
          // This iteration's copies are the oldest of the depth groups in flight.
          this.emit(`attnc_cp_async_wait_group<${p.ring.depth - 1}>();`);
          this.emit(this.declConst(p.ring.slot, 'i32', p.ring.slotOf));
        }
        this.groupStores(p.group, p.raws, p.ring);
        this.emit(`${p.next};`);
      });
      this.block('else', () => {
        for (const g of p.group) this.mapOp(g.s);
      });
    });
  }

  protected override stmts(ss: Stmt[]): void {
    for (let k = 0; k < ss.length; ) {
      const s = ss[k]!;
      const p = this.pipelined;
      if (p && s === p.first) {
        this.pipelinedStores(p);
        k += p.group.length;
        continue;
      }
      // Only the kernel's top-level loops (the chunk loop), one at a time.
      const pipe = s.op === 'for' && ss === this.k.body && !p ? this.pipelinedGroup(s) : undefined;
      if (pipe && s.op === 'for') {
        this.pipelinedLoop(s, pipe);
        k++;
        continue;
      }
      const next = ss[k + 1];
      if (s.op === 'map' && next?.op === 'map' && this.pairedTriangles(s, next)) {
        k += 2;
        continue;
      }
      const group = this.loadGroup(ss, k);
      if (group.length >= 2) {
        this.groupedLoads(group);
        k += group.length;
      } else this.stmt(ss[k++]!);
    }
  }

  /** The block-uniform check that a 16-byte access of `buf` at column offset Y within a bound is aligned. */
  private alignment(buf: BufferDecl, width: number, y: SExpr | undefined, colsBound: SExpr | undefined): string[] {
    const i = (x: number) => this.intLit(x);
    const parts = [`(reinterpret_cast<unsigned long long>(${buf.name}) & 15ull) == 0ull`];
    this.withExprs(() => {
      if (y) parts.push(`(${this.expr(y, {}, 'i32')}) % ${i(width)} == 0`);
      if (colsBound && colsBound.k !== 'const') parts.push(`(${this.expr(colsBound, {}, 'i32')}) % ${i(width)} == 0`);
      return [];
    });
    return parts;
  }

  /**
   * A map filling a small shared tile (at most four elements per thread) from one unconditional
   * global load per element — a column of gates — as a load-group member of width 1.
   */
  private scalarLoad(s: Extract<Stmt, { op: 'map' }>): VectorLoad | undefined {
    const v = this.viewOf(s.dst);
    if (v.t.space !== 'shared' || v.rows * v.t.cols > 4 * this.T) return undefined;
    const lds = loadsOf(s.expr);
    if (lds.length !== 1 || !unconditional(s.expr, lds[0]!)) return undefined;
    return { ld: lds[0]!, width: 1 };
  }

  /**
   * The loop of 16-byte accesses over a rows × cols shared tile: under a block-uniform check that
   * the buffer, the column offset Y and the column bound are aligned to `width`, `body` runs for
   * each group of `width` elements along a row (the first one's row and column named r and c);
   * otherwise `fallback` (the scalar loop). Unrolled up to `unroll` times (loads: several in flight).
   * `counted`: the loop counts passes of the workgroup, a constant trip count (cp.async copies:
   * nvcc then drops the remainder loop, and with whole rows per pass computes each pass's address
   * from the first one's; elsewhere the same rewrite moved register allocation at the 128-register
   * bound enough for KDA's chunk kernel to spill, and those loops run once per chunk or less).
   */
  private vectorLoop(buf: BufferDecl, width: number, y: SExpr | undefined, colsBound: SExpr | undefined, rows: number, cols: number, what: string, body: () => void, fallback: () => void, unroll = 4, counted = false): void {
    const i = (x: number) => this.intLit(x);
    const n = rows * cols;
    const cond = this.alignment(buf, width, y, colsBound).join(' && ');
    this.emit(`// ${what}`);
    this.block(`if (${cond})`, () => {
      const e = this.fresh('e');
      const trips = Math.ceil(n / (this.T * width));
      if (counted) {
        this.emit(trips <= unroll ? '#pragma unroll' : `#pragma unroll ${unroll}`);
        return this.passLoop(e, n, cols, width, body);
      }
      this.emit(`#pragma unroll ${Math.max(1, Math.min(unroll, trips))}`);
      this.block(this.forLoop(e, `lid * ${i(width)}`, i(n), i(this.T * width)), () => {
        this.emit(this.declConst('r', 'i32', `${e} / ${i(cols)}`));
        this.emit(this.declConst('c', 'i32', `${e} % ${i(cols)}`));
        body();
      });
    });
    this.block('else', fallback);
  }

  /** `r < rows && c < cols` of a guard, for the first element of a vector. */
  private vectorGuard(g: { rows: SExpr; cols: SExpr }): string {
    let out = '';
    this.withExprs(() => {
      out = `r < ${this.expr(g.rows, {}, 'i32')} && c < ${this.expr(g.cols, {}, 'i32')}`;
      return [];
    });
    return out;
  }

  /**
   * A store of a shared tile to a global buffer at `X·M + (c + Y)` (the final state, a chunk's
   * intra-chunk results) is printed with 16-byte stores — 4 f32 or 8 bf16/f16 elements — under the
   * same block-uniform alignment check as vector loads, with the scalar loop as fallback.
   */
  protected override storeOp(s: Extract<Stmt, { op: 'store' }>): void {
    const t = this.tiles.get(s.src)!;
    const b = this.buffer(s.dst.buf);
    // A row-owned tile of several columns (the flash kernel's accumulator) is laid out like a
    // matmul output too (registerElement): its adjacent-column pairs store together as well.
    if ((t.space === 'register' && this.fragments) || (t.space === 'rows' && t.cols > 1 && this.rowsGrid(t).nb)) return this.fragmentStore(s, t, b);
    const width = vectorWidth(b.dtype);
    const at = width ? columnIndex(s.dst.index, width) : undefined;
    if (t.space !== 'shared' || !at || t.cols % width || !guardKeepsVectors(s.dst, width)) return super.storeOp(s);
    const what = `${s.src} → ${b.name}: ${width} elements per 16-byte store where ${b.name}, the column offset and bound allow`;
    this.vectorLoop(b, width, at.y, s.dst.cols, t.rows, t.cols, what, () => {
      this.block(`if (${this.vectorGuard(s.dst)})`, () => {
        const vals = Array.from({ length: width }, (_, k) => {
          const name = this.fresh('sv');
          this.withExprs(() => this.declConst(name, 'f32', this.expr(substitute(s.value, undefined, '', k), {}, 'f32')));
          return name;
        });
        const ptr = `${b.name} + (${this.expr(s.dst.index, {}, 'i32')})`;
        if (b.dtype === 'f32') this.emit(`*reinterpret_cast<float4*>(${ptr}) = make_float4(${vals.join(', ')});`);
        else {
          const [pair, cvt] = halfPair(b.dtype);
          const w = this.fresh('w');
          this.emit(`uint4 ${w};`);
          ['x', 'y', 'z', 'w'].forEach((f, k) => this.emit(`{ const ${pair} p = ${cvt}(${vals[2 * k]}, ${vals[2 * k + 1]}); ${w}.${f} = *reinterpret_cast<const unsigned*>(&p); }`));
          this.emit(`*reinterpret_cast<uint4*>(${ptr}) = ${w};`);
        }
      });
      // Stores do not wait for memory: unrolled less, so that a large tile's store (the state
      // before each chunk, in the chunk loop) does not hold many values in registers at once.
    }, () => super.storeOp(s), 2);
  }

  /**
   * A store of accumulator fragments (a register tile) to a global buffer at `X·M + (c + Y)`: the
   * slots 2j and 2j + 1 of a thread are adjacent columns of one row, stored as one pair (8 bytes
   * of f32, 4 of bf16/f16) under a block-uniform check that the buffer, Y and the column bound are
   * even; otherwise element by element.
   */
  private fragmentStore(s: Extract<Stmt, { op: 'store' }>, t: TileDecl, b: BufferDecl): void {
    const at = b.dtype === 'i32' || b.dtype === 'u32' ? undefined : columnIndex(s.dst.index, 2);
    if (!at || !guardKeepsVectors(s.dst, 2)) return super.storeOp(s);
    this.emit(`// ${s.src} → ${b.name}: pairs of adjacent columns per store where ${b.name}, the column offset and bound allow`);
    this.block(`if (${this.alignment(b, 2, at.y, s.dst.cols).join(' && ')})`, () => {
      this.slotPairs(t, (sl) => {
        this.block(`if (${this.vectorGuard(s.dst)})`, () =>
          this.withExprs(() => {
            const v0 = this.expr(s.value, { slot: sl, slotOf: t }, 'f32');
            const v1 = this.expr(substitute(s.value, undefined, '', 1), { slot: `${sl} + 1`, slotOf: t }, 'f32');
            const ptr = `${b.name} + (${this.expr(s.dst.index, {}, 'i32')})`;
            if (b.dtype === 'f32') return [`*reinterpret_cast<float2*>(${ptr}) = make_float2(${v0}, ${v1});`];
            const [pair, cvt] = halfPair(b.dtype);
            return [`*reinterpret_cast<${pair}*>(${ptr}) = ${cvt}(${v0}, ${v1});`];
          }),
        );
      });
    });
    this.block('else', () => super.storeOp(s));
  }

  /** The even slots sl of register tile `t` (fragments: sl and sl + 1 are adjacent columns), each with its row r and column c declared. */
  private slotPairs(t: TileDecl, body: (sl: string) => void): void {
    const sl = this.fresh('s');
    this.emit('#pragma unroll');
    this.block(this.forLoop(sl, this.intLit(0), this.intLit(this.registerSlots(t)), this.intLit(2)), () => {
      const el = this.registerElement(t, sl);
      this.emit(this.declConst('r', 'i32', el.r));
      this.emit(this.declConst('c', 'i32', el.c));
      body(sl);
    });
  }

  /**
   * A map without guard into a whole shared tile from a register tile of its shape laid out as
   * accumulator fragments (Sh ← S, Xd ← X·e^{…} of the delta rules' state kernel with S in
   * registers): a thread's slots 2j and 2j + 1 are adjacent columns of one row, so each pair is
   * one store (4 bytes into a 16-bit tile, 8 into an f32 tile of even row stride). Whether printed.
   */
  private fragmentPairs(s: Extract<Stmt, { op: 'map' }>): boolean {
    const t = this.tiles.get(s.dst.tile)!;
    const src = t.space === 'shared' && !s.guard && this.fragments ? this.registerSource(s) : undefined;
    const h = this.halfTiles.get(t.name);
    if (!src || (!h && (this.rowStride(t) % 2 || this.roundedTiles.has(t.name)))) return false;
    this.emit(`// ${s.dst.tile} ← ${src.name}: pairs of adjacent columns per store`);
    this.withInvariants(s.expr, ['r', 'c'], s.dst.tile, () => {
      this.slotPairs(src, (sl) => {
        this.withExprs(() => {
          const v0 = this.expr(s.expr, { slot: sl, slotOf: src }, 'f32');
          const v1 = this.expr(substitute(s.expr, undefined, '', 1), { slot: `${sl} + 1`, slotOf: src }, 'f32');
          const at = `&${this.at(s.dst.tile, 'r', 'c')}`;
          if (!h) return [`*reinterpret_cast<float2*>(${at}) = make_float2(${v0}, ${v1});`];
          const [pair, cvt] = halfPair(h);
          return [`*reinterpret_cast<${pair}*>(${at}) = ${cvt}(${v0}, ${v1});`];
        });
      });
    });
    return true;
  }

  /** The load, column offset Y and vector width of a map mapOp can vectorise, if it is one. */
  private vectorLoad(s: Extract<Stmt, { op: 'map' }>): VectorLoad | undefined {
    const v = this.viewOf(s.dst);
    if (v.t.space !== 'shared') return undefined;
    // Of several loads (KDA's gate: g per token and feature, dt_bias per feature), the one of the
    // most elements per 16 bytes; the others stay scalar loads, at each element's column.
    let best: VectorLoad | undefined;
    for (const ld of loadsOf(s.expr)) {
      // A load under a select or in a fold is conditional (HAS_INIT ? initial_state[…] : 0 may
      // have no buffer behind it): only unconditional loads are hoisted into the vector load.
      if (!unconditional(s.expr, ld)) continue;
      const width = vectorWidth(this.buffer(ld.buf).dtype);
      if (!width || v.t.cols % width || !guardKeepsVectors(s.guard, width) || (best && best.width >= width)) continue;
      const at = columnIndex(ld.idx, width);
      if (at) best = { ld, ...at, width };
    }
    return best;
  }

  /**
   * A matmul on tensor cores (mma.sync m16n8k8, TF32 operands rounded to nearest, f32
   * accumulation): warp w computes its ma × nb output tiles of 16 × 8 (warpGrid), loading each A
   * fragment once for nb tiles and each B fragment once for ma; output tiles a mask removes
   * entirely are skipped. The result goes to D through the fragment layout: shared D by (row,
   * column), register D slot by slot (registerElement lays register tiles out the same way).
   */
  private mmaMatmul(s: Extract<Stmt, { op: 'matmul' }>, g: WarpGrid): void {
    if (this.wgmmaOps.has(s)) return this.wgmmaMatmul(s, g);
    const { A, D, m, kk, n } = this.matmulShape(s);
    const i = (v: number) => this.intLit(v);
    const reg = D.t.space !== 'shared';
    // A row-owned A operand (probabilities kept from the previous matmul's output) is read from
    // its accumulator registers: the reduction index is permuted within each step of 8 so that
    // the A fragment's columns t and t + 4 are the accumulator's 2t and 2t + 1 (the same
    // permutation on B's rows leaves A·B unchanged), and the steps are unrolled so that the slots
    // are constants.
    const aRegs = A.t.space === 'rows' ? this.rowsGrid(A.t) : undefined;
    // 16-bit operands (m16n8k16): pairs of adjacent k packed per register; the accumulator
    // fragments of two adjacent 8-column tiles are exactly an A fragment, so a row-owned A needs
    // no permutation there.
    const half = this.halfOperands(s);
    const kStep = half ? 16 : 8;
    // B from a 16-bit tile loads with ldmatrix (sixteenBitTiles).
    const ldsmB = !!half && this.halfTiles.has(s.b.tile);
    // With A in registers, each B fragment feeds its mma at once (the B fragments of a step are
    // not all held together: fewer registers live): with one row tile, or B from ldmatrix.
    const interleave = !!half && !!aRegs && (g.ma === 1 || ldsmB) && !s.mask;
    // A register output without mask or scale accumulates in place (no second set of accumulators).
    const inPlace = reg && !s.mask && !s.scale && s.acc !== 'sub';
    const op = s.acc === 'set' ? '=' : s.acc === 'add' ? '+=' : '-=';
    this.emit(`// ${s.dst.tile} ${op} ${s.a.tile}${s.transA ? 'ᵀ' : ''} · ${s.b.tile}${s.transB ? 'ᵀ' : ''}${s.mask ? ` (${s.mask} mask)` : ''}: ${m}×${n}×${kk} on tensor cores${half ? ` (${half} operands)` : ''}, ${g.wm}×${g.wn} warps of ${g.ma}×${g.nb} tiles of 16×8`);
    const active = g.wm * g.wn;
    this.block(active < this.warps ? `if ((lid >> 5) < ${i(active)})` : '', () => {
      const names = this.matmulConsts(s);
      const mt = this.fresh('mt');
      const nt = this.fresh('nt');
      const gr = this.fresh('g');
      const tg = this.fresh('tg');
      this.emit(`${aRegs ? '[[maybe_unused]] ' : ''}${this.declConst(mt, 'i32', `(lid >> 5) / ${i(g.wn)} * ${i(g.ma)}`)}`);
      this.emit(this.declConst(nt, 'i32', `(lid >> 5) % ${i(g.wn)} * ${i(g.nb)}`));
      // (ldmatrix loads address by lane: g and t may go unused.)
      const lanes = half && (this.halfTiles.has(s.a.tile) || this.halfTiles.has(s.b.tile) || aRegs) ? '[[maybe_unused]] ' : '';
      this.emit(`${lanes}${this.declConst(gr, 'i32', '(lid & 31) >> 2')}`);
      this.emit(`${lanes}${this.declConst(tg, 'i32', 'lid & 3')}`);
      const tiles = g.ma * g.nb;
      const acc = inPlace ? this.regRef(s.dst.tile) : this.fresh('acc');
      if (!inPlace) this.emit(`float ${acc}[${tiles * 4}];`);
      const ia0 = this.fresh('z');
      if (!inPlace || s.acc === 'set') {
        this.emit('#pragma unroll');
        this.emit(`for (int ${ia0} = 0; ${ia0} < ${tiles * 4}; ${ia0} += 1) ${acc}[${ia0}] = 0.0f;`);
      }
      // Whole output tiles the mask removes (warp-uniform): the mma is skipped, the zeros stay.
      const masked = (a: string, b: string) =>
        s.mask === 'lower' ? `8 * (${nt} + ${b}) > 16 * (${mt} + ${a}) + 15` : `8 * (${nt} + ${b}) >= 16 * (${mt} + ${a}) + 15`;
      const x = this.fresh('x');
      const ia = this.fresh('a');
      const ib = this.fresh('b');
      // Element (r, c) of the operand after its transpose (indices parenthesised for at()).
      const A_ = (r: string, c: string) => (s.transA ? this.at(s.a.tile, `(${c})`, `(${r})`, names['a']) : this.at(s.a.tile, `(${r})`, `(${c})`, names['a']));
      const B_ = (r: string, c: string) => (s.transB ? this.at(s.b.tile, `(${c})`, `(${r})`, names['b']) : this.at(s.b.tile, `(${r})`, `(${c})`, names['b']));
      // Accumulator slot q of a row-owned A's 8-column tile x / 8, in its row tile ia.
      const aSlot = (ag: WarpGrid, ia: string, x: string, q: number) => `${this.regRef(s.a.tile)}[4 * (${ia} * ${i(ag.nb)} + (${x} >> 3)) + ${i(q)}]`;
      // Long k loops (nvcc leaves them rolled; it unrolls the short ones): two steps per iteration,
      // so the second step's fragment loads issue while the first's mma run.
      // Where ldmatrix loads both operands (one load per fragment), wholly: ptxas then fits the
      // flash kernel in 255 registers without spilling (with two steps per iteration it spilled).
      if (aRegs || (this.halfTiles.has(s.a.tile) && ldsmB)) this.emit('#pragma unroll');
      else if (kk >= 64) this.emit('#pragma unroll 2');
      this.block(this.forLoop(x, i(0), i(kk), i(kStep)), () => {
        const af = this.fresh('af');
        const bf = this.fresh('bf');
        this.emit(`unsigned ${af}[${g.ma}][4];`);
        this.emit(`unsigned ${bf}[${g.nb}][2];`);
        if (half) {
          // A pair of elements (r, c), (r, c + 1) of an operand after its transpose: one 8-byte
          // load where they are adjacent in the tile (along its rows, an even stride), else two.
          const pair = (tile: string, trans: boolean, el: (r: string, c: string) => string, r: string, c: string) => {
            const t = this.tiles.get(tile)!;
            if (!trans && this.rowStride(t) % 2 === 0) return `attnc_pack2_${half}(&${el(r, c)})`;
            return `attnc_pack_${half}(${el(r, c)}, ${el(r, `${c} + 1`)})`;
          };
          this.emit('#pragma unroll');
          this.block(this.forLoop(ia, i(0), i(g.ma), i(1)), () => {
            if (aRegs) {
              // Tiles 2·(x / 16) and the next of the accumulator: (g, 2t..2t+1), (g + 8, 2t..2t+1) each.
              const at = (q: number) => aSlot(aRegs, ia, x, q);
              [[0, 1], [2, 3], [4, 5], [6, 7]].forEach(([lo, hi], j) => this.emit(`${af}[${ia}][${j}] = attnc_pack_${half}(${at(lo!)}, ${at(hi!)});`));
              return;
            }
            if (this.halfTiles.has(s.a.tile)) {
              // One ldmatrix for the 16 × 16 fragment: matrices (rows 0–7, k 0–7), (8–15, 0–7),
              // (0–7, 8–15), (8–15, 8–15) are registers 0–3; lane l addresses row l % 8 of matrix l / 8.
              const m0 = `16 * (${mt} + ${ia})`;
              if (!s.transA) this.emit(`attnc_ldsm_x4(${af}[${ia}], &${A_(`${m0} + (lid & 15)`, `${x} + 8 * ((lid >> 4) & 1)`)});`);
              else this.emit(`attnc_ldsm_x4_trans(${af}[${ia}], &${this.at(s.a.tile, `(${x} + 8 * ((lid >> 4) & 1) + (lid & 7))`, `(${m0} + 8 * ((lid >> 3) & 1))`, names['a'])});`);
              return;
            }
            const row = `16 * (${mt} + ${ia}) + ${gr}`;
            const col = `${x} + 2 * ${tg}`;
            [[row, col], [`${row} + 8`, col], [row, `${col} + 8`], [`${row} + 8`, `${col} + 8`]].forEach(([r, c], j) => this.emit(`${af}[${ia}][${j}] = ${pair(s.a.tile, s.transA, A_, r!, c!)};`));
          });
          // B from a 16-bit tile: one ldmatrix for two 8-column tiles (x4: matrices k 0–7 and
          // 8–15 of tile ib, then of ib + 1), or for one (x2) where nb is odd; transposed where
          // the tile holds B's rows (k) along its rows, since a B register pairs two k of one column.
          const pairs = ldsmB && g.nb % 2 === 0;
          this.emit('#pragma unroll');
          this.block(this.forLoop(ib, i(0), i(g.nb), i(pairs ? 2 : 1)), () => {
            if (ldsmB) {
              const n0 = pairs ? `8 * (${nt} + ${ib} + ((lid >> 4) & 1))` : `8 * (${nt} + ${ib})`;
              const k0 = `${x} + 8 * ((lid >> 3) & 1)`;
              const addr = s.transB ? this.at(s.b.tile, `(${n0} + (lid & 7))`, `(${k0})`, names['b']) : this.at(s.b.tile, `(${k0} + (lid & 7))`, `(${n0})`, names['b']);
              this.emit(`attnc_ldsm_${pairs ? 'x4' : 'x2'}${s.transB ? '' : '_trans'}(${bf}[${ib}], &${addr});`);
              if (interleave) {
                for (let a = 0; a < g.ma; a++) for (const d of pairs ? [0, 1] : [0]) this.emit(`attnc_mma_${half}(${acc} + 4 * (${i(a * g.nb)} + ${ib} + ${d}), ${af}[${a}], ${bf}[${ib} + ${d}]);`);
              }
              return;
            }
            const col = `8 * (${nt} + ${ib}) + ${gr}`;
            // B's pairs run down its k (rows): adjacent in the tile when it is stored transposed.
            const Bk = (k: string, n: string) => B_(n, k);
            [`${x} + 2 * ${tg}`, `${x} + 2 * ${tg} + 8`].forEach((k, j) => this.emit(`${bf}[${ib}][${j}] = ${pair(s.b.tile, !s.transB, Bk, col, k)};`));
            // With A in registers and one row tile, each B fragment feeds its mma at once: the
            // B fragments of a step are not all held together (fewer registers live).
            if (interleave) this.emit(`attnc_mma_${half}(${acc} + 4 * ${ib}, ${af}[0], ${bf}[${ib}]);`);
          });
        } else {
        this.emit('#pragma unroll');
        this.block(this.forLoop(ia, i(0), i(g.ma), i(1)), () => {
          if (aRegs) {
            [0, 2, 1, 3].forEach((q, j) => this.emit(`${af}[${ia}][${j}] = attnc_tf32(${aSlot(aRegs, ia, x, q)});`));
            return;
          }
          const row = `16 * (${mt} + ${ia}) + ${gr}`;
          this.emit(`${af}[${ia}][0] = ${this.tf32Operand(s.a.tile, A_(row, `${x} + ${tg}`))};`);
          this.emit(`${af}[${ia}][1] = ${this.tf32Operand(s.a.tile, A_(`${row} + 8`, `${x} + ${tg}`))};`);
          this.emit(`${af}[${ia}][2] = ${this.tf32Operand(s.a.tile, A_(row, `${x} + ${tg} + 4`))};`);
          this.emit(`${af}[${ia}][3] = ${this.tf32Operand(s.a.tile, A_(`${row} + 8`, `${x} + ${tg} + 4`))};`);
        });
        this.emit('#pragma unroll');
        this.block(this.forLoop(ib, i(0), i(g.nb), i(1)), () => {
          const col = `8 * (${nt} + ${ib}) + ${gr}`;
          const [k0, k1] = aRegs ? [`${x} + 2 * ${tg}`, `${x} + 2 * ${tg} + 1`] : [`${x} + ${tg}`, `${x} + ${tg} + 4`];
          this.emit(`${bf}[${ib}][0] = ${this.tf32Operand(s.b.tile, B_(k0, col))};`);
          this.emit(`${bf}[${ib}][1] = ${this.tf32Operand(s.b.tile, B_(k1, col))};`);
        });
        }
        if (interleave) return;
        this.emit('#pragma unroll');
        this.block(this.forLoop(ia, i(0), i(g.ma), i(1)), () => {
          this.emit('#pragma unroll');
          this.block(this.forLoop(ib, i(0), i(g.nb), i(1)), () => {
            const call = `attnc_mma_${half ?? 'tf32'}(${acc} + 4 * (${ia} * ${i(g.nb)} + ${ib}), ${af}[${ia}], ${bf}[${ib}]);`;
            if (s.mask) this.block(`if (!(${masked(ia, ib)}))`, () => this.emit(call));
            else this.emit(call);
          });
        });
      });
      if (inPlace) return;
      // The accumulators into D.
      const sl = this.fresh('s');
      this.emit('#pragma unroll');
      this.block(this.forLoop(sl, i(0), i(tiles * 4), i(1)), () => {
        const r = this.fresh('r');
        const c = this.fresh('c');
        if (!reg || s.mask) {
          const at = this.fragmentElement(g, mt, nt, gr, tg, sl);
          this.emit(this.declConst(r, 'i32', at.r));
          this.emit(this.declConst(c, 'i32', at.c));
        }
        const target = reg ? `${this.regRef(s.dst.tile)}[${sl}]` : this.at(s.dst.tile, r, c, names['d']);
        const v = `${acc}[${sl}]`;
        const value = this.matmulUpdate(s, target, v, names);
        if (!s.mask) return this.emit(`${target} = ${value};`);
        const keep = s.mask === 'lower' ? `${c} <= ${r}` : `${c} < ${r}`;
        if (s.acc === 'set') this.emit(`${target} = ${this.select(keep, v, this.floatLit(0))};`);
        else this.block(`if (${keep})`, () => this.emit(`${target} = ${value};`));
      });
    });
  }

  /**
   * A matmul on warpgroup tensor cores (wgmma.ts): warpgroup G of the block issues, per step of 16
   * along the reduction, one m64nNk16 per row tile a of its warps (the 64 rows stored at
   * 64·(G·ma + a) of a shared A; the accumulators of row tile a are slots 4·a·nb … of the output),
   * A by descriptor or from the row-owned registers packed as for mma.sync, B by descriptor
   * (MN-major where it is not transposed). Then one commit and a wait: the output's registers are
   * read only after it (attnc_wgmma_hold).
   */
  private wgmmaMatmul(s: Extract<Stmt, { op: 'matmul' }>, g: WarpGrid): void {
    const { A, B, m, kk, n } = this.matmulShape(s);
    const half = this.halfOperands(s)!;
    const i = (v: number) => this.intLit(v);
    const aRegs = A.t.space === 'rows' ? this.rowsGrid(A.t) : undefined;
    const fn = wgmmaName(n, half, !!aRegs, !s.transB);
    this.wgmmaHelpers.set(fn, wgmmaHelper(n, half, !!aRegs, !s.transB));
    const cs = (t: TileDecl) => coreStride(t.cols, this.rowStride(t));
    const op = s.acc === 'set' ? '=' : '+=';
    this.emit(`// ${s.dst.tile} ${op} ${s.a.tile} · ${s.b.tile}${s.transB ? 'ᵀ' : ''}: ${m}×${n}×${kk} on warpgroup tensor cores (wgmma m64n${n}k16, ${half} operands${aRegs ? ', A from registers' : ''}), ${g.ma} row tile${g.ma > 1 ? 's' : ''} a warp`);
    this.block('', () => {
      const desc = (t: TileDecl, kMajor: boolean, base: string) => {
        const { lbo, sbo } = descriptorOffsets(t.cols, cs(t), kMajor);
        return `attnc_wgmma_desc(${base}, ${lbo}u, ${sbo}u)`;
      };
      const db = this.fresh('db');
      this.emit(`const unsigned long long ${db} = ${desc(B.t, s.transB, this.tileRef(B.t.name))};`);
      const da = this.fresh('da');
      // A shared A: warpgroup G's rows start at stored row 64·G·ma.
      if (!aRegs) this.emit(`const unsigned long long ${da} = ${desc(A.t, true, `${this.tileRef(A.t.name)} + (lid >> 7) * ${i((64 * g.ma * (A.t.cols / 8) * cs(A.t)) / 8)}`)};`);
      const x = this.fresh('x');
      const ia = this.fresh('a');
      // A from registers: every fragment packed before the first instruction (packed between
      // them, ptxas fences each instruction's registers again).
      const af = this.fresh('af');
      const steps = kk / 16;
      if (aRegs) {
        const at = (q: number) => `${this.regRef(s.a.tile)}[4 * (${ia} * ${i(aRegs.nb)} + (${x} >> 3)) + ${i(q)}]`;
        this.emit(`unsigned ${af}[${g.ma * steps}][4];`);
        this.emit('#pragma unroll');
        this.block(this.forLoop(x, i(0), i(kk), i(16)), () => {
          this.emit('#pragma unroll');
          this.block(this.forLoop(ia, i(0), i(g.ma), i(1)), () => {
            [[0, 1], [2, 3], [4, 5], [6, 7]].forEach(([lo, hi], j) => this.emit(`${af}[${ia} * ${i(steps)} + ${x} / 16][${j}] = attnc_pack_${half}(${at(lo!)}, ${at(hi!)});`));
          });
        });
      }
      // The registers the instructions read (an accumulating output's, A's), fenced for the compiler
      // first (see attnc_wgmma_hold).
      const z0 = this.fresh('z');
      const slots = 4 * g.ma * g.nb;
      if (s.acc !== 'set') {
        this.emit('#pragma unroll');
        this.emit(`for (int ${z0} = 0; ${z0} < ${slots}; ${z0} += 1) attnc_wgmma_hold(${this.regRef(s.dst.tile)}[${z0}]);`);
      }
      if (aRegs) {
        this.emit('#pragma unroll');
        this.emit(`for (int ${z0} = 0; ${z0} < ${4 * g.ma * steps}; ${z0} += 1) attnc_wgmma_hold(${af}[${z0} >> 2][${z0} & 3]);`);
      }
      this.emit('attnc_wgmma_fence();');
      this.emit('#pragma unroll');
      this.block(this.forLoop(x, i(0), i(kk), i(16)), () => {
        // Bytes (÷16: the descriptor's unit) from B's start to its step x.
        const bStep = s.transB ? coreByteOffset(0, 8, B.t.cols, cs(B.t)) : coreByteOffset(8, 0, B.t.cols, cs(B.t));
        const bAt = `${db} + (unsigned long long)((${x} / 8) * ${i(bStep / 16)})`;
        const accumulate = s.acc === 'add' ? '1' : `${x} > 0`;
        this.emit('#pragma unroll');
        this.block(this.forLoop(ia, i(0), i(g.ma), i(1)), () => {
          const d = `${this.regRef(s.dst.tile)} + 4 * ${ia} * ${i(g.nb)}`;
          if (aRegs) return this.emit(`${fn}(${d}, ${af}[${ia} * ${i(steps)} + ${x} / 16], ${bAt}, ${accumulate});`);
          const rowBlock = coreByteOffset(64, 0, A.t.cols, cs(A.t));
          const kStep = coreByteOffset(0, 8, A.t.cols, cs(A.t));
          this.emit(`${fn}(${d}, ${da} + (unsigned long long)(${ia} * ${i(rowBlock / 16)} + (${x} / 8) * ${i(kStep / 16)}), ${bAt}, ${accumulate});`);
        });
      });
      this.emit('attnc_wgmma_commit();');
      this.emit('attnc_wgmma_wait();');
      const z = this.fresh('z');
      this.emit('#pragma unroll');
      this.emit(`for (int ${z} = 0; ${z} < ${slots}; ${z} += 1) attnc_wgmma_hold(${this.regRef(s.dst.tile)}[${z}]);`);
    });
  }

  render(): string[] {
    return this.body();
  }
}

/** Tiles the body reads or writes (shared with the WGSL backend and the planner). */
export { usedTiles };

/** Buffers a kernel body stores to. */
export function writtenBuffers(body: Stmt[]): Set<string> {
  const out = new Set<string>();
  forEachStmt(body, (s) => {
    if (s.op === 'store') out.add(s.dst.buf);
  });
  return out;
}

export interface EmitOptions {
  /** Struct type of the uniform params. */
  paramsType: string;
  /** Prefix of the kernel symbols (default `attnc_`). */
  symbolPrefix?: string;
  /** Shared memory a block may have (the profile's limit): row padding is added only within it. */
  sharedLimit?: number;
  /** The profile's per-SM shared memory and registers: the launch bounds' minimum blocks per SM. */
  unit?: { sharedBytes: number; registers: number };
}

/** A map's one global load, printed as 16-byte loads: the load, its column offset Y, elements per load. */
interface VectorLoad {
  ld: Extract<SExpr, { k: 'ld' }>;
  y?: SExpr;
  width: number;
}

/** Raw registers a load group may hold in flight (4 per 16-byte load per thread). */
const MAX_GROUP_REGISTERS = 64;
/**
 * Raw registers a load group issued one iteration ahead may hold across its loop (pipelinedGroup).
 * From ptxas at 128 registers a thread (two blocks of 256 per SM) over the stdlib's chunk kernels:
 * RetNet's and simple GLA's 25 words (v, q, k, weights, gates) fit; GLA's and HGRN2's 28 (with the
 * vector gate's slice) spilled 96–104 bytes.
 */
const PIPELINED_REGISTERS = 25;
/**
 * Bytes of shared ring a pipelined loop may take for its loads in flight (Kernel.prefetchDepth),
 * in dynamic shared memory after the kernel's tiles (and within the profile's limit).
 */
const RING_BYTES = 96 * 1024;
/**
 * The share of an SM's shared memory (the rest is its L1 cache) that its blocks may fill with
 * their tiles and load rings. Measured on an H200 (2026-12-07, bf16, H=16, K=V=128, B=4 T=4096 /
 * B=1 T=16384, the state kernel by torch.profiler): rings of 2 slots took GLA's state kernel from
 * 0.515 / 0.822 ms to 0.465 / 0.677 (4 blocks of 31 KB an SM) and linear attention's (3 slots)
 * from 0.415 / 0.561 to 0.384 / 0.517, but RetNet's state-and-output kernel from 0.441 / 1.064 to
 * 0.455 / 1.200 (2 blocks of 110 KB: 220 of the SM's 228 KB).
 */
const RING_UNIT_SHARE = 0.6;
/** A ring of prefetched chunks (pipelinedLoop): its slot count and the variable naming this iteration's slot. */
type Ring = { depth: number; slot: string };
/** A load group: maps that fill shared tiles from 16-byte (or single) loads, with their loops' trip counts and the raw words they hold. */
type LoadGroup = { s: Extract<Stmt, { op: 'map' }>; vec: VectorLoad; trips: number; words: number }[];

/** Print one kernel as an `extern "C" __global__` function. */
export function emitCudaKernel(k: Kernel, o: EmitOptions): CudaKernel {
  const p = new CudaPrinter(k, o.sharedLimit ?? STATIC_SHARED_LIMIT, o.unit);
  const body = p.render();
  const text = body.join('\n');
  const uses = (name: string) => new RegExp(`\\b${name}\\b`).test(text);
  const written = writtenBuffers(k.body);
  const buffers: CudaBufferArg[] = k.buffers.map((b) => ({ name: b.name, dtype: b.dtype, ctype: ctypeOf(b.dtype), readOnly: !written.has(b.name) }));
  const { shared, offsets, bytes: sharedBytes } = p.sharedLayout();
  const used = usedTiles(k.body);
  const unusedShared = k.tiles.filter((t) => t.space === 'shared' && !used.has(t.name));
  const elementType = (t: TileDecl) => ctypeOf(p.sharedType(t));
  // Load rings (pipelinedLoop) follow the tiles in dynamic shared memory.
  const dynamic = sharedBytes > STATIC_SHARED_LIMIT || p.ringBytes > 0;
  const totalShared = p.ringBytes ? p.ringBase() * 4 + p.ringBytes : sharedBytes;
  const pad = (t: TileDecl) => (p.rowStride(t) !== t.cols ? `, rows ${p.rowStride(t)} ${p.sharedType(t) === 'f32' ? 'words' : 'elements'} apart` : '') + (p.sharedType(t) === 'f32' ? '' : `, ${p.sharedType(t)}`);
  const registers = k.tiles.filter((t) => t.space !== 'shared').map((t) => ({ name: t.name, size: p.registerSlots(t) }));
  const symbol = `${o.symbolPrefix ?? 'attnc_'}${k.name}`;
  // Launch bounds (threads, minBlocks): without a minimum, CUDA 13's ptxas capped the chunk kernels
  // near 80–128 registers and they spilled; with 1, it may take so many that one block fits an SM.
  const minBlocks = p.minBlocks(totalShared);
  const lines: string[] = [];
  lines.push(`// ${k.name}: ${k.doc}`);
  lines.push(`// ${k.threads} threads per block; ${sharedBytes} bytes of shared tiles (${dynamic ? 'dynamic' : 'static'})${p.ringBytes ? ` and ${p.ringBytes} of load rings` : ''}${registers.length ? `; register tiles ${registers.map((r) => `${r.name}[${r.size}]`).join(', ')} per thread` : ''}`);
  if (unusedShared.length) lines.push(`// not allocated (they only give a store its shape): ${unusedShared.map((t) => `${t.name}[${t.rows}, ${t.cols}]`).join(', ')}`);
  const args = [`const ${o.paramsType} prm`, ...buffers.map((b) => `${b.readOnly ? 'const ' : ''}${b.ctype}* __restrict__ ${b.name}`)];
  lines.push(`extern "C" __global__ void __launch_bounds__(${k.threads}, ${minBlocks}) ${symbol}(`);
  lines.push(args.map((a) => `    ${a}`).join(',\n') + ') {');
  if (uses('lid')) lines.push('  const int lid = (int)threadIdx.x;');
  for (const prm of k.params) {
    const t = prm.type === 'f32' ? 'float' : 'int';
    if (uses(prm.name)) lines.push(`  const ${t} ${prm.name} = prm.${prm.name};`);
  }
  if (dynamic) {
    lines.push('  extern __shared__ __align__(16) float attnc_smem[];');
    shared.forEach((t, j) => {
      const at = `attnc_smem + ${offsets[j]}`;
      const ty = elementType(t);
      lines.push(`  ${ty}* const ${t.name} = ${ty === 'float' ? at : `reinterpret_cast<${ty}*>(${at})`};  // [${t.rows}, ${t.cols}]${pad(t)}`);
    });
  } else for (const t of shared) lines.push(`  __shared__ __align__(16) ${elementType(t)} ${t.name}[${t.rows * p.rowStride(t)}];  // [${t.rows}, ${t.cols}]${pad(t)}`);
  for (const r of registers) lines.push(`  float ${r.name}[${r.size}];`);
  lines.push(...body);
  lines.push('}');
  return {
    name: k.name,
    symbol,
    code: lines.join('\n') + '\n',
    threads: k.threads,
    minBlocks,
    sharedBytes,
    dynamicSharedBytes: dynamic ? totalShared : 0,
    unusedSharedBytes: unusedShared.reduce((s, t) => s + t.rows * t.cols * 4, 0),
    registerWords: registers.reduce((s, r) => s + r.size, 0),
    buffers,
    wgmmaHelpers: [...p.wgmmaHelpers.values()],
  };
}
