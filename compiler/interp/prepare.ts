/**
 * Per-token quantities of one (sequence, head): q̃_t, k̃_t, ṽ_t, the log-gate g_t and the rule's
 * arguments, evaluated from the IR's expressions. Every form (recurrent, chunk, parallel) starts
 * from these, so the forms differ only in how they combine them — never in what they mean.
 */
import type { AttentionIR } from '../ir/attention-ir.ts';
import type { At, IndexVar, TExpr } from '../ir/expr.ts';
import { compileExpr, type Compiled, type EvalEnv } from './eval.ts';
import type { RunInputs, RunShape } from './inputs.ts';
import { mat, type Value } from './values.ts';
import type { Tensor } from './tensor.ts';

export interface Sequence {
  /** Index of the sequence (0..N−1). */
  n: number;
  b: number;
  start: number;
  length: number;
}

/** Reads tensors for one (sequence, output head). */
export class TokenReader {
  constructor(
    private ir: AttentionIR,
    private run: RunInputs,
    private shape: RunShape,
    readonly seq: Sequence,
    readonly h: number,
  ) {}

  /** Number of output heads. */
  get H(): number {
    return this.shape.H;
  }

  /** A per-token input at position t of this sequence (real: scalar or vector; int: scalar). */
  input(name: string, t: number): Value {
    const x = this.run.tensors[name]!;
    const inp = this.ir.inputs.find((i) => i.name === name)!;
    const T = this.shape.T;
    const pos = this.seq.start + t;
    if (inp.type === 'int') return x.data[this.seq.b * T + pos]!;
    const Hx = x.shape[2]!;
    const hx = Math.floor((this.h * Hx) / this.shape.H);
    const d = inp.shape[0] ?? 1;
    const off = ((this.seq.b * T + pos) * Hx + hx) * d;
    return inp.shape.length === 0 ? x.data[off]! : x.data.slice(off, off + d);
  }

  param(name: string): Value {
    return tensorValue(this.run.tensors[name]!, 0, this.run.tensors[name]!.shape);
  }

  paramAt(name: string, head: number): Value {
    const x = this.run.tensors[name]!;
    const inner = x.shape.slice(1);
    const n = inner.reduce((a, b) => a * b, 1);
    return tensorValue(x, head * n, inner);
  }
}

function tensorValue(x: Tensor, off: number, shape: number[]): Value {
  if (shape.length === 0) return x.data[off]!;
  const n = shape.reduce((a, b) => a * b, 1);
  const d = x.data.slice(off, off + n);
  if (shape.length === 1) return d;
  return mat(shape[0]!, shape[1]!, d);
}

/** An environment at token t (per-token contexts: features, gate, rule arguments, epilogue). */
export function tokenEnv(r: TokenReader, t: number, extra: { features?: Prepared; output?: Value; states?: Record<string, Value> } = {}): EvalEnv {
  const idx = (n: IndexVar): number => {
    switch (n) {
      case 't':
        return t;
      case 'h':
        return r.h;
      case 'T':
        return r.seq.length;
      case 'H':
        return r.H;
      default:
        throw new Error(`internal: index ${n} in a per-token context`);
    }
  };
  return {
    input: (name) => r.input(name, t),
    param: (name) => r.param(name),
    paramAt: (name, head) => r.paramAt(name, head),
    feature: (which) => {
      if (!extra.features) throw new Error('internal: features are not available here');
      return extra.features[which][t]!;
    },
    state: (name) => extra.states![name]!,
    output: () => extra.output!,
    index: idx,
  };
}

export interface Prepared {
  T: number;
  q: Float64Array[];
  k: Float64Array[];
  v: Float64Array[];
  /** log-gate per token (scalar or [K']); undefined without a gate. */
  g: (number | Float64Array)[] | undefined;
  beta: number[] | undefined;
  /** Write strength s_t and, when known, log s_t. */
  scale: number[] | undefined;
  logScale: number[] | undefined;
  a: Float64Array[] | undefined;
  b: Float64Array[] | undefined;
  /** Exclusive-read bonus u per token (usually a per-head constant). */
  bonus: (number | Float64Array)[] | undefined;
}

export interface CompiledIR {
  q: Compiled;
  k: Compiled;
  v: Compiled;
  g: Compiled | undefined;
  beta: Compiled | undefined;
  scale: Compiled | undefined;
  logScale: Compiled | undefined;
  a: Compiled | undefined;
  b: Compiled | undefined;
  bonus: Compiled | undefined;
  epilogue: Compiled | undefined;
}

export function compileIR(ir: AttentionIR): CompiledIR {
  const memo = new Map<TExpr, Compiled>();
  const c = (e: TExpr | undefined) => (e ? compileExpr(e, memo) : undefined);
  const u = ir.update;
  return {
    q: c(ir.features.q)!,
    k: c(ir.features.k)!,
    v: c(ir.features.v)!,
    g: c(ir.gate.expr),
    beta: c(u?.cls === 'delta' ? u.beta : undefined),
    scale: c(u?.cls === 'additive' ? u.scale : undefined),
    logScale: c(u?.cls === 'additive' ? u.logScale : undefined),
    a: c(u?.cls === 'dplr' ? u.a : undefined),
    b: c(u?.cls === 'dplr' ? u.b : undefined),
    bonus: c(ir.read.kind === 'exclusive' ? ir.read.bonus : undefined),
    epilogue: c(ir.epilogue),
  };
}

export function prepare(cir: CompiledIR, r: TokenReader): Prepared {
  const T = r.seq.length;
  const p: Prepared = {
    T,
    q: [],
    k: [],
    v: [],
    g: cir.g ? [] : undefined,
    beta: cir.beta ? [] : undefined,
    scale: cir.scale ? [] : undefined,
    logScale: cir.logScale ? [] : undefined,
    a: cir.a ? [] : undefined,
    b: cir.b ? [] : undefined,
    bonus: cir.bonus ? [] : undefined,
  };
  const vec = (v: Value) => v as Float64Array;
  for (let t = 0; t < T; t++) {
    const env = tokenEnv(r, t);
    p.q.push(vec(cir.q(env)));
    p.k.push(vec(cir.k(env)));
    p.v.push(vec(cir.v(env)));
    if (cir.g) p.g!.push(cir.g(env) as number | Float64Array);
    if (cir.beta) p.beta!.push(cir.beta(env) as number);
    if (cir.scale) p.scale!.push(cir.scale(env) as number);
    if (cir.logScale) p.logScale!.push(cir.logScale(env) as number);
    if (cir.a) p.a!.push(vec(cir.a(env)));
    if (cir.b) p.b!.push(vec(cir.b(env)));
    if (cir.bonus) p.bonus!.push(cir.bonus(env) as number | Float64Array);
  }
  return p;
}

/** Apply the epilogue to an output row. */
export function applyEpilogue(cir: CompiledIR, r: TokenReader, t: number, o: Float64Array): Float64Array {
  if (!cir.epilogue) return o;
  return cir.epilogue(tokenEnv(r, t, { output: o })) as Float64Array;
}

export type { At };
