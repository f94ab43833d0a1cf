/**
 * The shared part of the WGSL and CUDA backends: how each tile op of the kernel IR is spread over
 * a workgroup's threads, printed through a small dialect interface (tinygrad-style: a backend is
 * mostly syntax). Every thread runs the same code; `lid` is its index, T the workgroup size.
 *   map / store   elements e = lid, lid + T, … of the tile (row e / cols, column e % cols)
 *   register tile elements are owned the same way: thread lid holds slot s of element lid + s·T
 *   matmul        each thread computes the output elements it owns, over the reduction dimension
 *   reduce        a thread per row (or column); cumsum and trisolve: a thread per column
 *   map into a column tile whose value folds a row: G threads per row, combined by lane exchanges
 * Barriers are printed where the kernel IR has them (the barriers pass placed them).
 */
import { forEachStmt, usedTiles, usesVar, walkSExpr } from '../../compiler/kernel-ir/analysis.ts';
import { substitute, unconditional } from './rewrite.ts';
import type { BufferDecl, Kernel, SExpr, Stmt, TileDecl, TileRef } from '../../compiler/kernel-ir/types.ts';
import { Typer, type CType } from './types.ts';
import { invariantSubtrees, sexprKey } from './invariants.ts';

export interface ExprCtx {
  /** Printing inside the element loop of a register-tile op: register reads use this slot. */
  slot?: string;
  /** The register or row-owned tile whose slot `slot` is (row-owned reads are resolved from it). */
  slotOf?: TileDecl;
  /** Inside a branch of a select that the dialect evaluates eagerly: clamp indices. */
  clamp?: boolean;
}

/** Most output rows one thread accumulates in registers in a matmul (beyond it: the element loop). */
const MAX_MATMUL_SLOTS = 32;

export abstract class CLikePrinter {
  protected lines: string[] = [];
  protected depth = 1;
  protected typer: Typer;
  protected tiles: Map<string, TileDecl>;
  protected T: number;
  private tmp = 0;
  /** Statements hoisted out of the expression being printed (fold loops). */
  protected hoisted: string[][] = [];
  protected usedFns = new Set<string>();
  /** Subexpressions already computed into a const (withInvariants), by structural key. */
  private known = new Map<string, string>();
  /** Threads taken since the last barrier by matmuls that need fewer than the workgroup (matmulColumnOwner). */
  private fewThreads = 0;
  /** Row strides of the shared tiles whose rows are padded (padSharedRows). */
  private readonly strides = new Map<string, number>();
  /** Shared tiles stored as groups of 4 words (chooseQuadTiles): a matmul reads 4 of a row at once. */
  protected readonly quads = new Set<string>();

  constructor(protected k: Kernel) {
    this.typer = new Typer(k);
    this.tiles = new Map(k.tiles.map((t) => [t.name, t]));
    this.T = k.threads;
  }

  // ── dialect ──────────────────────────────────────────────────────────────────
  abstract typeName(t: CType): string;
  abstract floatLit(v: number): string;
  abstract intLit(v: number): string;
  abstract declVar(name: string, t: CType, init: string): string;
  abstract declConst(name: string, t: CType, init: string): string;
  abstract forLoop(v: string, from: string, to: string, step: string): string;
  /**
   * A counted loop in parts: lines printed before it, its head, and lines that open its body
   * (a dialect may count with a hidden index and derive v from it: see the WGSL printer). By
   * default the plain `forLoop`.
   */
  loopParts(v: string, from: string, to: string, step: string): { pre: string[]; head: string; first: string[] } {
    return { pre: [], head: this.forLoop(v, from, to, step), first: [] };
  }
  abstract barrier(): string;
  abstract select(c: string, a: string, b: string): string;
  abstract cast(to: CType, e: string): string;
  abstract call(fn: string, args: string[]): string;
  /** A read of buffer `b` at `idx` as f32 (or i32). */
  abstract load(b: BufferDecl, idx: string): string;
  abstract storeBuf(b: BufferDecl, idx: string, value: string): string;
  abstract tileRef(name: string): string;
  abstract regRef(name: string): string;
  abstract wgId(axis: 0 | 1 | 2): string;
  /** Whether select(…) evaluates both branches (WGSL) — reads under it are then clamped. */
  abstract readonly eagerSelect: boolean;
  abstract clampIndex(idx: string, size: string): string;
  abstract bufferLength(b: BufferDecl): string;
  /**
   * A line printed before the loop over a register tile's slots (CUDA: `#pragma unroll`, so that
   * slot indices are constants and the tile stays in registers). None by default.
   */
  registerLoopHint(): string | undefined {
    return undefined;
  }
  /**
   * How many neighbouring threads (lid, lid ^ 1, …: a power of two, ≤ 32) may combine values with
   * `laneXor`; below 2, none (folds then run in one thread per row). CUDA: a warp; WGSL: the
   * smallest subgroup the adapter may run, where the profile has subgroups.
   */
  protected foldLanes(): number {
    return 0;
  }
  /** `v` of the thread whose lid differs from this one's in the bits of `off` (within foldLanes). */
  protected laneXor(_v: string, _off: number): string {
    throw new Error('internal: this printer combines no values across threads');
  }

  protected emit(line: string): void {
    this.lines.push('  '.repeat(this.depth) + line);
  }

  protected fresh(prefix: string): string {
    return `${prefix}${this.tmp++}`;
  }

  protected buffer(name: string): BufferDecl {
    const b = this.k.buffers.find((x) => x.name === name);
    if (!b) throw new Error(`internal: kernel ${this.k.name} reads undeclared buffer ${name}`);
    return b;
  }

  // ── expressions ──────────────────────────────────────────────────────────────

  /** Print an expression converted to type `want`. */
  expr(e: SExpr, ctx: ExprCtx = {}, want?: CType): string {
    const t = this.typer.of(e);
    const s = (this.known.size && this.known.get(sexprKey(e))) || this.exprRaw(e, ctx);
    return want && want !== t ? this.convert(t, want, s) : s;
  }

  protected convert(from: CType, to: CType, s: string): string {
    if (from === to) return s;
    if (to === 'bool') return `(${s} != ${from === 'f32' ? this.floatLit(0) : this.intLit(0)})`;
    if (from === 'bool') return this.select(s, to === 'f32' ? this.floatLit(1) : this.intLit(1), to === 'f32' ? this.floatLit(0) : this.intLit(0));
    return this.cast(to, s);
  }

  private binOp(fn: string): string | undefined {
    return { add: '+', sub: '-', mul: '*', div: '/', idiv: '/', mod: '%', lt: '<', le: '<=', gt: '>', ge: '>=', eq: '==', ne: '!=', and: '&&', or: '||' }[fn];
  }

