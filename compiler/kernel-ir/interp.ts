/**
 * The kernel-IR interpreter: runs a program's kernels on the CPU in float64, workgroup by
 * workgroup, with the tile semantics the backends implement. It is strict, so that indexing and
 * masking mistakes surface as errors instead of wrong numbers:
 *   - every buffer read and write is bounds-checked;
 *   - tiles start uninitialised; reading an element nobody wrote is an error;
 *   - a tile op that reads a shared tile another op wrote since the last barrier (or overwrites
 *     one read since then) is a missing-barrier error (register tiles are per-thread: an op may
 *     touch them only at the elements its thread owns, which is checked instead; row-owned tiles
 *     likewise, at the row the op writes);
 *   - a map may read its destination only at the element it writes.
 */
import { binaryOps, unaryOps } from '../interp/eval.ts';
import { blocksOverlap, tileBlocks, usesVar, type RowBlock } from './analysis.ts';
import { printSExpr } from './print.ts';
import type { Kernel, Program, SExpr, Stmt, TileDecl, TileRef } from './types.ts';

export class KernelError extends Error {
  override name = 'KernelError';
}

interface Tile {
  decl: TileDecl;
  data: Float64Array;
  init: Uint8Array;
}

/** Register tiles are spread over threads: an op may touch them only at the element it owns. */
function registerReads(e: SExpr, regs: Set<string>, out: Set<string> = new Set()): Set<string> {
  switch (e.k) {
    case 'tile':
      if (regs.has(e.tile)) out.add(e.tile);
      registerReads(e.r, regs, out);
      registerReads(e.c, regs, out);
      break;
    case 'un':
      registerReads(e.a, regs, out);
      break;
    case 'bin':
      registerReads(e.a, regs, out);
      registerReads(e.b, regs, out);
      break;
    case 'sel':
      registerReads(e.c, regs, out);
      registerReads(e.a, regs, out);
      registerReads(e.b, regs, out);
      break;
    case 'fold':
      registerReads(e.body, regs, out);
      break;
    case 'ld':
      registerReads(e.idx, regs, out);
      break;
    default:
  }
  return out;
}

/**
 * Reads of row-owned tiles ('rows') in an expression evaluated for element (r, c) of a tile with
 * `cols` columns: each must be at row r, and at column c of a tile as wide, column 0 of a
 * one-column tile, or the variable of an enclosing fold over the whole row. Returns what breaks it.
 */
function rowsReadProblem(e: SExpr, rows: ReadonlyMap<string, TileDecl>, cols: number, folds: Map<string, number> = new Map()): string | undefined {
  const sub = (...xs: SExpr[]) => {
    for (const y of xs) {
      const p = rowsReadProblem(y, rows, cols, folds);
      if (p) return p;
    }
    return undefined;
  };
  switch (e.k) {
    case 'tile': {
      const t = rows.get(e.tile);
      if (t) {
        if (!(e.r.k === 'var' && e.r.name === 'r')) return `reads row-owned tile ${e.tile} at a row other than its own`;
        const atC = e.c.k === 'var' && e.c.name === 'c' && t.cols === cols;
        const at0 = e.c.k === 'const' && e.c.v === 0 && t.cols === 1;
        const whole = e.c.k === 'var' && folds.get(e.c.name) === t.cols;
        if (!atC && !at0 && !whole) return `reads row-owned tile ${e.tile} at a column other than its own element, column 0 of a column, or a fold over the whole row`;
      }
      return sub(e.r, e.c);
    }
    case 'un':
      return sub(e.a);
    case 'bin':
      return sub(e.a, e.b);
    case 'sel':
      return sub(e.c, e.a, e.b);
    case 'ld':
      return sub(e.idx);
    case 'fold': {
      const inner = new Map(folds);
      if (e.from.k === 'const' && e.from.v === 0 && e.to.k === 'const') inner.set(e.v, e.to.v);
      else inner.delete(e.v);
      return rowsReadProblem(e.body, rows, cols, inner) ?? sub(e.from, e.to);
    }
    default:
      return undefined;
  }
}

