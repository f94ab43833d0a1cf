/** Analyses of kernel IR shared by the passes, the interpreter and the backends. */
import type { SExpr, Stmt, TileRef } from './types.ts';

/** Tiles an op reads and writes. */
export function tileAccess(s: Stmt): { reads: Set<string>; writes: Set<string> } {
  const reads = new Set<string>();
  const writes = new Set<string>();
  const ex = (e: SExpr | undefined): void => {
    if (!e) return;
    switch (e.k) {
      case 'tile':
        reads.add(e.tile);
        ex(e.r);
        ex(e.c);
        break;
      case 'un':
        ex(e.a);
        break;
      case 'bin':
        ex(e.a);
        ex(e.b);
        break;
      case 'sel':
        ex(e.c);
        ex(e.a);
        ex(e.b);
        break;
      case 'ld':
        ex(e.idx);
        break;
      case 'fold':
        ex(e.from);
        ex(e.to);
        ex(e.body);
        break;
      default:
    }
  };
  switch (s.op) {
    case 'let':
      ex(s.value);
      break;
    case 'map':
      ex(s.expr);
      ex(s.dst.r0);
      if (s.guard) {
        ex(s.guard.rows);
        ex(s.guard.cols);
      }
      writes.add(s.dst.tile);
      break;
    case 'matmul':
      reads.add(s.a.tile);
      reads.add(s.b.tile);
      if (s.acc !== 'set') reads.add(s.dst.tile);
      ex(s.scale);
      writes.add(s.dst.tile);
      break;
    case 'reduce':
    case 'cumsum':
      reads.add(s.src);
      writes.add(s.dst);
      break;
    case 'trisolve':
      reads.add(s.a);
      reads.add(s.b);
      writes.add(s.b);
      break;
    case 'store':
      ex(s.value);
      ex(s.dst.index);
      break;
    case 'for':
      ex(s.from);
      ex(s.to);
      break;
    case 'if':
      ex(s.cond);
      break;
    default:
  }
  return { reads, writes };
}

/** Rows r0 .. r0 + rows − 1 of a tile (a view, TileRef), or the whole tile (no r0 and no rows). */
export type RowBlock = TileRef;

/**
 * The row blocks an op reads and writes: a matmul's or a map's views (dst, and a matmul's
 * operands) as the rows they cover, every other tile access as the whole tile. Two ops that touch
 * disjoint row blocks of a tile need no barrier between them (barriers, the interpreter's check).
 */
export function tileBlocks(s: Stmt): { reads: RowBlock[]; writes: RowBlock[] } {
  const whole = (ts: Iterable<string>) => [...ts].map((tile): RowBlock => ({ tile }));
  if (s.op === 'matmul') {
    const reads: RowBlock[] = [s.a, s.b, ...(s.acc !== 'set' ? [s.dst] : [])];
    // Tiles the scale expression reads (whole).
    if (s.scale) walkSExpr(s.scale, (e) => void (e.k === 'tile' && reads.push({ tile: e.tile })));
    return { reads, writes: [s.dst] };
  }
  const acc = tileAccess(s);
  if (s.op === 'map') return { reads: whole(acc.reads), writes: [s.dst] };
  return { reads: whole(acc.reads), writes: whole(acc.writes) };
}

/**
 * Whether two row blocks may share an element: the same tile, and rows that overlap or cannot be
 * told apart (an offset that is not a constant).
 */
export function blocksOverlap(x: RowBlock, y: RowBlock): boolean {
  if (x.tile !== y.tile) return false;
  const span = (v: RowBlock): [number, number] | undefined => {
    if (v.rows === undefined) return v.r0 ? undefined : [0, Infinity];
    if (v.r0 && v.r0.k !== 'const') return undefined;
    const r0 = v.r0 && v.r0.k === 'const' ? v.r0.v : 0;
    return [r0, r0 + v.rows];
  };
  const a = span(x);
  const b = span(y);
  if (!a || !b) return true;
  return a[0] < b[1] && b[0] < a[1];
}

/**
 * Tiles the body reads or writes. A store's source tile only lends the store its shape (the value
 * is an expression), so a shared tile used for nothing else needs no memory: the backends do not
 * declare it and `sharedBytes` does not count it.
 */
export function usedTiles(body: Stmt[]): Set<string> {
  const { reads, writes } = deepTileAccess(body);
  return new Set([...reads, ...writes]);
}

/** Tiles read and written by statements at any depth (loop bounds and conditions included). */
export function deepTileAccess(body: Stmt[]): { reads: Set<string>; writes: Set<string> } {
  const reads = new Set<string>();
  const writes = new Set<string>();
  forEachStmt(body, (s) => {
    const a = tileAccess(s);
    for (const t of a.reads) reads.add(t);
    for (const t of a.writes) writes.add(t);
  });
  return { reads, writes };
}

/** Visit every statement of a body, loop bodies and both branches included, in order. */
export function forEachStmt(body: Stmt[], visit: (s: Stmt) => void): void {
  for (const s of body) {
    visit(s);
    if (s.op === 'for') forEachStmt(s.body, visit);
    else if (s.op === 'if') {
      forEachStmt(s.then, visit);
      forEachStmt(s.else, visit);
    }
  }
}