  protected exprRaw(e: SExpr, ctx: ExprCtx): string {
    switch (e.k) {
      case 'const':
        return e.t === 'f' ? this.floatLit(e.v) : e.t === 'i' ? this.intLit(e.v) : e.v ? 'true' : 'false';
      case 'var':
        return e.name;
      case 'wg':
        return this.wgId(e.axis);
      case 'un':
        return this.unary(e.fn, e.a, ctx);
      case 'bin': {
        const op = this.binOp(e.fn);
        const ta = this.typer.of(e.a);
        const tb = this.typer.of(e.b);
        if (e.fn === 'and' || e.fn === 'or') return `(${this.expr(e.a, ctx, 'bool')} ${op} ${this.expr(e.b, ctx, 'bool')})`;
        if (e.fn === 'idiv' || e.fn === 'mod') return `(${this.expr(e.a, ctx, 'i32')} ${op} ${this.expr(e.b, ctx, 'i32')})`;
        // Positions compared as floats (the masks: float(j0 + c) ≤ float(i0 + r)): the integers
        // compared directly, two conversions fewer, and exact beyond 2^24 as the reference is.
        const intOf = (x: SExpr) => (x.k === 'un' && x.fn === 'float' && this.typer.of(x.a) === 'i32' ? x.a : undefined);
        const [ia, ib] = [intOf(e.a), intOf(e.b)];
        if (ia && ib && ['lt', 'le', 'gt', 'ge', 'eq', 'ne'].includes(e.fn)) return `(${this.expr(ia, ctx, 'i32')} ${op} ${this.expr(ib, ctx, 'i32')})`;
        const t: CType = e.fn === 'div' || e.fn === 'pow' || ta === 'f32' || tb === 'f32' ? 'f32' : 'i32';
        if (op) return `(${this.expr(e.a, ctx, t)} ${op} ${this.expr(e.b, ctx, t)})`;
        return this.call(e.fn, [this.expr(e.a, ctx, t), this.expr(e.b, ctx, t)]);
      }
      case 'sel': {
        const t = this.typer.of(e);
        const inner = this.eagerSelect ? { ...ctx, clamp: true } : ctx;
        return this.select(this.expr(e.c, ctx, 'bool'), this.expr(e.a, inner, t), this.expr(e.b, inner, t));
      }
      case 'ld': {
        const b = this.buffer(e.buf);
        let idx = this.expr(e.idx, ctx, 'i32');
        if (ctx.clamp) idx = this.clampIndex(idx, this.bufferLength(b));
        return this.load(b, idx);
      }
      case 'tile': {
        const t = this.tiles.get(e.tile)!;
        if (t.space === 'register') {
          if (!ctx.slot) throw new Error(`internal: register tile ${e.tile} read outside its element loop`);
          return `${this.regRef(e.tile)}[${ctx.slot}]`;
        }
        if (t.space === 'rows') return this.rowsRead(e, t, ctx);
        let idx = t.cols === 1 ? this.expr(e.r, ctx, 'i32') : `${this.expr(e.r, ctx, 'i32')} * ${this.intLit(this.rowStride(t))} + ${this.expr(e.c, ctx, 'i32')}`;
        if (ctx.clamp) idx = this.clampIndex(idx, this.intLit(t.rows * this.rowStride(t)));
        return this.element(e.tile, idx);
      }
      case 'fold': {
        const special = this.foldExpr(e, ctx);
        if (special !== undefined) return special;
        const t = this.typer.of(e);
        const acc = this.fresh('acc');
        const init = e.fn === 'sum' ? (t === 'f32' ? this.floatLit(0) : this.intLit(0)) : this.floatLit(e.fn === 'max' ? -3.0e38 : 3.0e38);
        const pre = this.hoisted[this.hoisted.length - 1];
        if (!pre) throw new Error('internal: fold outside a statement');
        pre.push(this.declVar(acc, t, init));
        const lp = this.loopParts(e.v, this.expr(e.from, ctx, 'i32'), this.expr(e.to, ctx, 'i32'), this.intLit(1));
        pre.push(...lp.pre, `${lp.head} {`, ...lp.first.map((l) => '  ' + l));
        this.hoisted.push([]);
        const body = this.expr(e.body, ctx, t);
        const inner = this.hoisted.pop()!;
        for (const l of inner) pre.push('  ' + l);
        pre.push(`  ${acc} = ${e.fn === 'sum' ? `${acc} + ${body}` : this.call(e.fn, [acc, body])};`);
        pre.push('}');
        return acc;
      }
    }
  }

  /**
   * A read of a row-owned tile ('rows'), which only a dialect that lays them out can print (the
   * planner gives them to its profiles alone).
   */
  protected rowsRead(e: Extract<SExpr, { k: 'tile' }>, t: TileDecl, ctx: ExprCtx): string {
    void e;
    void ctx;
    throw new Error(`internal: row-owned tile ${t.name} on a target without a layout for it`);
  }

  /** A fold the dialect prints its own way (CUDA: across a row-owned tile's row), or undefined. */
  protected foldExpr(e: Extract<SExpr, { k: 'fold' }>, ctx: ExprCtx): string | undefined {
    void e;
    void ctx;
    return undefined;
  }

  protected unary(fn: string, a: SExpr, ctx: ExprCtx): string {
    const t = this.typer.of(a);
    switch (fn) {
      case 'neg':
        return `(-${this.expr(a, ctx)})`;
      case 'not':
        return `(!${this.expr(a, ctx, 'bool')})`;
      case 'abs':
        return this.call('abs', [this.expr(a, ctx)]);
      case 'int':
        return this.expr(a, ctx, 'i32');
      case 'float':
        return this.expr(a, ctx, 'f32');
      default:
        void t;
        this.usedFns.add(fn);
        return this.mathFn(fn, this.expr(a, ctx, 'f32'));
    }
  }

  /** A float math function (exp, sigmoid, …); helpers for the missing ones go in the prelude. */
  abstract mathFn(fn: string, x: string): string;

  /** `body`'s result, with expr() printing each of `names`' expressions as the name given. */
  protected withNames<R>(names: ReadonlyMap<SExpr, string>, body: () => R): R {
    const saved = this.known;
    this.known = new Map(saved);
    for (const [e, name] of names) this.known.set(sexprKey(e), name);
    try {
      return body();
    } finally {
      this.known = saved;
    }
  }

  /**
   * Run `body` with the f32 subexpressions of `e` that do not depend on the `variant` names
   * (invariantSubtrees) computed once, into consts printed here; expr() prints their names. Tile
   * reads among them are clamped to the tile (`clamp`, for consts printed before a loop whose guard
   * may skip every element: they now run anyway).
   */
  protected withInvariants(e: SExpr, variant: string[], written: string, body: () => void, clamp = true): void {
    const excluded = new Set([written, ...this.k.tiles.filter((t) => t.space !== 'shared').map((t) => t.name)]);
    const saved = this.known;
    this.known = new Map(saved);
    for (const x of invariantSubtrees(e, new Set(variant), excluded)) {
      const key = sexprKey(x);
      if (this.known.has(key) || this.typer.of(x) !== 'f32') continue;
      const name = this.fresh('inv');
      this.withExprs(() => this.declConst(name, 'f32', this.expr(x, clamp ? { clamp } : {}, 'f32')));
      this.known.set(key, name);
    }
    try {
      body();
    } finally {
      this.known = saved;
    }
  }

  /** Print a statement that uses expressions: fold loops are hoisted in front of it. */
  protected withExprs(build: () => string | string[]): void {
    this.hoisted.push([]);
    const out = build();
    const pre = this.hoisted.pop()!;
    for (const l of pre) this.emit(l);
    for (const l of Array.isArray(out) ? out : [out]) this.emit(l);
  }

  // ── statements ───────────────────────────────────────────────────────────────

  protected stmts(ss: Stmt[]): void {
    for (let j = 0; j < ss.length; j++) {
      const s = ss[j]!;
      const t = ss[j + 1];
      if (s.op === 'matmul' && t?.op === 'matmul' && this.fusedMatmuls(s, t)) j++;
      else this.stmt(s);
    }
  }

  protected block(open: string, body: () => void): void {
    this.emit(open ? `${open} {` : "{");
    this.depth++;
    body();
    this.depth--;
    this.emit('}');
  }

  /** A counted loop (loopParts) around `body`. */
  protected loop(v: string, from: string, to: string, step: string, body: () => void): void {
    const p = this.loopParts(v, from, to, step);
    for (const l of p.pre) this.emit(l);
    this.loopBlock(p, body);
  }