/** Row-owned tiles: ops touch them only as the rows' owner groups can (see kernel-ir/types.ts). */
function checkRowsUse(s: Stmt, x: Ctx): void {
  const rows = x.rowTiles;
  if (!rows.size) return;
  const bad = (why: string) => {
    throw new KernelError(`kernel ${x.kernel.name}: ${why}`);
  };
  const readsAny = (e: SExpr) => [...registerReads(e, new Set(rows.keys()))];
  const into = (dst: string, r0: boolean, e: SExpr, what: string) => {
    const read = readsAny(e);
    if (!read.length) return;
    const d = rows.get(dst);
    if (!d || r0) return bad(`${what} reads row-owned tile ${read[0]} but is not into a whole row-owned tile`);
    for (const t of read) if (rows.get(t)!.rows !== d.rows) bad(`${what} reads row-owned tile ${t} of another row count`);
    const p = rowsReadProblem(e, rows, d.cols);
    if (p) bad(`${what} ${p}`);
  };
  if (s.op === 'map') {
    if (rows.has(s.dst.tile) && (s.dst.r0 || s.dst.rows !== undefined)) bad(`map writes a view of row-owned tile ${s.dst.tile}`);
    into(s.dst.tile, !!s.dst.r0 || s.dst.rows !== undefined, s.expr, `map into ${s.dst.tile}`);
  } else if (s.op === 'store') into(s.src, false, s.value, `store of ${s.src}`);
  else if (s.op === 'matmul') {
    if (rows.has(s.b.tile)) bad(`matmul into ${s.dst.tile}: its B operand is row-owned tile ${s.b.tile}`);
    if (rows.has(s.a.tile)) {
      const d = rows.get(s.dst.tile);
      if (!d || s.transA || s.a.r0 || s.dst.r0 || d.rows !== rows.get(s.a.tile)!.rows) bad(`matmul into ${s.dst.tile}: row-owned A operand ${s.a.tile} needs an untransposed whole tile and a row-owned output of its rows`);
    }
    if (rows.has(s.dst.tile) && (s.dst.r0 || s.mask || s.scale)) bad(`matmul into row-owned tile ${s.dst.tile} with a view, mask or scale`);
  } else if (s.op === 'reduce' || s.op === 'cumsum') {
    if (rows.has(s.src) || rows.has(s.dst)) bad(`${s.op} on a row-owned tile`);
  } else if (s.op === 'trisolve') {
    if (rows.has(s.a) || rows.has(s.b)) bad('trisolve on a row-owned tile');
  }
}

function checkRegisterUse(s: Stmt, x: Ctx): void {
  checkRowsUse(s, x);
  const regs = x.plainRegisters;
  if (!regs.size) return;
  const bad = (why: string) => {
    throw new KernelError(`kernel ${x.kernel.name}: ${why}`);
  };
  const decl = (n: string) => x.kernel.tiles.find((t) => t.name === n)!;
  if (s.op === 'map') {
    for (const t of registerReads(s.expr, regs)) {
      // Into a register tile or a whole shared tile of the same shape (the element each thread holds).
      if (t !== s.dst.tile && !(decl(t).rows === decl(s.dst.tile).rows && decl(t).cols === decl(s.dst.tile).cols && !s.dst.r0 && s.dst.rows === undefined)) bad(`map into ${s.dst.tile} reads register tile ${t} of another shape or owner`);
    }
  } else if (s.op === 'store') {
    for (const t of registerReads(s.value, regs)) if (t !== s.src) bad(`store of ${s.src} reads register tile ${t}`);
  } else if (s.op === 'matmul') {
    if (regs.has(s.a.tile) || regs.has(s.b.tile)) bad('a matmul operand is a register tile');
    if (regs.has(s.dst.tile) && s.dst.r0) bad('a matmul writes a view of a register tile');
  } else if (s.op === 'reduce' || s.op === 'cumsum') {
    if (regs.has(s.src) || regs.has(s.dst)) bad(`${s.op} on a register tile`);
  } else if (s.op === 'trisolve') {
    if (regs.has(s.a) || regs.has(s.b)) bad('trisolve on a register tile');
  }
}

