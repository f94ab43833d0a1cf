/** Types of kernel-IR expressions as the backends print them: f32 values, i32 indices, booleans. */
import type { Kernel, SExpr, Stmt } from '../../compiler/kernel-ir/types.ts';

export type CType = 'f32' | 'i32' | 'bool';

const FLOAT_UN = new Set(['exp', 'exp2', 'log', 'log2', 'sqrt', 'rsqrt', 'sigmoid', 'logsigmoid', 'softplus', 'silu', 'elu', 'relu', 'tanh', 'sin', 'cos', 'floor', 'float']);

export class Typer {
  private vars = new Map<string, CType>();

  /** A variable a printer introduces (e.g. a loaded value), with its type. */
  declareVar(name: string, t: CType): void {
    this.vars.set(name, t);
  }
  constructor(private k: Kernel) {
    for (const p of k.params) this.vars.set(p.name, p.type === 'f32' ? 'f32' : 'i32');
    for (const v of ['r', 'c']) this.vars.set(v, 'i32');
    this.declare(k.body);
  }

  private declare(body: Stmt[]): void {
    for (const s of body) {
      if (s.op === 'let') this.vars.set(s.name, this.of(s.value));
      else if (s.op === 'for') {
        this.vars.set(s.v, 'i32');
        this.declare(s.body);
      } else if (s.op === 'if') {
        this.declare(s.then);
        this.declare(s.else);
      }
    }
  }

  bufferType(name: string): CType {
    const b = this.k.buffers.find((x) => x.name === name);
    return b && (b.dtype === 'i32' || b.dtype === 'u32') ? 'i32' : 'f32';
  }

  of(e: SExpr): CType {
    switch (e.k) {
      case 'const':
        return e.t === 'f' ? 'f32' : e.t === 'i' ? 'i32' : 'bool';
      case 'var':
        return this.vars.get(e.name) ?? 'i32';
      case 'wg':
        return 'i32';
      case 'un':
        if (e.fn === 'not') return 'bool';
        if (e.fn === 'int') return 'i32';
        if (FLOAT_UN.has(e.fn)) return 'f32';
        return this.of(e.a);
      case 'bin': {
        if (['lt', 'le', 'gt', 'ge', 'eq', 'ne', 'and', 'or'].includes(e.fn)) return 'bool';
        if (e.fn === 'pow' || e.fn === 'div') return 'f32';
        if (e.fn === 'idiv' || e.fn === 'mod') return 'i32';
        return this.of(e.a) === 'f32' || this.of(e.b) === 'f32' ? 'f32' : 'i32';
      }
      case 'sel': {
        const a = this.of(e.a);
        const b = this.of(e.b);
        return a === 'f32' || b === 'f32' ? 'f32' : a;
      }
      case 'ld':
        return this.bufferType(e.buf);
      case 'tile':
        return 'f32';
      case 'fold':
        this.vars.set(e.v, 'i32');
        return this.of(e.body) === 'i32' ? 'i32' : 'f32';
    }
  }
}