  /** The head and body of a counted loop whose `pre` lines are already printed. */
  private loopBlock(p: ReturnType<CLikePrinter['loopParts']>, body: () => void): void {
    this.block(p.head, () => {
      for (const l of p.first) this.emit(l);
      body();
    });
  }

  /** A `let` whose value all threads must agree on (the dialect may need a uniform load). */
  protected letStmt(name: string, value: SExpr): void {
    this.withExprs(() => this.declConst(name, this.typer.of(value), this.expr(value)));
  }

  protected stmt(s: Stmt): void {
    switch (s.op) {
      case 'let':
        this.letStmt(s.name, s.value);
        break;
      case 'note':
        this.emit(`// ${s.text}`);
        break;
      case 'barrier':
        this.emit(this.barrier());
        this.fewThreads = 0;
        break;
      case 'for': {
        if (s.note) this.emit(`// ${s.note}`);
        let lp: ReturnType<CLikePrinter['loopParts']> | undefined;
        this.withExprs(() => {
          lp = this.loopParts(s.v, this.expr(s.from, {}, 'i32'), this.expr(s.to, {}, 'i32'), this.expr(s.step, {}, 'i32'));
          return lp.pre;
        });
        this.loopBlock(lp!, () => this.stmts(s.body));
        break;
      }
      case 'if': {
        let cond = '';
        this.withExprs(() => {
          cond = this.expr(s.cond, {}, 'bool');
          return [];
        });
        this.block(`if (${cond})`, () => this.stmts(s.then));
        if (s.else.length) this.block('else', () => this.stmts(s.else));
        break;
      }
      case 'map':
        if (!this.parallelFold(s)) this.mapOp(s);
        break;
      case 'matmul':
        this.matmulOp(s);
        break;
      case 'reduce':
        this.reduceOp(s);
        break;
      case 'cumsum':
        this.cumsumOp(s);
        break;
      case 'trisolve':
        this.trisolveOp(s);
        break;
      case 'store':
        this.storeOp(s);
        break;
    }
  }

  /** Index of element (r, c) in a shared tile (with a row offset for views). */
  protected at(tile: string, r: string, c: string, r0?: string): string {
    const t = this.tiles.get(tile)!;
    const row = r0 ? `(${r0} + ${r})` : r;
    return this.element(tile, t.cols === 1 ? row : `${row} * ${this.intLit(this.rowStride(t))} + ${c}`);
  }

  /** Word `idx` of a shared tile (of a quad tile: component idx % 4 of group idx / 4). */
  private element(tile: string, idx: string): string {
    return this.quads.has(tile) ? this.quadWord(this.tileRef(tile), idx) : `${this.tileRef(tile)}[${idx}]`;
  }

  /** The group of 4 words of quad tile `tile` from row r, columns 4·q … 4·q + 3. */
  protected quadAt(tile: string, r: string, q: string, r0?: string): string {
    const t = this.tiles.get(tile)!;
    const row = r0 ? `(${r0} + ${r})` : r;
    return `${this.tileRef(tile)}[${row} * ${this.intLit(this.rowStride(t) / 4)} + ${q}]`;
  }

  /**
   * Whether shared tiles may be stored as groups of 4 words (a dialect with vector types in
   * workgroup memory: WGSL's array<vec4<f32>>). None by default.
   */
  protected quadTiles(): boolean {
    return false;
  }
  /** Word idx of a quad tile held in `ref` (an array of 4-word groups). */
  protected quadWord(_ref: string, _idx: string): string {
    throw new Error('internal: this printer stores no quad tiles');
  }
  /** A const holding a group of 4 words, and the expression of its component j. */
  protected declQuad(_name: string, _init: string): string {
    throw new Error('internal: this printer stores no quad tiles');
  }
  protected quadPart(v: string, j: number): string {
    return `${v}.${'xyzw'[j]}`;
  }

  /**
   * Shared tiles that a matmul reads along their rows 4 steps at a time become quad tiles (where
   * the dialect has them): A read along its rows (not transposed, the reduction walking a row), B
   * read transposed (likewise), or A transposed into a shared output whose threads own 4
   * consecutive output rows (a step reads 4 of A's row). A broadcast read of 4 words costs the
   * shared-memory pipe what one word costs: fewer loads per product. Not a tile that a fold reads
   * with lanes on different rows (GLA's intra-chunk scores: element (r, c) walks row c of Ks, and
   * a row stride of 4·n + 4 would put a warp's 32 rows on a quarter of the banks); a fold along one
   * row (a sum of squares) is fine.
   */
  protected chooseQuadTiles(): void {
    if (!this.quadTiles()) return;
    const folded = new Set<string>();
    // Only folds whose reads of a tile put neighbouring lanes on different rows (the row index
    // holds the fold variable or the element's column c); a fold along one row (a row's sum of
    // squares, lanes on consecutive words) reads as well from a quad tile.
    const foldReads = (e: SExpr) =>
      walkSExpr(e, (x) => {
        if (x.k === 'fold') walkSExpr(x.body, (y) => void (y.k === 'tile' && (usesVar(y.r, x.v) || usesVar(y.r, 'c')) && folded.add(y.tile)));
      });
    forEachStmt(this.k.body, (s) => {
      if (s.op === 'map') foldReads(s.expr);
      else if (s.op === 'store') foldReads(s.value);
    });
    forEachStmt(this.k.body, (s) => {
      if (s.op !== 'matmul') return;
      const { kk } = this.matmulShape(s);
      const quadable = (name: string) => {
        const t = this.tiles.get(name)!;
        return t.space === 'shared' && t.cols % 4 === 0 && t.rows > 1 && !folded.has(name);
      };
      const byFour = this.reductionCopies(kk) === 4 && kk % 4 === 0;
      if (byFour && !s.transA && quadable(s.a.tile)) this.quads.add(s.a.tile);
      if (byFour && s.transB && quadable(s.b.tile)) this.quads.add(s.b.tile);
      if (s.transA && quadable(s.a.tile) && this.tiles.get(s.dst.tile)!.space === 'shared') this.quads.add(s.a.tile);
    });
  }

  /** Words between the rows of a shared tile (padSharedRows may lengthen them). */
  rowStride(t: TileDecl): number {
    return this.strides.get(t.name) ?? t.cols;
  }

  /**
   * Pad the rows of shared tiles against bank conflicts, if the padded tiles still fit in `limit`
   * bytes: a row of 32·n words gets one word more (threads walking down a column — a thread per
   * row or per output element — then hit distinct banks instead of one), a row of a tile in
   * `fragmentPads` the words given there (tensor-core fragment loads: 4 where a fragment's 8 rows
   * are 8 tile rows, 8 where its 4 columns are tile rows, so that the 32 lanes hit 32 banks).
   * A quad tile's rows get 4 words more (its groups stay whole; 4 distinct rows' groups are then
   * 8 lanes on 32 distinct banks). When all of that does not fit, only the fragment operands are
   * padded, or nothing.
   */
  protected padSharedRows(limit: number, fragmentPads: ReadonlyMap<string, number> = new Map()): void {
    const used = usedTiles(this.k.body);
    const shared = this.k.tiles.filter((t) => t.space === 'shared' && used.has(t.name));
    const words = (pads: Map<string, number>) => shared.reduce((n, t) => n + t.rows * (t.cols + (pads.get(t.name) ?? 0)), 0);
    const all = new Map(shared.filter((t) => t.cols % 32 === 0 && t.rows > 1).map((t) => [t.name, fragmentPads.get(t.name) ?? (this.quads.has(t.name) ? 4 : 1)]));
    const mma = new Map([...all].filter(([name]) => fragmentPads.has(name)));
    const pads = [all, mma].find((m) => words(m) * 4 <= limit) ?? new Map<string, number>();
    for (const t of shared) if (pads.has(t.name)) this.strides.set(t.name, t.cols + pads.get(t.name)!);
  }