interface Ctx {
  vars: Map<string, number>;
  wg: [number, number, number];
  tiles: Map<string, Tile>;
  buffers: Record<string, Float64Array>;
  kernel: Kernel;
  /** The kernel's register and row-owned tiles (held by their owner threads: they never race). */
  registers: Set<string>;
  /** Of those, the register tiles ('register') and the row-owned ones ('rows'), by name. */
  plainRegisters: Set<string>;
  rowTiles: ReadonlyMap<string, TileDecl>;
  /** Per-op tile reads (for the destination-read check of maps). */
  reading?: { tile: string; r: number; c: number; ok: boolean; regs?: boolean };
  /** Which workgroup wrote each buffer element during this dispatch (−1: none): workgroups cannot
   * see each other's writes within one dispatch, so a read of another's write is a race. */
  writers: Map<string, Int32Array>;
  wgIndex: number;
  /** Row blocks of shared tiles written and read since the last barrier, by op. */
  epochWrites: Epoch;
  epochReads: Epoch;
  opCounter: number;
}

type Fn = (x: Ctx) => number;

const extraUnary: Record<string, (x: number) => number> = { int: Math.trunc, float: (x) => x };
const extraBinary: Record<string, (a: number, b: number) => number> = { idiv: (a, b) => Math.trunc(a / b), mod: (a, b) => a % b };

function compile(e: SExpr, memo: Map<SExpr, Fn>): Fn {
  const hit = memo.get(e);
  if (hit) return hit;
  let f: Fn;
  switch (e.k) {
    case 'const': {
      const v = e.v;
      f = () => v;
      break;
    }
    case 'var': {
      const n = e.name;
      f = (x) => {
        const v = x.vars.get(n);
        if (v === undefined) throw new KernelError(`kernel ${x.kernel.name}: '${n}' is not defined`);
        return v;
      };
      break;
    }
    case 'wg': {
      const a = e.axis;
      f = (x) => x.wg[a];
      break;
    }
    case 'un': {
      const a = compile(e.a, memo);
      const op = (unaryOps as Record<string, (x: number) => number>)[e.fn] ?? extraUnary[e.fn]!;
      f = (x) => op(a(x));
      break;
    }
    case 'bin': {
      const a = compile(e.a, memo);
      const c = compile(e.b, memo);
      const op = (binaryOps as Record<string, (a: number, b: number) => number>)[e.fn] ?? extraBinary[e.fn]!;
      if (e.fn === 'and') f = (x) => (a(x) ? (c(x) ? 1 : 0) : 0);
      else if (e.fn === 'or') f = (x) => (a(x) ? 1 : c(x) ? 1 : 0);
      else f = (x) => op(a(x), c(x));
      break;
    }
    case 'sel': {
      const c = compile(e.c, memo);
      const a = compile(e.a, memo);
      const bb = compile(e.b, memo);
      // Only the chosen branch is evaluated: a guard may protect a read.
      f = (x) => (c(x) ? a(x) : bb(x));
      break;
    }
    case 'ld': {
      const idx = compile(e.idx, memo);
      const name = e.buf;
      f = (x) => {
        const buf = x.buffers[name];
        if (!buf) throw new KernelError(`kernel ${x.kernel.name}: buffer '${name}' is not bound`);
        const i = idx(x);
        if (!Number.isInteger(i) || i < 0 || i >= buf.length) throw new KernelError(`kernel ${x.kernel.name}: out-of-bounds read ${name}[${i}] (size ${buf.length}) in ${printSExpr(e)} at workgroup (${x.wg})`);
        const w = x.writers.get(name)?.[i];
        if (w !== undefined && w !== -1 && w !== x.wgIndex) throw new KernelError(`kernel ${x.kernel.name}: workgroup (${x.wg}) reads ${name}[${i}], which another workgroup wrote in the same dispatch (a race)`);
        return buf[i]!;
      };
      break;
    }
    case 'tile': {
      const r = compile(e.r, memo);
      const c = compile(e.c, memo);
      const name = e.tile;
      f = (x) => {
        const t = x.tiles.get(name);
        if (!t) throw new KernelError(`kernel ${x.kernel.name}: tile '${name}' is not declared`);
        const ri = r(x);
        const ci = c(x);
        if (!Number.isInteger(ri) || !Number.isInteger(ci) || ri < 0 || ci < 0 || ri >= t.decl.rows || ci >= t.decl.cols) {
          throw new KernelError(`kernel ${x.kernel.name}: tile read ${name}[${ri}, ${ci}] outside [${t.decl.rows}, ${t.decl.cols}] in ${printSExpr(e)}`);
        }
        const k = ri * t.decl.cols + ci;
        if (!t.init[k]) throw new KernelError(`kernel ${x.kernel.name}: tile ${name}[${ri}, ${ci}] is read before it is written`);
        if (x.reading && (x.reading.tile === name || (t.decl.space === 'register' && x.reading.regs)) && (x.reading.r !== ri || x.reading.c !== ci)) x.reading.ok = false;
        return t.data[k]!;
      };
      break;
    }
    case 'fold': {
      const from = compile(e.from, memo);
      const to = compile(e.to, memo);
      const body = compile(e.body, memo);
      const v = e.v;
      const fn = e.fn;
      f = (x) => {
        const a = from(x);
        const z = to(x);
        const saved = x.vars.get(v);
        let acc = fn === 'sum' ? 0 : fn === 'max' ? -Infinity : Infinity;
        for (let i = a; i < z; i++) {
          x.vars.set(v, i);
          const y = body(x);
          acc = fn === 'sum' ? acc + y : fn === 'max' ? Math.max(acc, y) : Math.min(acc, y);
        }
        if (saved === undefined) x.vars.delete(v);
        else x.vars.set(v, saved);
        return acc;
      };
      break;
    }
  }
  memo.set(e, f);
  return f;
}

