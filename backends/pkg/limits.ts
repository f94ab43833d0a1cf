/**
 * Workgroup memory as WebGPU counts it against `maxComputeWorkgroupStorageSize`: every
 * `var<workgroup>` of a shader, each rounded up to 16 bytes (WebGPU §"compute stage limits").
 * `attnc pack` checks the limits it ships against the WGSL it ships with this.
 */

const SCALAR: Record<string, number> = { f32: 4, i32: 4, u32: 4, f16: 2, bool: 4 };

/** [size, align] of a WGSL type made of scalars, vectors and fixed-size arrays; undefined otherwise. */
export function wgslTypeLayout(type: string): [number, number] | undefined {
  const t = type.replace(/\s+/g, '');
  if (t in SCALAR) return [SCALAR[t]!, SCALAR[t]!];
  const vec = /^vec([234])<(\w+)>$/.exec(t) ?? /^vec([234])([fiuh])$/.exec(t);
  if (vec) {
    const n = Number(vec[1]);
    const el = vec[2]!.length === 1 ? { f: 'f32', i: 'i32', u: 'u32', h: 'f16' }[vec[2]!]! : vec[2]!;
    const s = SCALAR[el];
    if (s === undefined) return undefined;
    const align = (n === 3 ? 4 : n) * s;
    return [n * s, align];
  }
  const arr = /^array<(.+),(\d+)u?>$/.exec(t);
  if (arr) {
    const inner = wgslTypeLayout(arr[1]!);
    if (!inner) return undefined;
    const stride = Math.ceil(inner[0] / inner[1]) * inner[1];
    return [stride * Number(arr[2]), inner[1]];
  }
  return undefined;
}

/** Bytes of workgroup storage a WGSL module declares; undefined when a type is not understood. */
export function workgroupStorageBytes(code: string): number | undefined {
  let total = 0;
  for (const m of code.matchAll(/var<workgroup>\s*\w+\s*:\s*([^;]+);/g)) {
    const layout = wgslTypeLayout(m[1]!);
    if (!layout) return undefined;
    total += Math.ceil(layout[0] / 16) * 16;
  }
  return total;
}