  /**
   * Register tile `t`'s element in slot `s` of this thread (declaring what it needs): its row,
   * column and, where slots can run past the tile, the condition that the slot holds one. By
   * default slot s holds element lid + s·T; a dialect may lay register tiles out otherwise (CUDA:
   * as tensor-core accumulator fragments) as long as every op on them goes through here.
   */
  protected registerElement(t: TileDecl, s: string): { r: string; c: string; guard?: string } {
    const i = (v: number) => this.intLit(v);
    const e = this.fresh('e');
    this.emit(this.declConst(e, 'i32', `lid + ${s} * ${i(this.T)}`));
    return { r: `${e} / ${i(t.cols)}`, c: `${e} % ${i(t.cols)}`, guard: `${e} < ${i(t.rows * t.cols)}` };
  }

  /**
   * A line printed before the loop over a shared tile's elements, which runs `trips` times per
   * thread (CUDA: partial unrolling, so that several global loads are in flight at once). None by
   * default.
   */
  elementLoopHint(trips: number): string | undefined {
    void trips;
    return undefined;
  }

  /** Slots a thread holds of a register (or row-owned) tile: by default its share of the elements. */
  registerSlots(t: TileDecl): number {
    return Math.ceil((t.rows * t.cols) / this.T);
  }

  /** Whether register tiles have the default layout (element lid + s·T in slot s). */
  protected standardRegisters(): boolean {
    return true;
  }

  /** Loop over the elements of a rows × cols block owned by this thread (all of register tile `reg`). */
  protected elementLoop(rows: number, cols: number, body: (r: string, c: string, slot?: string) => void, reg?: TileDecl): void {
    const n = rows * cols;
    const i = this.intLit;
    if (reg) {
      if (rows !== reg.rows || cols !== reg.cols) throw new Error(`internal: an op covers ${rows} × ${cols} of the register tile ${reg.name} [${reg.rows}, ${reg.cols}]`);
      const slots = this.registerSlots(reg);
      const s = this.fresh('s');
      const hint = this.registerLoopHint();
      if (hint) this.emit(hint);
      this.loop(s, i.call(this, 0), i.call(this, slots), i.call(this, 1), () => {
        const at = this.registerElement(reg, s);
        const inner = () => {
          this.emit(this.declConst('r', 'i32', at.r));
          this.emit(this.declConst('c', 'i32', at.c));
          body('r', 'c', s);
        };
        if (at.guard) this.block(`if (${at.guard})`, inner);
        else inner();
      });
      return;
    }
    const e = this.fresh('e');
    const trips = Math.ceil(n / this.T);
    const copies = this.elementLoopCopies(trips);
    const element = (at: string) => {
      this.emit(this.declConst('r', 'i32', `${at} / ${i.call(this, cols)}`));
      this.emit(this.declConst('c', 'i32', `${at} % ${i.call(this, cols)}`));
      body('r', 'c');
    };
    if (copies > 1) {
      // The body written `copies` times per step (elements e, e + T, …): their loads can be in flight together.
      const step = this.T * copies;
      this.loop(e, 'lid', i.call(this, n), i.call(this, step), () => {
        for (let u = 0; u < copies; u++) {
          const at = this.fresh('e');
          this.block('', () => {
            this.emit(this.declConst(at, 'i32', u === 0 ? e : `${e} + ${i.call(this, u * this.T)}`));
            if (u === 0 || n % step === 0) element(at);
            else this.block(`if (${at} < ${i.call(this, n)})`, () => element(at));
          });
        }
      });
      return;
    }
    const hint = this.elementLoopHint(trips);
    if (hint) this.emit(hint);
    if (!this.countedElementLoops() || trips < 2) return this.loop(e, 'lid', i.call(this, n), i.call(this, this.T), () => element(e));
    this.passLoop(e, n, cols, 1, () => body('r', 'c'));
  }

  /**
   * A loop over the n elements of a tile of `cols` columns, `width` consecutive elements of a row
   * per thread and step, counted by passes of the workgroup (a constant trip count); r and c name
   * the step's first element for `body`, `e` its number where the bound needs it. Where a pass
   * covers whole rows, each thread's column is the same in every pass and its row advances by a
   * constant: the compiler then addresses every pass from the first, without a remainder loop.
   * The caller prints any unroll hint before it.
   */
  protected passLoop(e: string, n: number, cols: number, width: number, body: () => void): void {
    const i = (v: number) => this.intLit(v);
    const step = this.T * width;
    const whole = step % cols === 0;
    const first = width === 1 ? 'lid' : `lid * ${i(width)}`;
    const j = this.fresh('j');
    this.loop(j, i(0), i(Math.ceil(n / step)), i(1), () => {
      if (!whole || n % step) this.emit(this.declConst(e, 'i32', `${first} + ${j} * ${i(step)}`));
      const element = () => {
        const f = width === 1 ? first : `(${first})`;
        this.emit(this.declConst('r', 'i32', whole ? `${f} / ${i(cols)} + ${j} * ${i(step / cols)}` : `${e} / ${i(cols)}`));
        this.emit(this.declConst('c', 'i32', whole ? `${f} % ${i(cols)}` : `${e} % ${i(cols)}`));
        body();
      };
      if (n % step) this.block(`if (${e} < ${i(n)})`, element);
      else element();
    });
  }

  /**
   * Whether a shared tile's element loop counts passes of the workgroup (a constant trip count)
   * rather than elements from lid (CUDA: nvcc then unrolls without a remainder loop). No by default.
   */
  protected countedElementLoops(): boolean {
    return false;
  }

  /**
   * Steps of a matmul's reduction written out per loop iteration (a dialect without an unroll
   * hint: the loads of several steps can then be in flight together). 1 by default.
   */
  protected reductionCopies(_trips: number): number {
    return 1;
  }

  /** The reduction loop x = 0 … trips − 1 of a matmul, reductionCopies steps per iteration. */
  protected reductionLoop(trips: number, body: (x: string) => void): void {
    const i = (v: number) => this.intLit(v);
    const u = this.reductionCopies(trips);
    if (u <= 1 || trips % u !== 0) {
      const x = this.fresh('x');
      return this.loop(x, i(0), i(trips), i(1), () => body(x));
    }
    const xi = this.fresh('xi');
    this.loop(xi, i(0), i(trips / u), i(1), () => {
      for (let k = 0; k < u; k++)
        this.block('', () => {
          const x = this.fresh('x');
          this.emit(this.declConst(x, 'i32', k === 0 ? `${xi} * ${i(u)}` : `${xi} * ${i(u)} + ${i(k)}`));
          body(x);
        });
    });
  }

  /**
   * How many elements a thread handles per step of a shared tile's element loop, written out in
   * the printed code (1: a plain loop, which elementLoopHint may annotate instead).
   */
  protected elementLoopCopies(trips: number): number {
    void trips;
    return 1;
  }

  protected viewOf(ref: TileRef): { t: TileDecl; rows: number; r0?: string } {
    const t = this.tiles.get(ref.tile)!;
    return { t, rows: ref.rows ?? t.rows, ...(ref.r0 ? { r0: this.expr(ref.r0, {}, 'i32') } : {}) };
  }