/** A statement with f applied to each of its own expressions (not those of nested bodies). */
export function mapStmtExprs(s: Stmt, f: (e: SExpr) => SExpr): Stmt {
  const view = <T extends { r0?: SExpr }>(v: T): T => (v.r0 ? { ...v, r0: f(v.r0) } : v);
  switch (s.op) {
    case 'let':
      return { ...s, value: f(s.value) };
    case 'for':
      return { ...s, from: f(s.from), to: f(s.to), step: f(s.step) };
    case 'if':
      return { ...s, cond: f(s.cond) };
    case 'store':
      return { ...s, value: f(s.value), dst: { ...s.dst, index: f(s.dst.index), rows: f(s.dst.rows), cols: f(s.dst.cols) } };
    case 'map':
      return { ...s, dst: view(s.dst), expr: f(s.expr), ...(s.guard ? { guard: { ...s.guard, rows: f(s.guard.rows), cols: f(s.guard.cols) } } : {}) };
    case 'matmul':
      return { ...s, dst: view(s.dst), a: view(s.a), b: view(s.b), ...(s.scale ? { scale: f(s.scale) } : {}) };
    default:
      return s;
  }
}

/** Whether an expression reads a buffer or a tile (WGSL cannot prove such a value uniform). */
export function readsMemory(e: SExpr): boolean {
  switch (e.k) {
    case 'ld':
    case 'tile':
      return true;
    case 'un':
      return readsMemory(e.a);
    case 'bin':
      return readsMemory(e.a) || readsMemory(e.b);
    case 'sel':
      return readsMemory(e.c) || readsMemory(e.a) || readsMemory(e.b);
    case 'fold':
      return readsMemory(e.body) || readsMemory(e.from) || readsMemory(e.to);
    default:
      return false;
  }
}

/** Names of the `let`s whose value reads memory (the WGSL backend broadcasts each through a workgroup variable). */
export function memoryLets(body: Stmt[]): Set<string> {
  const out = new Set<string>();
  forEachStmt(body, (s) => {
    if (s.op === 'let' && readsMemory(s.value)) out.add(s.name);
  });
  return out;
}

/** The operands of an expression node, in order. */
export function operands(e: SExpr): SExpr[] {
  switch (e.k) {
    case 'un':
      return [e.a];
    case 'bin':
      return [e.a, e.b];
    case 'sel':
      return [e.c, e.a, e.b];
    case 'ld':
      return [e.idx];
    case 'tile':
      return [e.r, e.c];
    case 'fold':
      return [e.from, e.to, e.body];
    default:
      return [];
  }
}

/** `e` with each operand replaced by f(operand): one level of a rewrite. */
export function mapOperands(e: SExpr, f: (x: SExpr) => SExpr): SExpr {
  switch (e.k) {
    case 'un':
      return { ...e, a: f(e.a) };
    case 'bin':
      return { ...e, a: f(e.a), b: f(e.b) };
    case 'sel':
      return { ...e, c: f(e.c), a: f(e.a), b: f(e.b) };
    case 'ld':
      return { ...e, idx: f(e.idx) };
    case 'tile':
      return { ...e, r: f(e.r), c: f(e.c) };
    case 'fold':
      return { ...e, from: f(e.from), to: f(e.to), body: f(e.body) };
    default:
      return e;
  }
}

/** `e` with the node `target` (by identity; a load: every load of its element) replaced by `by`. */
export function replaceNode(e: SExpr, target: SExpr, by: SExpr): SExpr {
  const go = (x: SExpr): SExpr => (sameLoad(x, target) ? by : mapOperands(x, go));
  return go(e);
}

/**
 * Whether `target` (a load: some load of its element) is evaluated whenever `e` is: not under a
 * select's branches, in a fold, or in the second operand of && / || (which C++ may skip).
 */
export function unconditional(e: SExpr, target: SExpr): boolean {
  if (sameLoad(e, target)) return true;
  const always = e.k === 'sel' ? [e.c] : e.k === 'fold' ? [] : e.k === 'bin' && (e.fn === 'and' || e.fn === 'or') ? [e.a] : operands(e);
  return always.some((x) => unconditional(x, target));
}

/** The distinct buffer loads of an expression: loads of one element (sameLoad) count once. */
export function loadsOf(e: SExpr): Extract<SExpr, { k: 'ld' }>[] {
  const out: Extract<SExpr, { k: 'ld' }>[] = [];
  walkSExpr(e, (x) => {
    if (x.k === 'ld' && !out.some((y) => sameLoad(x, y))) out.push(x);
  });
  return out;
}

/** Whether `x` is the node `y`, or both are loads of one element (equal buffer and index). */
export function sameLoad(x: SExpr, y: SExpr): boolean {
  return x === y || (x.k === 'ld' && y.k === 'ld' && x.buf === y.buf && JSON.stringify(x.idx) === JSON.stringify(y.idx));
}

/** Visit every node of an expression. */
export function walkSExpr(e: SExpr, f: (e: SExpr) => void): void {
  f(e);
  for (const x of operands(e)) walkSExpr(x, f);
}

/** Whether the variable `name` occurs in `e`. */
export function usesVar(e: SExpr, name: string): boolean {
  let found = false;
  walkSExpr(e, (x) => {
    if (x.k === 'var' && x.name === name) found = true;
  });
  return found;
}
