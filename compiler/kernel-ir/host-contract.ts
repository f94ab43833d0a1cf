/**
 * The host contract of a compiled program, dependency-free so that generated packages can ship it
 * beside their runtime: how run shapes become uniform params, how sequence offsets and per-token
 * positions are laid out, and how size and grid expressions are evaluated.
 * (compiler/passes/buffers.ts documents the buffer layout.)
 */

/** Kernel-IR expressions as plain JSON data (a subset: no tiles, buffers or workgroup ids). */
export type SizeExpr =
  | { k: 'const'; v: number; t: string }
  | { k: 'var'; name: string }
  | { k: 'un'; fn: string; a: SizeExpr }
  | { k: 'bin'; fn: string; a: SizeExpr; b: SizeExpr }
  | { k: 'sel'; c: SizeExpr; a: SizeExpr; b: SizeExpr }
  | { k: string; [key: string]: unknown };

export function evalSize(e: SizeExpr, params: Record<string, number>): number {
  const ev = (x: SizeExpr): number => {
    switch (x.k) {
      case 'const':
        return (x as { v: number }).v;
      case 'var': {
        const v = params[(x as { name: string }).name];
        if (v === undefined) throw new Error(`attnc: size expression uses the unknown parameter '${(x as { name: string }).name}'`);
        return v;
      }
      case 'un': {
        const u = x as { fn: string; a: SizeExpr };
        const a = ev(u.a);
        if (u.fn === 'int') return Math.trunc(a);
        if (u.fn === 'neg') return -a;
        return a;
      }
      case 'bin': {
        const u = x as { fn: string; a: SizeExpr; b: SizeExpr };
        const a = ev(u.a);
        const b = ev(u.b);
        switch (u.fn) {
          case 'add':
            return a + b;
          case 'sub':
            return a - b;
          case 'mul':
            return a * b;
          case 'div':
            return a / b;
          case 'idiv':
            return Math.trunc(a / b);
          case 'mod':
            return a % b;
          case 'min':
            return Math.min(a, b);
          case 'max':
            return Math.max(a, b);
          case 'lt':
            return a < b ? 1 : 0;
          case 'eq':
            return a === b ? 1 : 0;
          case 'ne':
            return a !== b ? 1 : 0;
        }
        throw new Error(`attnc: unsupported operator '${u.fn}' in a size expression`);
      }
      case 'sel': {
        const u = x as { c: SizeExpr; a: SizeExpr; b: SizeExpr };
        return ev(u.c) ? ev(u.a) : ev(u.b);
      }
    }
    throw new Error(`attnc: unsupported '${x.k}' in a size expression`);
  };
  return ev(e);
}

export interface RunDims {
  B: number;
  T: number;
  /** Output heads. */
  H: number;
  /** Heads of per-token inputs that differ from H (GQA/GVA). */
  heads?: Record<string, number>;
  /** Packed variable-length sequences (B must be 1): offsets [0, …, T]. */
  cuSeqlens?: number[];
  hasInitialState?: boolean;
  storeFinalState?: boolean;
}

/** Sequence offsets in the flattened token axis: the given cu_seqlens, or [0, T, 2T, …, B·T]. */
export function sequenceOffsets(d: RunDims): number[] {
  if (d.cuSeqlens) return d.cuSeqlens.slice();
  return Array.from({ length: d.B + 1 }, (_, b) => b * d.T);
}

/** [position in its sequence, sequence length] of every token. */
export function tokenInfo(d: RunDims): Int32Array {
  const cu = sequenceOffsets(d);
  const out = new Int32Array(d.B * d.T * 2);
  for (let n = 0; n + 1 < cu.length; n++) {
    const len = cu[n + 1]! - cu[n]!;
    for (let t = 0; t < len; t++) {
      out[2 * (cu[n]! + t)] = t;
      out[2 * (cu[n]! + t) + 1] = len;
    }
  }
  return out;
}

/** The uniform params of every kernel, in the order of the WGSL Params struct. */
export function uniformParams(d: RunDims, realInputs: string[]): Record<string, number> {
  const cu = sequenceOffsets(d);
  let maxLen = 0;
  for (let n = 0; n + 1 < cu.length; n++) maxLen = Math.max(maxLen, cu[n + 1]! - cu[n]!);
  const p: Record<string, number> = {
    B: d.B,
    T: d.T,
    H: d.H,
    N: cu.length - 1,
    NT: d.B * d.T,
    MAXLEN: maxLen,
    HAS_INIT: d.hasInitialState ? 1 : 0,
    STORE_FINAL: d.storeFinalState ? 1 : 0,
  };
  for (const name of realInputs) p[`H_${name}`] = d.heads?.[name] ?? d.H;
  return p;
}