  /** The const naming a view's first row (a slice of a tile), declared here; '' for a whole tile. */
  protected viewOffset(s: Extract<Stmt, { op: 'map' }>): string {
    const v = this.viewOf(s.dst);
    if (!v.r0) return '';
    const r0 = this.fresh('r0_');
    this.emit(this.declConst(r0, 'i32', v.r0));
    return r0;
  }

  /**
   * A map over a column tile [rows, 1] whose value folds (Σ, max, min) along a row — a norm's
   * sum of squares, a softmax row max or sum, a normalizer's q·z — has G threads per row (G a
   * power of two up to foldLanes, rows·G at most the workgroup) fold every G-th term, combines
   * their parts by lane exchanges, and the first of them finishes the expression and stores it:
   * 128 terms take 4 steps and 5 exchanges at G = 32 instead of 128 steps, while most of the
   * workgroup would wait idle. Rows the map's guard excludes fold nothing (no reads for them).
   * False where it does not apply (the element loop prints the map).
   */
  protected parallelFold(s: Extract<Stmt, { op: 'map' }>): boolean {
    const lanes = this.foldLanes();
    const v = this.viewOf(s.dst);
    if (v.t.space !== 'shared' || v.t.cols !== 1 || lanes < 2 || this.T % lanes !== 0) return false;
    const folds: Extract<SExpr, { k: 'fold' }>[] = [];
    // Its threads are not the element owners of a register tile: a map that reads one is not split.
    let readsRegister = false;
    walkSExpr(s.expr, (e) => {
      if (e.k === 'fold') folds.push(e);
      else if (e.k === 'tile' && this.tiles.get(e.tile)?.space !== 'shared') readsRegister = true;
    });
    const f = folds[0];
    if (readsRegister || folds.length !== 1 || !f || !unconditional(s.expr, f) || f.from.k !== 'const' || f.to.k !== 'const') return false;
    const from = f.from.v;
    const to = f.to.v;
    const terms = to - from;
    let G = 1;
    while (G < Math.min(32, lanes) && v.rows * G * 2 <= this.T && G * 2 <= terms) G *= 2;
    if (G < 2) return false;
    const i = (x: number) => this.intLit(x);
    const combine = (a: string, b: string) => (f.fn === 'sum' ? `${a} + ${b}` : this.call(f.fn, [a, b]));
    const identity = f.fn === 'sum' ? this.floatLit(0) : this.floatLit(f.fn === 'max' ? -3.0e38 : 3.0e38);
    const r0 = this.viewOffset(s);
    this.emit(`// ${s.dst.tile}: the fold over ${f.v} by ${G} threads per row, combined by lane exchanges`);
    this.block('', () => {
      const q = this.fresh('q');
      const part = this.fresh('part');
      this.emit(this.declConst('r', 'i32', `lid / ${i(G)}`));
      this.emit(this.declConst('c', 'i32', i(0)));
      this.emit(this.declConst(q, 'i32', `lid % ${i(G)}`));
      this.emit(this.declVar(part, 'f32', identity));
      let keep = `r < ${i(v.rows)}`;
      if (s.guard) {
        this.withExprs(() => {
          keep = `r < ${i(v.rows)} && r < ${this.expr(s.guard!.rows, {}, 'i32')} && c < ${this.expr(s.guard!.cols, {}, 'i32')}`;
          return [];
        });
      }
      this.block(`if (${keep})`, () => {
        this.loop(f.v, `${i(from)} + ${q}`, i(to), i(G), () => {
          this.withExprs(() => `${part} = ${combine(part, this.expr(f.body, {}, 'f32'))};`);
        });
      });
      // Outside any branch on lid: every thread of the workgroup takes part in the exchanges.
      for (let off = G / 2; off >= 1; off /= 2) this.emit(`${part} = ${combine(part, this.laneXor(part, off))};`);
      this.typer.declareVar(part, 'f32');
      const rest = substitute(s.expr, f, part, 0);
      const target = this.at(s.dst.tile, 'r', 'c', r0 || undefined);
      this.block(`if (r < ${i(v.rows)} && ${q} == 0)`, () => {
        if (s.guard) {
          this.block(`if (${keep})`, () => this.withExprs(() => this.assign(s.dst.tile, target, this.expr(rest, {}, 'f32'))));
          this.block('else', () => this.emit(this.assign(s.dst.tile, target, this.floatLit(s.guard!.fill))));
        } else this.withExprs(() => this.assign(s.dst.tile, target, this.expr(rest, {}, 'f32')));
      });
    });
    return true;
  }

  protected mapOp(s: Extract<Stmt, { op: 'map' }>): void {
    const v = this.viewOf(s.dst);
    // A shared tile filled from a register tile of its shape (a prefetch staged in registers): the
    // loop walks the register tile's elements, each thread writing the ones it holds.
    const staged = v.t.space === 'shared' ? this.registerSource(s) : undefined;
    const reg = v.t.space !== 'shared';
    let r0 = '';
    if (v.r0) {
      r0 = this.fresh('r0_');
      this.withExprs(() => this.declConst(r0, 'i32', v.r0!));
    }
    this.withInvariants(s.expr, ['r', 'c'], s.dst.tile, () => this.elementLoop(v.rows, v.t.cols, (r, c, slot) => {
      const target = reg ? `${this.regRef(s.dst.tile)}[${slot}]` : this.at(s.dst.tile, r, c, r0 || undefined);
      const ctx: ExprCtx = slot ? { slot, slotOf: v.t } : {};
      if (s.guard) {
        let cond = '';
        this.withExprs(() => {
          cond = `${r} < ${this.expr(s.guard!.rows, ctx, 'i32')} && ${c} < ${this.expr(s.guard!.cols, ctx, 'i32')}`;
          return [];
        });
        this.block(`if (${cond})`, () => this.withExprs(() => this.assign(s.dst.tile, target, this.expr(s.expr, ctx, 'f32'))));
        this.block('else', () => this.emit(this.assign(s.dst.tile, target, this.floatLit(s.guard!.fill))));
      } else this.withExprs(() => this.assign(s.dst.tile, target, this.expr(s.expr, ctx, 'f32')));
    }, reg ? v.t : staged));
  }

  /** A map's assignment of an f32 value to an element of its tile (a dialect may store some tiles narrower). */
  protected assign(_tile: string, target: string, value: string): string {
    return `${target} = ${value};`;
  }

  /** The register tile a map into a whole shared tile reads (of the same shape), if any. */
  protected registerSource(s: Extract<Stmt, { op: 'map' }>): TileDecl | undefined {
    if (s.dst.r0 || s.dst.rows !== undefined) return undefined;
    const dst = this.tiles.get(s.dst.tile)!;
    let found: TileDecl | undefined;
    walkSExpr(s.expr, (e) => {
      const t = e.k === 'tile' ? this.tiles.get(e.tile) : undefined;
      if (t?.space === 'register' && t.rows === dst.rows && t.cols === dst.cols) found = t;
    });
    return found;
  }

  /** The views of a matmul and its m × kk · kk × n shape (transposes applied). */
  protected matmulShape(s: Extract<Stmt, { op: 'matmul' }>) {
    const A = this.viewOf(s.a);
    const B = this.viewOf(s.b);
    const D = this.viewOf(s.dst);
    return { A, B, D, m: s.transA ? A.t.cols : A.rows, kk: s.transA ? A.rows : A.t.cols, n: s.transB ? B.rows : B.t.cols };
  }

