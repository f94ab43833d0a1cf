/** A small helper for building one kernel's tiles and statements. */
import * as b from '../kernel-ir/build.ts';
import { hoistInvariants } from './hoist.ts';
import type { BufferDecl, Kernel, ParamDecl, SExpr, Space, Stmt, TileDecl, TileRef } from '../kernel-ir/types.ts';
import { ExprLowering } from './lower-expr.ts';

export class KernelBuilder {
  readonly tiles: TileDecl[] = [];
  private stack: Stmt[][] = [[]];

  constructor(readonly name: string) {}

  get body(): Stmt[] {
    return this.stack[0]!;
  }

  tile(name: string, rows: number, cols: number, space: Space = 'shared'): string {
    if (!this.tiles.some((t) => t.name === name)) this.tiles.push({ name, rows, cols, space });
    return name;
  }

  emit(...s: Stmt[]): void {
    this.stack[this.stack.length - 1]!.push(...s);
  }

  /** A barrier after every tile op keeps the kernel correct; the `barriers` pass removes the needless ones. */
  op(s: Stmt): void {
    this.emit(s, { op: 'barrier' });
  }

  let(name: string, value: SExpr): SExpr {
    this.emit({ op: 'let', name, value });
    return b.v(name);
  }

  note(text: string): void {
    this.emit({ op: 'note', text });
  }

  for(v: string, from: SExpr, to: SExpr, step: SExpr, body: () => void, note?: string): void {
    this.stack.push([]);
    body();
    const inner = this.stack.pop()!;
    this.emit({ op: 'for', v, from, to, step, body: inner, ...(note ? { note } : {}) });
  }

  if(cond: SExpr, then: () => void, otherwise?: () => void): void {
    this.stack.push([]);
    then();
    const t = this.stack.pop()!;
    this.stack.push([]);
    otherwise?.();
    const e = this.stack.pop()!;
    this.emit({ op: 'if', cond, then: t, else: e });
  }

  map(dst: string | TileRef, expr: SExpr, guard?: { rows: SExpr; cols: SExpr; fill: number }): void {
    this.op({ op: 'map', dst: typeof dst === 'string' ? { tile: dst } : dst, expr, ...(guard ? { guard } : {}) });
  }

  matmul(dst: string | TileRef, a: string | TileRef, bb: string | TileRef, opts: { transA?: boolean; transB?: boolean; acc?: 'set' | 'add' | 'sub'; mask?: 'lower' | 'strict'; scale?: SExpr } = {}): void {
    const r = (x: string | TileRef) => (typeof x === 'string' ? { tile: x } : x);
    if (opts.scale && ((opts.acc ?? 'set') === 'set' || opts.mask)) throw new Error('internal: a matmul scale needs acc add or sub and no mask');
    this.op({ op: 'matmul', dst: r(dst), a: r(a), b: r(bb), transA: opts.transA ?? false, transB: opts.transB ?? false, acc: opts.acc ?? 'set', ...(opts.mask ? { mask: opts.mask } : {}), ...(opts.scale ? { scale: opts.scale } : {}) });
  }

  /** Adopt the tiles and statements of an expression lowering. */
  absorb(l: ExprLowering): void {
    for (const t of l.tiles) this.tiles.push(t);
    this.emit(...l.stmts);
    l.stmts = [];
  }

  build(grid: [SExpr, SExpr, SExpr], threads: number, params: ParamDecl[], buffers: BufferDecl[], doc: string): Kernel {
    const used = usedBuffers(this.body);
    const body = hoistInvariants(this.body, new Set(buffers.filter((x) => x.role === 'param').map((x) => x.name)));
    return { name: this.name, grid, threads, params, buffers: buffers.filter((x) => used.has(x.name)), tiles: this.tiles, body, doc };
  }
}

/** Buffers a body reads or writes. */
export function usedBuffers(body: Stmt[]): Set<string> {
  const out = new Set<string>();
  const ex = (e: SExpr | undefined): void => {
    if (!e) return;
    switch (e.k) {
      case 'ld':
        out.add(e.buf);
        ex(e.idx);
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
      case 'tile':
        ex(e.r);
        ex(e.c);
        break;
      case 'fold':
        ex(e.from);
        ex(e.to);
        ex(e.body);
        break;
      default:
        break;
    }
  };
  const st = (ss: Stmt[]): void => {
    for (const s of ss) {
      switch (s.op) {
        case 'let':
          ex(s.value);
          break;
        case 'for':
          ex(s.from);
          ex(s.to);
          st(s.body);
          break;
        case 'if':
          ex(s.cond);
          st(s.then);
          st(s.else);
          break;
        case 'store':
          out.add(s.dst.buf);
          ex(s.dst.index);
          ex(s.dst.rows);
          ex(s.dst.cols);
          ex(s.value);
          break;
        case 'map':
          ex(s.expr);
          ex(s.dst.r0);
          if (s.guard) {
            ex(s.guard.rows);
            ex(s.guard.cols);
          }
          break;
        case 'matmul':
          ex(s.dst.r0);
          ex(s.a.r0);
          ex(s.b.r0);
          ex(s.scale);
          break;
        default:
          break;
      }
    }
  };
  st(body);
  return out;
}
