/**
 * Warpgroup tensor-core matmuls (sm_90a's wgmma.mma_async, PTX ISA §9.7.15): a warpgroup of 4
 * warps computes a 64 × N × 16 product per instruction, B (and A, unless it comes from registers)
 * read straight from shared memory through 64-bit matrix descriptors. backends/cuda/emit.ts decides
 * which matmuls of a kernel take this path (Kernel.warpgroupMma) and prints them; this file holds
 * the facts of the instruction: the shared layout its operands need, the descriptors, and the
 * device helpers.
 *
 * The layout ("no swizzle", the ISA's canonical interleaved layout): a 16-bit tile is made of
 * core matrices of 8 rows × 8 elements, each 128 contiguous bytes (row after row of 16 bytes).
 * Core matrix (R / 8, c / 8) starts at element ((R / 8)·(C / 8) + c / 8)·cs, where cs is 64 or,
 * with the 8 elements of padding this backend adds, 72: 16-byte copies of 8 consecutive core
 * matrices along a row then fall on 8 distinct groups of 4 banks (at 64 they would all meet on
 * one). The same layout serves both ways the instruction reads an operand: K-major (the tile's
 * rows are M or N, its columns the reduction: Q, and K under a transpose) with the leading byte
 * offset (LBO, between core matrices along the reduction) cs and the stride byte offset (SBO,
 * along M/N) (C / 8)·cs; MN-major (the rows are the reduction: V) with the two swapped.
 *
 * Rows: an instruction gives warp w of its warpgroup rows 16·w … 16·w + 15 of its 64, while the
 * printer's row-owned tiles give warp w the rows 16·w·ma … of all ma of its row tiles. An A
 * operand read from shared memory is therefore stored with its rows permuted (wgRow): row
 * 16·(w·ma + a) + x of the tile sits at 64·(g·ma + a) + 16·(w mod 4) + x, g = w / 4 the
 * warpgroup, so that instruction (g, a) over those 64 stored rows yields exactly the rows the
 * accumulator fragments hold.
 */

/** Elements between consecutive core matrices along a row: 64, or 72 with the row padding. */
export function coreStride(cols: number, rowStride: number): number {
  return (64 * rowStride) / cols;
}

/** Row padding (elements) the layout takes: 8 per core matrix along the row. */
export function corePad(cols: number): number {
  return cols / 8;
}

/** Element (r, c) of a tile in the core-matrix layout (index expressions as C strings). */
export function coreIndex(r: string, c: string, cols: number, cs: number): string {
  return `attnc_core_at(${r}, ${c}, ${cols / 8}, ${cs})`;
}

/** The stored row of row r of an A operand whose accumulator rows span ma row tiles a warp. */
export function wgRow(r: string, ma: number): string {
  return `attnc_wg_row(${r}, ${ma})`;
}

/** Leading and stride byte offsets of a 16-bit tile read K-major (rows M/N) or MN-major (rows: the reduction). */
export function descriptorOffsets(cols: number, cs: number, kMajor: boolean): { lbo: number; sbo: number } {
  const along = 2 * cs;
  const down = 2 * (cols / 8) * cs;
  return kMajor ? { lbo: along, sbo: down } : { lbo: down, sbo: along };
}

/** Bytes from a tile's start to element (r, c), r and c multiples of 8. */
export function coreByteOffset(r: number, c: number, cols: number, cs: number): number {
  return 2 * ((r / 8) * (cols / 8) + c / 8) * cs;
}

/** N of m64nNk16 with f32 accumulators: multiples of 8 up to 256. */
export function wgmmaN(n: number): boolean {
  return n % 8 === 0 && n >= 8 && n <= 256;
}

/** Name of the helper issuing one m64nNk16 instruction. */
export function wgmmaName(n: number, half: 'bf16' | 'f16', aRegs: boolean, transB: boolean): string {
  return `attnc_wgmma_m64n${n}k16_${half}_${aRegs ? 'rs' : 'ss'}${transB ? '_tb' : ''}`;
}

/**
 * The helper issuing one m64nNk16 instruction: d (N/2 f32 accumulators) = A·B + (acc ? d : 0),
 * A by descriptor (`ss`) or from 4 registers of 16-bit pairs (`rs`), B by descriptor, MN-major
 * where `transB` (imm-trans-b 1). Asynchronous: the caller fences, commits and waits.
 */