  /**
   * The consts a matmul's loops read, declared here: the first rows of its views (`a`, `b`, `d`)
   * and its `scale` (`s`).
   */
  protected matmulConsts(s: Extract<Stmt, { op: 'matmul' }>): Record<string, string> {
    const { A, B, D } = this.matmulShape(s);
    const names: Record<string, string> = {};
    for (const [key, v] of [['a', A], ['b', B], ['d', D]] as const) {
      if (v.r0) {
        names[key] = this.fresh(`r0${key}_`);
        this.emit(this.declConst(names[key]!, 'i32', v.r0));
      }
    }
    if (s.scale) {
      const scale = s.scale;
      names['s'] = this.fresh('mscale');
      this.withExprs(() => this.declConst(names['s']!, 'f32', this.expr(scale, {}, 'f32')));
    }
    return names;
  }

  /** The new value of a matmul's output element `target` given its product `acc` (acc, scale). */
  protected matmulUpdate(s: Extract<Stmt, { op: 'matmul' }>, target: string, acc: string, names: Record<string, string>): string {
    if (s.acc === 'set') return acc;
    const old = names['s'] ? `${target} * ${names['s']}` : target;
    return `${old} ${s.acc === 'add' ? '+' : '-'} ${acc}`;
  }

  protected matmulOp(s: Extract<Stmt, { op: 'matmul' }>): void {
    const { D, m, kk, n } = this.matmulShape(s);
    const reg = D.t.space === 'register';
    const names = this.matmulConsts(s);
    if (this.T % n === 0 && Math.ceil(m / (this.T / n)) <= MAX_MATMUL_SLOTS && (!reg || this.standardRegisters())) return this.matmulColumnOwner(s, m, kk, n, names);
    this.elementLoop(m, n, (r, c, slot) => {
      const body = () => {
        const acc = this.fresh('acc');
        this.emit(this.declVar(acc, 'f32', this.floatLit(0)));
        const x = this.fresh('x');
        this.loop(x, this.intLit(0), this.intLit(kk), this.intLit(1), () => {
          const a = s.transA ? this.at(s.a.tile, x, r, names['a']) : this.at(s.a.tile, r, x, names['a']);
          const bb = s.transB ? this.at(s.b.tile, c, x, names['b']) : this.at(s.b.tile, x, c, names['b']);
          this.emit(`${acc} = ${acc} + ${a} * ${bb};`);
        });
        const target = reg ? `${this.regRef(s.dst.tile)}[${slot}]` : this.at(s.dst.tile, r, c, names['d']);
        this.emit(`${target} = ${this.matmulUpdate(s, target, acc, names)};`);
      };
      if (s.mask) {
        const keep = s.mask === 'lower' ? `${c} <= ${r}` : `${c} < ${r}`;
        this.block(`if (${keep})`, body);
        if (s.acc === 'set') this.block('else', () => this.emit(`${reg ? `${this.regRef(s.dst.tile)}[${slot}]` : this.at(s.dst.tile, r, c, names['d'])} = ${this.floatLit(0)};`));
      } else body();
    }, reg ? D.t : undefined);
  }

  /**
   * How a matmul's output is spread over the threads (register blocking): every thread owns nc
   * columns and mr rows of it. A step of the reduction loads the thread's A elements (mr, or mr/4
   * groups where A is a quad tile read 4 at a time) and B elements (nc, or nc/4 groups) for mr·nc
   * products. Only shapes that keep every thread busy (a pass of T threads covers at most m rows),
   * with at most MAX_MATMUL_SLOTS accumulators; the fewest loads per step wins. Rows are strided
   * (r, r + T·nc/n, …) — or, for A read transposed from a quad tile, 4·j consecutive rows per
   * thread, so a step reads them as groups of its row. Register outputs keep one column per thread,
   * strided rows: their slots are laid out that way.
   */
  private matmulLayout(s: Extract<Stmt, { op: 'matmul' }>, m: number, kk: number, n: number, reg: boolean): { nc: number; consecutive: boolean } {
    let best = { nc: 1, consecutive: false };
    let bestLoads = Infinity;
    const byFour = this.reductionCopies(kk) === 4 && kk % 4 === 0;
    const aQuads = byFour && !s.transA && this.quads.has(s.a.tile);
    const bQuads = byFour && s.transB && this.quads.has(s.b.tile);
    const aRowQuads = !reg && s.transA && this.quads.has(s.a.tile);
    for (const nc of reg ? [1] : [1, 2, 4, 8]) {
      const L = n / nc;
      if (!Number.isInteger(L) || this.T % L !== 0) continue;
      const step = this.T / L;
      const mr = Math.ceil(m / step);
      if (mr * nc > MAX_MATMUL_SLOTS || (nc > 1 && step > m)) continue;
      const bLoads = bQuads && nc % 4 === 0 ? nc / 4 : nc;
      const layouts: [boolean, number][] = [[false, (aQuads ? mr / 4 : mr) + bLoads]];
      if (aRowQuads && m % step === 0 && mr % 4 === 0) layouts.push([true, mr / 4 + bLoads]);
      for (const [consecutive, loads] of layouts)
        if (loads < bestLoads) {
          best = { nc, consecutive };
          bestLoads = loads;
        }
    }
    return best;
  }

  /**
   * A matmul whose output width n divides the thread count: every thread owns nc columns
   * c + j·(n / nc), c = lid % (n / nc) (consecutive lanes, consecutive columns: no bank conflicts),
   * and mr rows (matmulLayout) — with nc = 1 and strided rows the same elements (and register
   * slots) as the element loop. The reduction runs outermost: each step loads the thread's A and B
   * elements once into registers and updates its mr × nc accumulators; quad tiles are read 4 words
   * at a time (4 steps of a row, or 4 consecutive rows of a transposed A).
   * Where fewer rows than one pass covers, only the threads that own an element take part, and
   * successive such matmuls between two barriers take successive threads (the second of two
   * 256-thread matmuls runs on threads 256–511 of 512, alongside the first): shared outputs only.
   */
  private matmulColumnOwner(s: Extract<Stmt, { op: 'matmul' }>, m: number, kk: number, n: number, names: Record<string, string>): void {
    this.matmulGroup([{ s, names }], m, kk, n);
  }

  /**
   * Matmuls that read the same B (a view of one tile, the same transpose) with the same output
   * shape and layout, printed as one: each reduction step loads B once for all of them. Gated
   * DeltaNet's K S and Q S of a key slice: 6 loads per 4 steps instead of 12 (a dialect hook:
   * fuseSharedOperands). False where they do not qualify (printed one by one).
   */
  protected fusedMatmuls(s: Extract<Stmt, { op: 'matmul' }>, t: Extract<Stmt, { op: 'matmul' }>): boolean {
    if (!this.fuseSharedOperands()) return false;
    const key = (e?: SExpr) => (e ? sexprKey(e) : '');
    if (s.b.tile !== t.b.tile || key(s.b.r0) !== key(t.b.r0) || s.b.rows !== t.b.rows || s.transB !== t.transB || s.dst.tile === t.dst.tile) return false;
    // Neither reads what the other writes.
    if ([t.a.tile, t.b.tile].includes(s.dst.tile) || [s.a.tile, s.b.tile].includes(t.dst.tile)) return false;
    const one = this.matmulShape(s);
    const two = this.matmulShape(t);
    if (one.m !== two.m || one.kk !== two.kk || one.n !== two.n) return false;
    const { m, kk, n } = one;
    const owners = [one, two].every(({ D }) => this.T % n === 0 && Math.ceil(m / (this.T / n)) <= MAX_MATMUL_SLOTS && (D.t.space !== 'register' || this.standardRegisters()));
    if (!owners) return false;
    const la = this.matmulLayout(s, m, kk, n, one.D.t.space === 'register');
    const lb = this.matmulLayout(t, m, kk, n, two.D.t.space === 'register');
    const step = this.T / (n / la.nc);
    if (la.nc !== lb.nc || la.consecutive !== lb.consecutive || step > m || 2 * Math.ceil(m / step) * la.nc > MAX_MATMUL_SLOTS) return false;
    const group = [s, t].map((x) => ({ s: x, names: this.matmulConsts(x) }));
    this.matmulGroup(group, m, kk, n);
    return true;
  }

