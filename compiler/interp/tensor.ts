/** Dense row-major float64 tensors for the interpreter's inputs and outputs. */

export interface Tensor {
  shape: number[];
  data: Float64Array;
}

export function tensor(shape: number[], data?: Float64Array | number[]): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const d = data ? Float64Array.from(data) : new Float64Array(n);
  if (d.length !== n) throw new Error(`internal: tensor of shape [${shape}] needs ${n} values, got ${d.length}`);
  return { shape, data: d };
}

export function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

/** Offset of a leading index prefix; the rest of the tensor after it is contiguous. */
export function offsetOf(t: Tensor, prefix: number[]): number {
  const st = strides(t.shape);
  let o = 0;
  for (let i = 0; i < prefix.length; i++) o += prefix[i]! * st[i]!;
  return o;
}

export function shapeString(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** ‖a − b‖₂ / ‖b‖₂ (FLA's criterion), and the largest absolute difference. */
export function compareTensors(a: Float64Array, b: Float64Array): { relErr: number; maxAbs: number } {
  let num = 0;
  let den = 0;
  let maxAbs = 0;
  for (let i = 0; i < b.length; i++) {
    const d = a[i]! - b[i]!;
    num += d * d;
    den += b[i]! * b[i]!;
    maxAbs = Math.max(maxAbs, Math.abs(d));
  }
  if (a.length !== b.length) return { relErr: Infinity, maxAbs: Infinity };
  return { relErr: den === 0 ? Math.sqrt(num) : Math.sqrt(num / den), maxAbs };
}
