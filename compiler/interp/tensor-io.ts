/**
 * Reading run inputs from files: JSON ({ name: { shape, data } | number[] }) or NumPy .npz
 * archives (float16/32/64 and integer arrays, C order). Entry names: the spec's inputs and
 * parameters, plus `cu_seqlens`, `initial_state`, `initial_state.z`, `initial_state.m`.
 */
import { unzipSync } from 'fflate';
import type { RunInputs } from './inputs.ts';
import { tensor, type Tensor } from './tensor.ts';

export type TensorFile = Record<string, Tensor>;

function f16(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (m / 1024);
  if (e === 31) return m ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + m / 1024);
}

/** Parse one .npy array. */
export function parseNpy(bytes: Uint8Array): Tensor {
  const magic = String.fromCharCode(...bytes.subarray(1, 6));
  if (bytes[0] !== 0x93 || magic !== 'NUMPY') throw new Error('not a .npy array');
  const major = bytes[6]!;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hlen = major === 1 ? dv.getUint16(8, true) : dv.getUint32(8, true);
  const hstart = major === 1 ? 10 : 12;
  const header = new TextDecoder().decode(bytes.subarray(hstart, hstart + hlen));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*True/.test(header);
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1] ?? '';
  const shape = shapeText.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  if (!descr || fortran) throw new Error(`unsupported .npy header ${header.trim()}`);
  const little = descr[0] !== '>';
  const kind = descr.slice(1);
  const n = shape.reduce((a, b) => a * b, 1);
  const off = hstart + hlen;
  const out = new Float64Array(n);
  const size = Number(kind.slice(1));
  const read: Record<string, (o: number) => number> = {
    f2: (o) => f16(dv.getUint16(o, little)),
    f4: (o) => dv.getFloat32(o, little),
    f8: (o) => dv.getFloat64(o, little),
    i1: (o) => dv.getInt8(o),
    u1: (o) => dv.getUint8(o),
    i2: (o) => dv.getInt16(o, little),
    i4: (o) => dv.getInt32(o, little),
    i8: (o) => Number(dv.getBigInt64(o, little)),
    u4: (o) => dv.getUint32(o, little),
    u8: (o) => Number(dv.getBigUint64(o, little)),
    b1: (o) => dv.getUint8(o),
  };
  const r = read[kind];
  if (!r) throw new Error(`unsupported dtype '${descr}'`);
  for (let i = 0; i < n; i++) out[i] = r(off + i * size);
  return tensor(shape, out);
}

export function parseNpz(bytes: Uint8Array): TensorFile {
  const files = unzipSync(bytes);
  const out: TensorFile = {};
  for (const [name, data] of Object.entries(files)) out[name.replace(/\.npy$/, '')] = parseNpy(data);
  return out;
}

export function parseTensorJson(text: string): TensorFile {
  const j = JSON.parse(text) as Record<string, unknown>;
  const out: TensorFile = {};
  for (const [name, v] of Object.entries(j)) {
    if (Array.isArray(v)) out[name] = tensor([v.length], v.flat(Infinity) as number[]);
    else if (v && typeof v === 'object' && 'data' in v) {
      const o = v as { shape?: number[]; data: number[] };
      const data = (o.data as unknown[]).flat(Infinity) as number[];
      out[name] = tensor(o.shape ?? [data.length], data);
    } else throw new Error(`entry '${name}' must be { "shape": [...], "data": [...] } or a list`);
  }
  return out;
}

/** Split a tensor file into run inputs. */
export function toRunInputs(f: TensorFile): RunInputs {
  const tensors: Record<string, Tensor> = {};
  const run: RunInputs = { tensors };
  for (const [name, t] of Object.entries(f)) {
    if (name === 'cu_seqlens') run.cuSeqlens = Array.from(t.data);
    else if (name === 'initial_state') (run.initialState ??= { S: t }).S = t;
    else if (name === 'initial_state.z' || name === 'initial_state_z') (run.initialState ??= { S: tensor([0]) }).z = t;
    else if (name === 'initial_state.m' || name === 'initial_state_m') (run.initialState ??= { S: tensor([0]) }).m = t;
    else tensors[name] = t;
  }
  return run;
}