export interface RunOptions {
  /** Report missing barriers (default true). */
  checkBarriers?: boolean;
}

export function runProgram(p: Program, buffers: Record<string, Float64Array>, params: Record<string, number>, opts: RunOptions = {}): void {
  for (const k of p.kernels) runKernel(k, buffers, params, opts);
}

export function runKernel(k: Kernel, buffers: Record<string, Float64Array>, params: Record<string, number>, opts: RunOptions = {}): void {
  const memo = new Map<SExpr, Fn>();
  const writers = new Map<string, Int32Array>();
  for (const [name, buf] of Object.entries(buffers)) writers.set(name, new Int32Array(buf.length).fill(-1));
  const base: Ctx = { vars: new Map(Object.entries(params)), wg: [0, 0, 0], tiles: new Map(), buffers, kernel: k, registers: new Set(k.tiles.filter((t) => t.space !== 'shared').map((t) => t.name)), plainRegisters: new Set(k.tiles.filter((t) => t.space === 'register').map((t) => t.name)), rowTiles: new Map(k.tiles.filter((t) => t.space === 'rows').map((t) => [t.name, t])), writers, wgIndex: 0, epochWrites: new Map(), epochReads: new Map(), opCounter: 0 };
  const grid = k.grid.map((g) => compile(g, memo)(base));
  for (const g of grid) if (!Number.isInteger(g) || g < 0) throw new KernelError(`kernel ${k.name}: grid size ${g}`);
  const check = opts.checkBarriers ?? true;
  for (let z = 0; z < grid[2]!; z++)
    for (let y = 0; y < grid[1]!; y++)
      for (let x = 0; x < grid[0]!; x++) {
        const ctx: Ctx = { ...base, vars: new Map(base.vars), wg: [x, y, z], wgIndex: (z * grid[1]! + y) * grid[0]! + x, tiles: new Map(), epochWrites: new Map(), epochReads: new Map(), opCounter: 0 };
        for (const t of k.tiles) ctx.tiles.set(t.name, { decl: t, data: new Float64Array(t.rows * t.cols), init: new Uint8Array(t.rows * t.cols) });
        exec(k.body, ctx, memo, check);
      }
}

