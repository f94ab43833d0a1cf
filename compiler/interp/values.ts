/** Values of the float64 reference interpreter: scalars, vectors and row-major matrices. */

export interface Mat {
  rows: number;
  cols: number;
  data: Float64Array;
}

export type Value = number | Float64Array | Mat;

export function isMat(v: Value): v is Mat {
  return typeof v === 'object' && !(v instanceof Float64Array);
}

export function mat(rows: number, cols: number, data = new Float64Array(rows * cols)): Mat {
  return { rows, cols, data };
}

export function asNumber(v: Value): number {
  if (typeof v !== 'number') throw new Error('internal: expected a scalar');
  return v;
}

export function asVec(v: Value): Float64Array {
  if (!(v instanceof Float64Array)) throw new Error('internal: expected a vector');
  return v;
}

export function asMat(v: Value): Mat {
  if (typeof v === 'number' || v instanceof Float64Array) throw new Error('internal: expected a matrix');
  return v;
}

export function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/** Deterministic pseudo-random numbers (mulberry32) and standard normals (Box–Muller). */
export class Rng {
  private s: number;
  private spare: number | undefined;
  constructor(seed: number) {
    this.s = seed >>> 0 || 0x9e3779b9;
  }
  uniform(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  normal(): number {
    if (this.spare !== undefined) {
      const s = this.spare;
      this.spare = undefined;
      return s;
    }
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }
}