  /** Whether matmuls sharing their B operand are printed as one (fusedMatmuls). None by default. */
  protected fuseSharedOperands(): boolean {
    return false;
  }

  /** The matmuls of a group (one, or several sharing B and the layout of the first) as one reduction loop. */
  private matmulGroup(group: { s: Extract<Stmt, { op: 'matmul' }>; names: Record<string, string> }[], m: number, kk: number, n: number): void {
    const i = (v: number) => this.intLit(v);
    const s = group[0]!.s;
    const bNames = group[0]!.names;
    const reg = this.tiles.get(s.dst.tile)!.space === 'register';
    const { nc, consecutive } = this.matmulLayout(s, m, kk, n, reg);
    const lanes = n / nc;
    const step = this.T / lanes;
    const slots = Math.ceil(m / step);
    // Fewer rows than one pass covers: only the threads that own an element take part.
    const few = step > m;
    const busy = m * lanes;
    let first = 0;
    if (few && !reg) {
      first = this.fewThreads + busy <= this.T ? this.fewThreads : 0;
      this.fewThreads = first + busy;
    }
    const partial = (k: number) => !few && !consecutive && (k + 1) * step > m;
    const byFour = this.reductionCopies(kk) === 4 && kk % 4 === 0;
    const aQuads = group.map((g) => byFour && !g.s.transA && this.quads.has(g.s.a.tile));
    const bQuads = byFour && s.transB && this.quads.has(s.b.tile);
    const guard = !few ? '' : first === 0 ? `if (lid < ${i(busy)})` : `if (lid >= ${i(first)} && lid < ${i(first + busy)})`;
    this.block(guard, () => {
      const c = this.fresh('mc');
      const r = this.fresh('mr');
      const l = first === 0 ? 'lid' : `(lid - ${i(first)})`;
      this.emit(this.declConst(c, 'i32', `${l} % ${i(lanes)}`));
      this.emit(this.declConst(r, 'i32', `${l} / ${i(lanes)}`));
      const row = (k: number) => (consecutive ? `(${r} * ${i(slots)} + ${i(k)})` : k === 0 ? r : `(${r} + ${i(k * step)})`);
      const col = (j: number) => (j === 0 ? c : `(${c} + ${i(j * lanes)})`);
      // Rows past m (a last partial pass) read row m − 1 and are not written.
      const readRow = (k: number) => (partial(k) ? this.call('min', [row(k), i(m - 1)]) : row(k));
      const acc = group.map(() => Array.from({ length: slots }, () => Array.from({ length: nc }, () => this.fresh('acc'))));
      for (const a of acc.flat(2)) this.emit(this.declVar(a, 'f32', this.floatLit(0)));
      const quad = (tile: string, rr: string, q: string, r0?: string) => {
        const v = this.fresh('q');
        this.emit(this.declQuad(v, this.quadAt(tile, rr, q, r0)));
        return v;
      };
      /** The products of step x, given its A and B values (quads: a group per row or column, component t). */
      const products = (step: () => string, aq: (string[] | undefined)[], bq: string[] | undefined, t: number) => {
        let named: string | undefined;
        const xv = () => (named ??= step());
        const bv = Array.from({ length: nc }, (_, j) => {
          if (bq) return this.quadPart(bq[j]!, t);
          const x = xv();
          const v = this.fresh('bv');
          this.emit(this.declConst(v, 'f32', s.transB ? this.at(s.b.tile, col(j), x, bNames['b']) : this.at(s.b.tile, x, col(j), bNames['b'])));
          return v;
        });
        group.forEach(({ s: g, names }, gi) => {
          // A transposed from a quad tile, consecutive rows: each step reads the rows as groups.
          const rowGroups = consecutive ? Array.from({ length: slots / 4 }, (_, q) => quad(g.a.tile, xv(), slots === 4 ? r : `${r} * ${i(slots / 4)} + ${i(q)}`, names['a'])) : undefined;
          // One column: each A element is used once, in place; more: loaded once into a const.
          const av = acc[gi]!.map((_, k) => {
            if (aq[gi]) return this.quadPart(aq[gi]![k]!, t);
            if (rowGroups) return this.quadPart(rowGroups[Math.floor(k / 4)]!, k % 4);
            const x = xv();
            const a = g.transA ? this.at(g.a.tile, x, readRow(k), names['a']) : this.at(g.a.tile, readRow(k), x, names['a']);
            if (nc === 1) return a;
            const v = this.fresh('av');
            this.emit(this.declConst(v, 'f32', a));
            return v;
          });
          acc[gi]!.forEach((rowAcc, k) => rowAcc.forEach((a, j) => this.emit(`${a} = ${a} + ${av[k]} * ${bv[j]};`)));
        });
      };
      if (aQuads.some(Boolean) || bQuads) {
        // Four steps per iteration, the quad operands read once for them.
        const xi = this.fresh('xi');
        this.loop(xi, i(0), i(kk / 4), i(1), () => {
          const aq = group.map(({ s: g, names }, gi) => (aQuads[gi] ? acc[gi]!.map((_, k) => quad(g.a.tile, readRow(k), xi, names['a'])) : undefined));
          const bq = bQuads ? Array.from({ length: nc }, (_, j) => quad(s.b.tile, col(j), xi, bNames['b'])) : undefined;
          for (let t = 0; t < 4; t++)
            this.block('', () =>
              products(
                () => {
                  const x = this.fresh('x');
                  this.emit(this.declConst(x, 'i32', t === 0 ? `${xi} * ${i(4)}` : `${xi} * ${i(4)} + ${i(t)}`));
                  return x;
                },
                aq,
                bq,
                t,
              ),
            );
        });
      } else this.reductionLoop(kk, (x) => products(() => x, group.map(() => undefined), undefined, 0));
      group.forEach(({ s: g, names }, gi) =>
        acc[gi]!.forEach((rowAcc, k) =>
          rowAcc.forEach((a, j) => {
            const rk = row(k);
            const cj = col(j);
            const target = this.tiles.get(g.dst.tile)!.space === 'register' ? `${this.regRef(g.dst.tile)}[${i(k)}]` : this.at(g.dst.tile, rk, cj, names['d']);
            const value = this.matmulUpdate(g, target, a, names);
            const write = () => {
              if (!g.mask) return this.emit(`${target} = ${value};`);
              const keep = g.mask === 'lower' ? `${cj} <= ${rk}` : `${cj} < ${rk}`;
              if (g.acc === 'set') this.emit(`${target} = ${this.select(keep, a, this.floatLit(0))};`);
              else this.block(`if (${keep})`, () => this.emit(`${target} = ${value};`));
            };
            if (partial(k)) this.block(`if (${rk} < ${i(m)})`, write);
            else write();
          }),
        ),
      );
    });
  }