function view(ref: TileRef, x: Ctx, memo: Map<SExpr, Fn>): { t: Tile; r0: number; rows: number } {
  const t = x.tiles.get(ref.tile);
  if (!t) throw new KernelError(`kernel ${x.kernel.name}: tile '${ref.tile}' is not declared`);
  const r0 = ref.r0 ? compile(ref.r0, memo)(x) : 0;
  const rows = ref.rows ?? t.decl.rows;
  if (r0 < 0 || r0 + rows > t.decl.rows) throw new KernelError(`kernel ${x.kernel.name}: view ${ref.tile}[${r0} ..+${rows}] outside ${t.decl.rows} rows`);
  return { t, r0, rows };
}

function get(v: { t: Tile; r0: number }, r: number, c: number, x: Ctx): number {
  const k = (v.r0 + r) * v.t.decl.cols + c;
  if (!v.t.init[k]) throw new KernelError(`kernel ${x.kernel.name}: tile ${v.t.decl.name}[${v.r0 + r}, ${c}] is read before it is written`);
  return v.t.data[k]!;
}

function set(v: { t: Tile; r0: number }, r: number, c: number, value: number): void {
  const k = (v.r0 + r) * v.t.decl.cols + c;
  v.t.data[k] = value;
  v.t.init[k] = 1;
}

function barrierCheck(s: Stmt, x: Ctx, on: boolean, memo: Map<SExpr, Fn>): void {
  checkRegisterUse(s, x);
  if (!on) return;
  const id = ++x.opCounter;
  // Register tiles are per-thread (checkRegisterUse above): only shared tiles can race. Views are
  // the rows they cover (tileBlocks, offsets evaluated here): ops on disjoint rows do not race.
  const shared = (bs: RowBlock[]) => bs.filter((t) => !x.registers.has(t.tile)).map((t): RowBlock => (t.r0 ? { ...t, r0: { k: 'const', t: 'i', v: compile(t.r0, memo)(x) } } : t));
  const acc = tileBlocks(s);
  const reads = shared(acc.reads);
  const writes = shared(acc.writes);
  // Earlier ops of this epoch (the current op is registered after the checks).
  const other = (t: RowBlock, done: Epoch) => {
    for (const d of done.values()) if (d.ids.some((i) => i !== id) && blocksOverlap(t, d.block)) return true;
    return false;
  };
  for (const t of reads) {
    if (other(t, x.epochWrites)) throw new KernelError(`kernel ${x.kernel.name}: missing barrier: ${s.op} reads tile ${t.tile}, written by an earlier op without a barrier between`);
  }
  for (const t of writes) {
    if (other(t, x.epochWrites) || other(t, x.epochReads)) {
      throw new KernelError(`kernel ${x.kernel.name}: missing barrier: ${s.op} writes tile ${t.tile}, which an earlier op used without a barrier between`);
    }
  }
  const note = (t: RowBlock, done: Epoch) => {
    const key = `${t.tile}:${t.r0?.k === 'const' ? t.r0.v : ''}:${t.rows}`;
    const d = done.get(key);
    // Two ops are enough to know that some earlier op differs from any later one.
    if (!d) done.set(key, { block: t, ids: [id] });
    else if (d.ids.length < 2 && !d.ids.includes(id)) d.ids.push(id);
  };
  for (const t of reads) note(t, x.epochReads);
  for (const t of writes) note(t, x.epochWrites);
}

/** Row blocks of shared tiles touched since the last barrier, with the ops that touched them. */
type Epoch = Map<string, { block: RowBlock; ids: number[] }>;