export function wgmmaHelper(n: number, half: 'bf16' | 'f16', aRegs: boolean, transB: boolean): string {
  const regs = n / 2;
  const d = Array.from({ length: regs }, (_, i) => `%${i}`).join(', ');
  const outs = Array.from({ length: regs }, (_, i) => `"+f"(d[${i}])`).join(', ');
  const a = aRegs ? `{%${regs}, %${regs + 1}, %${regs + 2}, %${regs + 3}}` : `%${regs}`;
  const b = aRegs ? regs + 4 : regs + 1;
  const scale = b + 1;
  const imm = aRegs ? `1, 1, ${transB ? 1 : 0}` : `1, 1, 0, ${transB ? 1 : 0}`;
  const ins = aRegs ? `"r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(db), "r"(acc)` : `"l"(da), "l"(db), "r"(acc)`;
  const aArg = aRegs ? 'const unsigned* a' : 'unsigned long long da';
  return [
    `__device__ __forceinline__ void ${wgmmaName(n, half, aRegs, transB)}(float* d, ${aArg}, unsigned long long db, int acc) {`,
    '#ifdef ATTNC_NO_WGMMA',
    '  __trap();',
    '#else',
    `  asm volatile("{\\n.reg .pred p;\\nsetp.ne.b32 p, %${scale}, 0;\\nwgmma.mma_async.sync.aligned.m64n${n}k16.f32.${half}.${half} {${d}}, ${a}, %${b}, p, ${imm};\\n}\\n"`,
    `               : ${outs}`,
    `               : ${ins});`,
    '#endif',
    '}',
  ].join('\n');
}

/** Helpers every kernel with warpgroup matmuls needs (the layout, descriptors, fences). */
export const WGMMA_HELPERS = `// Warpgroup MMA (sm_90a): the core-matrix layout of its 16-bit operand tiles (backends/cuda/wgmma.ts),
// a tile's descriptor (start, leading and stride byte offsets; no swizzle), and the fences.
__device__ __forceinline__ int attnc_core_at(int r, int c, int blocks, int cs) { return ((r >> 3) * blocks + (c >> 3)) * cs + ((r & 7) << 3) + (c & 7); }
__device__ __forceinline__ int attnc_wg_row(int r, int ma) {
  const int t = r >> 4, w = t / ma, a = t - w * ma;
  return 64 * ((w >> 2) * ma + a) + 16 * (w & 3) + (r & 15);
}
__device__ __forceinline__ unsigned long long attnc_wgmma_desc(const void* p, unsigned lbo, unsigned sbo) {
  const unsigned a = (unsigned)__cvta_generic_to_shared(p);
  return (unsigned long long)((a & 0x3FFFFu) >> 4) | ((unsigned long long)(lbo >> 4) << 16) | ((unsigned long long)(sbo >> 4) << 32);
}
#ifdef ATTNC_NO_WGMMA
__device__ __forceinline__ void attnc_wgmma_fence() { __trap(); }
__device__ __forceinline__ void attnc_wgmma_commit() {}
__device__ __forceinline__ void attnc_wgmma_wait() {}
#else
__device__ __forceinline__ void attnc_wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;" ::: "memory"); }
__device__ __forceinline__ void attnc_wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory"); }
__device__ __forceinline__ void attnc_wgmma_wait() { asm volatile("wgmma.wait_group.sync.aligned 0;" ::: "memory"); }
#endif
// Compiler fences on the instructions' registers (CUTLASS's warpgroup_fence_operand): before
// wgmma.fence, so that the writes of the accumulators and of A's packed words are not moved past
// it; after the wait, so that no read of an accumulator moves above it.
__device__ __forceinline__ void attnc_wgmma_hold(float& x) { asm volatile("" : "+f"(x) :: "memory"); }
__device__ __forceinline__ void attnc_wgmma_hold(unsigned& x) { asm volatile("" : "+r"(x) :: "memory"); }
// Shared memory written by the threads (st.shared, cp.async) made visible to the instruction's
// reads (the async proxy), before the barrier that publishes it.
__device__ __forceinline__ void attnc_fence_async_shared() { asm volatile("fence.proxy.async.shared::cta;" ::: "memory"); }`;

/**
 * wgmma exists only on sm_90a. `nvcc -arch=sm_90a` also compiles the file for compute_90 (the PTX
 * it embeds for other GPUs): there the instructions are replaced by a trap, so that a GPU without
 * them stops at the first launch instead of computing garbage; the H100 runs the sm_90a binary.
 */
export const WGMMA_ARCH_CHECK = `#if defined(__CUDA_ARCH__) && !defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define ATTNC_NO_WGMMA 1  // compute_90 PTX: build for sm_90a (nvcc -arch=sm_90a; PyTorch: TORCH_CUDA_ARCH_LIST=9.0a)
#endif`;