  protected reduceOp(s: Extract<Stmt, { op: 'reduce' }>): void {
    const src = this.tiles.get(s.src)!;
    const byRow = s.axis === 'cols';
    const outer = byRow ? src.rows : src.cols;
    const inner = byRow ? src.cols : src.rows;
    const i = this.fresh('i');
    this.loop(i, 'lid', this.intLit(outer), this.intLit(this.T), () => {
      const acc = this.fresh('acc');
      this.emit(this.declVar(acc, 'f32', s.fn === 'sum' ? this.floatLit(0) : this.floatLit(-3.0e38)));
      const j = this.fresh('j');
      this.loop(j, this.intLit(0), this.intLit(inner), this.intLit(1), () => {
        const x = byRow ? this.at(s.src, i, j) : this.at(s.src, j, i);
        this.emit(`${acc} = ${s.fn === 'sum' ? `${acc} + ${x}` : this.call('max', [acc, x])};`);
      });
      this.emit(`${byRow ? this.at(s.dst, i, this.intLit(0)) : this.at(s.dst, this.intLit(0), i)} = ${acc};`);
    });
  }

  protected cumsumOp(s: Extract<Stmt, { op: 'cumsum' }>): void {
    const src = this.tiles.get(s.src)!;
    const c = this.fresh('col');
    this.loop(c, 'lid', this.intLit(src.cols), this.intLit(this.T), () => {
      const acc = this.fresh('acc');
      this.emit(this.declVar(acc, 'f32', this.floatLit(0)));
      const r = this.fresh('row');
      this.loop(r, this.intLit(0), this.intLit(src.rows), this.intLit(1), () => {
        this.emit(`${acc} = ${acc} + ${this.at(s.src, r, c)};`);
        this.emit(`${this.at(s.dst, r, c)} = ${acc};`);
      });
    });
  }

  /**
   * Rows up to which a triangular solve is written out in full (each thread's column held in
   * named registers, every product a line: no dependence through memory between rows). 0: none.
   */
  protected unrolledSolveRows(): number {
    return 0;
  }

  /** A line after each row of a written-out solve (CUDA: a compiler fence), or none. */
  protected solveRowFence(): string | undefined {
    return undefined;
  }

  /**
   * Rows per diagonal block of a blocked triangular solve, for tiles of more rows than
   * unrolledSolveRows (0: none, the row-by-row loop).
   */
  protected solveBlockRows(): number {
    return 0;
  }

  /**
   * Rows r0 … r0 + rows − 1 of a solve written out for column c: each row's products with the rows
   * before it in this block (held in named registers), from B's values as they stand.
   */
  private solveRowsWrittenOut(s: Extract<Stmt, { op: 'trisolve' }>, c: string, r0: number, rows: number): void {
    const i = (v: number) => this.intLit(v);
    const xs: string[] = [];
    for (let r = 0; r < rows; r++) {
      const x = this.fresh('xs');
      this.emit(this.declVar(x, 'f32', this.at(s.b, i(r0 + r), c)));
      // Row r's r products in up to 4 independent sums (product j into sum j mod parts), added
      // at the end: a chain of about r / parts dependent multiply-adds instead of r.
      const parts = r >= 8 ? 4 : r >= 4 ? 2 : 1;
      const sums = [x, ...Array.from({ length: parts - 1 }, () => this.fresh('xp'))];
      for (const p of sums.slice(1)) this.emit(this.declVar(p, 'f32', this.floatLit(0)));
      for (let j = 0; j < r; j++) {
        const p = sums[j % parts]!;
        this.emit(`${p} = ${p} ${s.sign > 0 ? '-' : '+'} ${this.at(s.a, i(r0 + r), i(r0 + j))} * ${xs[j]};`);
      }
      if (parts === 4) this.emit(`${x} = (${x} + ${sums[1]}) + (${sums[2]} + ${sums[3]});`);
      else if (parts === 2) this.emit(`${x} = ${x} + ${sums[1]};`);
      this.emit(`${this.at(s.b, i(r0 + r), c)} = ${x};`);
      const fence = this.solveRowFence();
      if (fence && r < rows - 1) this.emit(fence);
      xs.push(x);
    }
  }

  protected trisolveOp(s: Extract<Stmt, { op: 'trisolve' }>): void {
    const B = this.tiles.get(s.b)!;
    const i = (v: number) => this.intLit(v);
    const c = this.fresh('col');
    if (B.rows <= this.unrolledSolveRows()) {
      this.loop(c, 'lid', i(B.cols), i(this.T), () => this.solveRowsWrittenOut(s, c, 0, B.rows));
      return;
    }
    const blk = this.solveBlockRows();
    if (blk > 0 && B.rows % blk === 0) {
      // Blocked forward substitution: for each block of rows in order, its rows less the products
      // with every row solved before it (all threads, one element each), then the block's own
      // solve written out (a thread per column): a chain of blk rows per block instead of all rows
      // in one, and the products off it.
      for (let r0 = 0; r0 < B.rows; r0 += blk) {
        if (r0 > 0) {
          this.elementLoop(blk, B.cols, (r, cc) => {
            const row = `${i(r0)} + ${r}`;
            const parts = Array.from({ length: 4 }, () => this.fresh('bp'));
            parts.forEach((p, n) => this.emit(this.declVar(p, 'f32', n === 0 ? this.at(s.b, r, cc, i(r0)) : this.floatLit(0))));
            const j = this.fresh('j');
            this.loop(j, i(0), i(r0), i(4), () => {
              parts.forEach((p, n) => {
                const jj = `(${j} + ${i(n)})`;
                this.emit(`${p} = ${p} ${s.sign > 0 ? '-' : '+'} ${this.at(s.a, `(${row})`, jj)} * ${this.at(s.b, jj, cc)};`);
              });
            });
            this.emit(`${this.at(s.b, r, cc, i(r0))} = (${parts[0]} + ${parts[1]}) + (${parts[2]} + ${parts[3]});`);
          });
          this.emit(this.barrier());
          this.fewThreads = 0;
        }
        this.loop(c, 'lid', i(B.cols), i(this.T), () => this.solveRowsWrittenOut(s, c, r0, blk));
        if (r0 + blk < B.rows) {
          this.emit(this.barrier());
          this.fewThreads = 0;
        }
      }
      return;
    }
    this.loop(c, 'lid', i(B.cols), i(this.T), () => {
      const r = this.fresh('row');
      this.loop(r, i(0), i(B.rows), i(1), () => {
        const acc = this.fresh('acc');
        this.emit(this.declVar(acc, 'f32', this.at(s.b, r, c)));
        const j = this.fresh('j');
        this.loop(j, i(0), r, i(1), () => {
          this.emit(`${acc} = ${acc} ${s.sign > 0 ? '-' : '+'} ${this.at(s.a, r, j)} * ${this.at(s.b, j, c)};`);
        });
        this.emit(`${this.at(s.b, r, c)} = ${acc};`);
      });
    });
  }

  protected storeOp(s: Extract<Stmt, { op: 'store' }>): void {
    const t = this.tiles.get(s.src)!;
    const reg = t.space !== 'shared';
    const b = this.buffer(s.dst.buf);
    this.elementLoop(t.rows, t.cols, (r, c, slot) => {
      const ctx: ExprCtx = slot ? { slot, slotOf: t } : {};
      let cond = '';
      this.withExprs(() => {
        cond = `${r} < ${this.expr(s.dst.rows, ctx, 'i32')} && ${c} < ${this.expr(s.dst.cols, ctx, 'i32')}`;
        return [];
      });
      this.block(`if (${cond})`, () => this.withExprs(() => this.storeBuf(b, this.expr(s.dst.index, ctx, 'i32'), this.expr(s.value, ctx, 'f32'))));
    }, reg ? t : undefined);
  }

  /** The kernel body, after the dialect's prologue. */
  protected body(): string[] {
    this.stmts(this.k.body);
    return this.lines;
  }
}