function exec(body: Stmt[], x: Ctx, memo: Map<SExpr, Fn>, check: boolean): void {
  for (const s of body) {
    switch (s.op) {
      case 'let':
        barrierCheck(s, x, check, memo);
        x.vars.set(s.name, compile(s.value, memo)(x));
        break;
      case 'note':
        break;
      case 'barrier':
        x.epochReads.clear();
        x.epochWrites.clear();
        break;
      case 'for': {
        const from = compile(s.from, memo)(x);
        const to = compile(s.to, memo)(x);
        const step = compile(s.step, memo)(x);
        if (!(step > 0)) throw new KernelError(`kernel ${x.kernel.name}: loop ${s.v} with step ${step}`);
        for (let i = from; i < to; i += step) {
          x.vars.set(s.v, i);
          exec(s.body, x, memo, check);
        }
        break;
      }
      case 'if':
        exec(compile(s.cond, memo)(x) ? s.then : s.else, x, memo, check);
        break;
      case 'map': {
        barrierCheck(s, x, check, memo);
        const v = view(s.dst, x, memo);
        const e = compile(s.expr, memo);
        const gRows = s.guard ? compile(s.guard.rows, memo)(x) : Infinity;
        const gCols = s.guard ? compile(s.guard.cols, memo)(x) : Infinity;
        const cols = v.t.decl.cols;
        const out = new Float64Array(v.rows * cols);
        for (let r = 0; r < v.rows; r++)
          for (let c = 0; c < cols; c++) {
            if (r >= gRows || c >= gCols) {
              out[r * cols + c] = s.guard!.fill;
              continue;
            }
            x.vars.set('r', r);
            x.vars.set('c', c);
            x.reading = { tile: s.dst.tile, r: v.r0 + r, c, ok: true, regs: true };
            out[r * cols + c] = e(x);
            if (!x.reading.ok) throw new KernelError(`kernel ${x.kernel.name}: map into ${s.dst.tile} reads ${s.dst.tile} (or a register tile) at another element (a race between threads)`);
            x.reading = undefined;
          }
        for (let r = 0; r < v.rows; r++) for (let c = 0; c < cols; c++) set(v, r, c, out[r * cols + c]!);
        x.vars.delete('r');
        x.vars.delete('c');
        break;
      }
      case 'matmul': {
        barrierCheck(s, x, check, memo);
        const A = view(s.a, x, memo);
        const B = view(s.b, x, memo);
        const D = view(s.dst, x, memo);
        const [m, kA] = s.transA ? [A.t.decl.cols, A.rows] : [A.rows, A.t.decl.cols];
        const [kB, n] = s.transB ? [B.t.decl.cols, B.rows] : [B.rows, B.t.decl.cols];
        if (kA !== kB || m !== D.rows || n !== D.t.decl.cols) throw new KernelError(`kernel ${x.kernel.name}: matmul shapes ${m}×${kA} · ${kB}×${n} into ${D.rows}×${D.t.decl.cols}`);
        if (s.scale && (s.acc === 'set' || s.mask || usesVar(s.scale, 'r') || usesVar(s.scale, 'c'))) throw new KernelError(`kernel ${x.kernel.name}: a matmul's scale is one value (no r or c) for an unmasked add or sub`);
        const scale = s.scale ? compile(s.scale, memo)(x) : 1;
        const out = new Float64Array(m * n);
        for (let i = 0; i < m; i++)
          for (let j = 0; j < n; j++) {
            if ((s.mask === 'lower' && j > i) || (s.mask === 'strict' && j >= i)) continue;
            let acc = 0;
            for (let k = 0; k < kA; k++) acc += (s.transA ? get(A, k, i, x) : get(A, i, k, x)) * (s.transB ? get(B, j, k, x) : get(B, k, j, x));
            out[i * n + j] = acc;
          }
        for (let i = 0; i < m; i++)
          for (let j = 0; j < n; j++) {
            const prev = s.acc === 'set' ? 0 : get(D, i, j, x) * scale;
            set(D, i, j, s.acc === 'sub' ? prev - out[i * n + j]! : prev + out[i * n + j]!);
          }
        break;
      }
      case 'reduce': {
        barrierCheck(s, x, check, memo);
        const src = x.tiles.get(s.src)!;
        const dst = x.tiles.get(s.dst)!;
        const sv = { t: src, r0: 0 };
        const dv = { t: dst, r0: 0 };
        if (s.axis === 'cols') {
          for (let r = 0; r < src.decl.rows; r++) {
            let acc = s.fn === 'sum' ? 0 : -Infinity;
            for (let c = 0; c < src.decl.cols; c++) acc = s.fn === 'sum' ? acc + get(sv, r, c, x) : Math.max(acc, get(sv, r, c, x));
            set(dv, r, 0, acc);
          }
        } else {
          for (let c = 0; c < src.decl.cols; c++) {
            let acc = s.fn === 'sum' ? 0 : -Infinity;
            for (let r = 0; r < src.decl.rows; r++) acc = s.fn === 'sum' ? acc + get(sv, r, c, x) : Math.max(acc, get(sv, r, c, x));
            set(dv, 0, c, acc);
          }
        }
        break;
      }
      case 'cumsum': {
        barrierCheck(s, x, check, memo);
        const src = { t: x.tiles.get(s.src)!, r0: 0 };
        const dst = { t: x.tiles.get(s.dst)!, r0: 0 };
        for (let c = 0; c < src.t.decl.cols; c++) {
          let acc = 0;
          for (let r = 0; r < src.t.decl.rows; r++) {
            acc += get(src, r, c, x);
            set(dst, r, c, acc);
          }
        }
        break;
      }
      case 'trisolve': {
        barrierCheck(s, x, check, memo);
        const A = { t: x.tiles.get(s.a)!, r0: 0 };
        const B = { t: x.tiles.get(s.b)!, r0: 0 };
        const n = B.t.decl.rows;
        for (let c = 0; c < B.t.decl.cols; c++)
          for (let r = 0; r < n; r++) {
            let v = get(B, r, c, x);
            for (let j = 0; j < r; j++) v -= s.sign * get(A, r, j, x) * get(B, j, c, x);
            set(B, r, c, v);
          }
        break;
      }
      case 'store': {
        barrierCheck(s, x, check, memo);
        const t = x.tiles.get(s.src)!;
        const rows = compile(s.dst.rows, memo)(x);
        const cols = compile(s.dst.cols, memo)(x);
        const idx = compile(s.dst.index, memo);
        const val = compile(s.value, memo);
        const buf = x.buffers[s.dst.buf];
        if (!buf) throw new KernelError(`kernel ${x.kernel.name}: buffer '${s.dst.buf}' is not bound`);
        for (let r = 0; r < Math.min(rows, t.decl.rows); r++)
          for (let c = 0; c < Math.min(cols, t.decl.cols); c++) {
            x.vars.set('r', r);
            x.vars.set('c', c);
            x.reading = { tile: s.src, r, c, ok: true, regs: true };
            const i = idx(x);
            if (!Number.isInteger(i) || i < 0 || i >= buf.length) throw new KernelError(`kernel ${x.kernel.name}: out-of-bounds write ${s.dst.buf}[${i}] (size ${buf.length}) at workgroup (${x.wg})`);
            const wr = x.writers.get(s.dst.buf)!;
            if (wr[i] !== -1 && wr[i] !== x.wgIndex) throw new KernelError(`kernel ${x.kernel.name}: workgroups write ${s.dst.buf}[${i}] twice in one dispatch (a race)`);
            wr[i] = x.wgIndex;
            buf[i] = val(x);
            if (!x.reading.ok) throw new KernelError(`kernel ${x.kernel.name}: store of ${s.src} reads a register tile at another element`);
            x.reading = undefined;
          }
        x.vars.delete('r');
        x.vars.delete('c');
        break;
      }
    }
  }
}
