/** Analyses of kernel IR shared by the passes, the interpreter and the backends. */
import type { SExpr, Stmt } from './types.ts';

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

/**
 * Tiles the body reads or writes. A store's source tile only lends the store its shape (the value
 * is an expression), so a shared tile used for nothing else needs no memory: the backends do not
 * declare it and `sharedBytes` does not count it.
 */
export function usedTiles(body: Stmt[]): Set<string> {
  const out = new Set<string>();
  const walk = (ss: Stmt[]) => {
    for (const s of ss) {
      const a = tileAccess(s);
      for (const t of a.reads) out.add(t);
      for (const t of a.writes) out.add(t);
      if (s.op === 'for') walk(s.body);
      else if (s.op === 'if') {
        walk(s.then);
        walk(s.else);
      }
    }
  };
  walk(body);
  return out;
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
  const walk = (ss: Stmt[]): void => {
    for (const s of ss) {
      if (s.op === 'let' && readsMemory(s.value)) out.add(s.name);
      else if (s.op === 'for') walk(s.body);
      else if (s.op === 'if') {
        walk(s.then);
        walk(s.else);
      }
    }
  };
  walk(body);
  return out;
}
