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
import { forEachStmt, usedTiles } from '../../compiler/kernel-ir/analysis.ts';
import type { BufferDecl, Dtype, Kernel, Stmt } from '../../compiler/kernel-ir/types.ts';
import { CLikePrinter } from '../clike/printer.ts';
import type { CType } from '../clike/types.ts';

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

/** Device helpers every kernel file carries (inline: unused ones cost nothing). */
export const DEVICE_HELPERS = `__device__ __forceinline__ float attnc_sigmoid(float x) {
  if (x >= 0.0f) return 1.0f / (1.0f + expf(-x));
  const float e = expf(x);
  return e / (1.0f + e);
}
__device__ __forceinline__ float attnc_softplus(float x) { return fmaxf(x, 0.0f) + log1pf(expf(-fabsf(x))); }
__device__ __forceinline__ float attnc_logsigmoid(float x) { return fminf(x, 0.0f) - log1pf(expf(-fabsf(x))); }
__device__ __forceinline__ float attnc_silu(float x) { return x * attnc_sigmoid(x); }
__device__ __forceinline__ float attnc_elu(float x) { return x > 0.0f ? x : expm1f(x); }
__device__ __forceinline__ float attnc_abs(float x) { return fabsf(x); }
__device__ __forceinline__ int attnc_abs(int x) { return x < 0 ? -x : x; }
__device__ __forceinline__ float attnc_min(float a, float b) { return fminf(a, b); }
__device__ __forceinline__ int attnc_min(int a, int b) { return a < b ? a : b; }
__device__ __forceinline__ float attnc_max(float a, float b) { return fmaxf(a, b); }
__device__ __forceinline__ int attnc_max(int a, int b) { return a > b ? a : b; }
__device__ __forceinline__ int attnc_clamp(int x, int lo, int hi) { return x < lo ? lo : (x > hi ? hi : x); }
__device__ __forceinline__ float attnc_load(const __half* p, int i) { return __half2float(p[i]); }
__device__ __forceinline__ float attnc_load(const __nv_bfloat16* p, int i) { return __bfloat162float(p[i]); }
__device__ __forceinline__ void attnc_store(__half* p, int i, float x) { p[i] = __float2half_rn(x); }
__device__ __forceinline__ void attnc_store(__nv_bfloat16* p, int i, float x) { p[i] = __float2bfloat16_rn(x); }`;

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

class CudaPrinter extends CLikePrinter {
  readonly eagerSelect = false;

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
  forLoop(v: string, from: string, to: string, step: string): string {
    return `for (int ${v} = ${from}; ${v} < ${to}; ${v} += ${step})`;
  }
  barrier(): string {
    return '__syncthreads();';
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
      case 'exp2':
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
   * A matmul into a register tile (the output accumulators): when the output width n divides the
   * block, thread lid owns column c = lid % n and rows lid / n + s·(T / n) — exactly its register
   * slots s — so the reduction runs outermost and every product goes straight into its slot:
   * one B element per step, reused across the slots, and a small unrolled body (fast to compile,
   * the tile never leaves registers). Other shapes take the shared printer's path.
   */
  protected override matmulOp(s: Extract<Stmt, { op: 'matmul' }>): void {
    const { A, B, D, m, kk, n } = this.matmulShape(s);
    const fits = D.t.space === 'register' && !s.mask && !D.r0 && D.rows === m && D.t.cols === n && this.T % n === 0;
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
}

/** Print one kernel as an `extern "C" __global__` function. */
export function emitCudaKernel(k: Kernel, o: EmitOptions): CudaKernel {
  const p = new CudaPrinter(k);
  const body = p.render();
  const text = body.join('\n');
  const uses = (name: string) => new RegExp(`\\b${name}\\b`).test(text);
  const written = writtenBuffers(k.body);
  const buffers: CudaBufferArg[] = k.buffers.map((b) => ({ name: b.name, dtype: b.dtype, ctype: ctypeOf(b.dtype), readOnly: !written.has(b.name) }));
  const used = usedTiles(k.body);
  const shared = k.tiles.filter((t) => t.space === 'shared' && used.has(t.name));
  const unusedShared = k.tiles.filter((t) => t.space === 'shared' && !used.has(t.name));
  const sharedBytes = shared.reduce((s, t) => s + t.rows * t.cols * 4, 0);
  const dynamic = sharedBytes > STATIC_SHARED_LIMIT;
  const registers = k.tiles.filter((t) => t.space === 'register').map((t) => ({ name: t.name, size: Math.ceil((t.rows * t.cols) / k.threads) }));
  const symbol = `${o.symbolPrefix ?? 'attnc_'}${k.name}`;
  // Launch bounds (threads, 1): ptxas may use up to 255 registers (with `__launch_bounds__(256)`
  // alone, CUDA 13's ptxas capped the chunk kernels near 80–128 registers, and they spilled).
  const minBlocks = 1;
  const lines: string[] = [];
  lines.push(`// ${k.name}: ${k.doc}`);
  lines.push(`// ${k.threads} threads per block; ${sharedBytes} bytes of shared tiles (${dynamic ? 'dynamic' : 'static'})${registers.length ? `; register tiles ${registers.map((r) => `${r.name}[${r.size}]`).join(', ')} per thread` : ''}`);
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
    lines.push('  extern __shared__ float attnc_smem[];');
    let off = 0;
    for (const t of shared) {
      lines.push(`  float* const ${t.name} = attnc_smem + ${off};  // [${t.rows}, ${t.cols}]`);
      off += t.rows * t.cols;
    }
  } else for (const t of shared) lines.push(`  __shared__ float ${t.name}[${t.rows * t.cols}];  // [${t.rows}, ${t.cols}]`);
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
    dynamicSharedBytes: dynamic ? sharedBytes : 0,
    unusedSharedBytes: unusedShared.reduce((s, t) => s + t.rows * t.cols * 4, 0),
    registerWords: registers.reduce((s, r) => s + r.size, 0),
    buffers,
  };
}
