/**
 * Tile matmuls of the C-like printer (backends/clike/printer.ts, matmulColumnOwner) on WebGPU:
 * a thread owns nc columns and mr rows of the output (register blocking, chosen by matmulLayout),
 * and operands read along their rows are stored as groups of 4 words (quad tiles, array<vec4<f32>>)
 * and read a group at a time. Each case runs one hand-built kernel — load A and B into shared
 * tiles, one matmul, store — on the test device and compares it with a float64 product, over
 * shapes that pick nc = 1, 2 and 4, strided and consecutive rows, transposed operands, masks,
 * accumulation modes (one with the old output scaled: `scale`) and a last partial pass of rows, reductions written 4 steps per iteration and
 * plain; two half-workgroup matmuls of one phase placed side by side; two matmuls sharing B
 * printed as one loop. The printed loops are
 * also held to the form Dawn proves finite (WgslPrinter.loopParts).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { emitWgslKernel } from '../../backends/wgsl/emit.ts';
import { bin, C, f, i, R } from '../../compiler/kernel-ir/build.ts';
import type { Kernel, SExpr, Stmt } from '../../compiler/kernel-ir/types.ts';
import { PROFILES } from '../../compiler/targets/profiles.ts';
import { releaseGpu, scoped, testGpu } from '../helpers/gpu.ts';

interface Case {
  m: number;
  kk: number;
  n: number;
  transA: boolean;
  transB: boolean;
  acc: 'set' | 'add' | 'sub';
  mask?: 'lower' | 'strict';
  /** Columns per thread the printer should choose. */
  nc: number;
  /**
   * Operands read as groups of 4 words (quad tiles): A along its rows 4 steps at a time, B
   * (transposed) likewise, or 'A rows' — A transposed, 4 consecutive output rows per group.
   */
  quads: '' | 'A' | 'B' | 'AB' | 'A rows';
  /** Output rows per thread. */
  mr: number;
  /** The old output scaled first by exp(As[1][2]) (a decayed state's update: matmul `scale`). */
  scale?: boolean;
}

const T = 256;
const tileRead = (tile: string, r: SExpr, c: SExpr): SExpr => ({ k: 'tile', tile, r, c });

function kernel(c: Case): Kernel {
  const [ar, ac] = c.transA ? [c.kk, c.m] : [c.m, c.kk];
  const [br, bc] = c.transB ? [c.n, c.kk] : [c.kk, c.n];
  const load = (tile: string, buf: string, cols: number): Stmt => ({ op: 'map', dst: { tile }, expr: { k: 'ld', buf, idx: bin('add', bin('mul', R, i(cols)), C) } });
  const body: Stmt[] = [load('As', 'A', ac), load('Bs', 'B', bc)];
  // Accumulating modes start from a known tile: D0[r][c] = 0.25·(r − c).
  body.push({ op: 'map', dst: { tile: 'Ds' }, expr: c.acc === 'set' ? f(0) : bin('mul', f(0.25), { k: 'un', fn: 'float', a: bin('sub', R, C) }) });
  body.push({ op: 'barrier' });
  const scale: SExpr = { k: 'un', fn: 'exp', a: tileRead('As', i(1), i(2)) };
  body.push({ op: 'matmul', dst: { tile: 'Ds' }, a: { tile: 'As' }, b: { tile: 'Bs' }, transA: c.transA, transB: c.transB, acc: c.acc, ...(c.mask ? { mask: c.mask } : {}), ...(c.scale ? { scale } : {}) });
  body.push({ op: 'barrier' });
  body.push({ op: 'store', src: 'Ds', dst: { buf: 'D', index: bin('add', bin('mul', R, i(c.n)), C), rows: i(c.m), cols: i(c.n) }, value: tileRead('Ds', R, C) });
  return {
    name: 'matmul_case',
    grid: [i(1), i(1), i(1)],
    threads: T,
    params: [],
    buffers: [
      { name: 'A', role: 'input', dtype: 'f32', access: 'read', elems: i(ar * ac) },
      { name: 'B', role: 'input', dtype: 'f32', access: 'read', elems: i(br * bc) },
      { name: 'D', role: 'output', dtype: 'f32', access: 'read_write', elems: i(c.m * c.n) },
    ],
    tiles: [
      { name: 'As', rows: ar, cols: ac, space: 'shared' },
      { name: 'Bs', rows: br, cols: bc, space: 'shared' },
      { name: 'Ds', rows: c.m, cols: c.n, space: 'shared' },
    ],
    body,
    doc: 'one tile matmul',
  };
}

function expected(c: Case, A: Float32Array, B: Float32Array): Float64Array {
  const [, ac] = c.transA ? [c.kk, c.m] : [c.m, c.kk];
  const bc = c.transB ? c.kk : c.n;
  const out = new Float64Array(c.m * c.n);
  for (let r = 0; r < c.m; r++)
    for (let col = 0; col < c.n; col++) {
      const d0 = c.acc === 'set' ? 0 : 0.25 * (r - col) * (c.scale ? Math.exp(A[ac + 2]!) : 1);
      const keep = !c.mask || (c.mask === 'lower' ? col <= r : col < r);
      let s = 0;
      for (let x = 0; x < c.kk; x++) s += A[c.transA ? x * ac + r : r * ac + x]! * B[c.transB ? col * bc + x : x * bc + col]!;
      out[r * c.n + col] = !keep ? (c.acc === 'set' ? 0 : d0) : c.acc === 'set' ? s : c.acc === 'add' ? d0 + s : d0 - s;
    }
  return out;
}

/** Run a one-workgroup kernel with inputs A and B; the output D (`outElems` words). */
async function runKernel(w: ReturnType<typeof emitWgslKernel>, A: Float32Array, B: Float32Array, outElems: number): Promise<Float32Array> {
  const g = await testGpu();
  const dev = g.device;
  return scoped(dev, async () => {
    const buf = (data: Float32Array | number, usage: number) => {
      const size = typeof data === 'number' ? data : data.byteLength;
      const b = dev.createBuffer({ size: Math.max(16, size), usage });
      if (typeof data !== 'number') dev.queue.writeBuffer(b, 0, data as Float32Array<ArrayBuffer>);
      return b;
    };
    const STORAGE = 0x80, COPY_DST = 0x08, COPY_SRC = 0x04, UNIFORM = 0x40, MAP_READ = 0x01;
    const bufs: Record<string, GPUBuffer> = { A: buf(A, STORAGE | COPY_DST), B: buf(B, STORAGE | COPY_DST), D: buf(outElems * 4, STORAGE | COPY_SRC) };
    const params = buf(new Float32Array(4), UNIFORM | COPY_DST);
    const module = dev.createShaderModule({ code: w.code });
    const pipeline = dev.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
    const entries: GPUBindGroupEntry[] = w.bindings.map((b) => ({ binding: b.binding, resource: { buffer: bufs[b.name]! } }));
    entries.push({ binding: w.paramsBinding, resource: { buffer: params } });
    const enc = dev.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, dev.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries }));
    pass.dispatchWorkgroups(1);
    pass.end();
    const read = dev.createBuffer({ size: outElems * 4, usage: MAP_READ | COPY_DST });
    enc.copyBufferToBuffer(bufs['D']!, 0, read, 0, outElems * 4);
    dev.queue.submit([enc.finish()]);
    await read.mapAsync(MAP_READ);
    const out = new Float32Array(read.getMappedRange().slice(0));
    read.unmap();
    for (const b of [...Object.values(bufs), params, read]) b.destroy();
    return out;
  });
}

// The layouts are the fewest loads per step (matmulLayout): e.g. 64×16·16×32 Aᵀ on 256 threads,
// one column and 8 consecutive rows per thread, loads 2 groups of A and 1 word of B per step for 8
// products; 40×16·16×32 Bᵀ, 4 columns and 2 rows, 2 + 4 groups per 4 steps for 8 products.
const cases: Case[] = [
  { m: 64, kk: 16, n: 32, transA: true, transB: false, acc: 'set', nc: 1, quads: 'A rows', mr: 8 },
  { m: 128, kk: 8, n: 32, transA: true, transB: false, acc: 'add', nc: 2, quads: 'A rows', mr: 8 },
  { m: 128, kk: 8, n: 32, transA: true, transB: false, acc: 'add', nc: 2, quads: 'A rows', mr: 8, scale: true },
  { m: 32, kk: 64, n: 32, transA: false, transB: true, acc: 'add', mask: 'lower', nc: 4, quads: 'AB', mr: 1 },
  { m: 32, kk: 24, n: 32, transA: false, transB: false, acc: 'set', mask: 'strict', nc: 1, quads: 'A', mr: 4 },
  { m: 40, kk: 16, n: 32, transA: false, transB: true, acc: 'sub', nc: 4, quads: 'AB', mr: 2 },
  { m: 16, kk: 64, n: 16, transA: false, transB: true, acc: 'sub', mask: 'strict', nc: 1, quads: 'AB', mr: 1 },
  { m: 64, kk: 6, n: 32, transA: false, transB: false, acc: 'add', nc: 2, quads: '', mr: 4 },
];

for (const c of cases) {
  const label = `${c.m}×${c.kk}·${c.kk}×${c.n}${c.transA ? ', Aᵀ' : ''}${c.transB ? ', Bᵀ' : ''}, ${c.acc}${c.mask ? `, ${c.mask}` : ''}${c.scale ? ', old output scaled' : ''}`;
  test(`matmul ${label}: ${c.nc} column(s) and ${c.mr} row(s) per thread${c.quads ? `, ${c.quads} read in groups of 4` : ''}, equal to the float64 product`, async () => {
    const k = kernel(c);
    const w = emitWgslKernel(k, PROFILES['webgpu-large']!, 'test');
    // The reduction is written 4 steps per loop iteration where its length allows (WGSL has no
    // unroll hint), the plain loop otherwise.
    const copies = c.kk % 4 === 0 ? 4 : 1;
    assert.is(new RegExp(`xi\\d+ < ${c.kk / 4};`).test(w.code), copies === 4, `reduction written ${copies} steps per iteration\n${w.code}`);
    assert.match(w.code, new RegExp(`mc\\d+: i32 = lid % ${c.n / c.nc};`), `${c.nc} column(s) per thread`);
    assert.is((w.code.match(/var acc\d+/g) ?? []).length, c.mr * c.nc, 'accumulators: rows × columns per thread');
    // Per iteration of the reduction loop: B's words one per column and step (none where B is
    // read in groups), A's and B's groups.
    const bLoads = (w.code.match(/let bv\d+: f32/g) ?? []).length;
    assert.is(bLoads, c.quads.includes('B') ? 0 : c.nc * copies, `loads of B per iteration\n${w.code}`);
    const groups = (w.code.match(/let q\d+: vec4<f32>/g) ?? []).length;
    const aGroups = c.quads === 'A rows' ? (c.mr / 4) * copies : c.quads.includes('A') ? c.mr : 0;
    assert.is(groups, aGroups + (c.quads.includes('B') ? c.nc : 0), `groups of 4 words read per iteration\n${w.code}`);
    assert.is(/var<workgroup> As: array<vec4<f32>/.test(w.code), c.quads.includes('A'), 'A stored as groups of 4 words');
    assert.is(/var<workgroup> Bs: array<vec4<f32>/.test(w.code), c.quads.includes('B'), 'B stored as groups of 4 words');
    // A scale is one const read before the reduction, applied to the old output in the update.
    if (c.scale) assert.match(w.code, /let mscale\d+: f32 = exp\(As/);
    if (c.scale) assert.match(w.code, /Ds\[[^\]]+\] \* mscale\d+ \+ acc\d+/);
    const rnd = (n: number, seed: number) => Float32Array.from({ length: n }, (_, j) => Math.sin(seed * 97 + j * 12.9898) * 0.5);
    const A = rnd(c.m * c.kk, 1);
    const B = rnd(c.kk * c.n, 2);
    const got = await runKernel(w, A, B, c.m * c.n);
    const want = expected(c, A, B);
    let worst = 0;
    for (let j = 0; j < want.length; j++) worst = Math.max(worst, Math.abs(got[j]! - want[j]!));
    assert.ok(worst < 1e-5, `max abs error ${worst}`);
  });
}

test('two matmuls of half a workgroup each between barriers run side by side, on threads 0–127 and 128–255', async () => {
  // D[0..8] = A·Bᵀ and D[8..16] = A·Bᵀ (8 × 16 outputs each, one per thread), in one phase.
  const k = kernel({ m: 8, kk: 16, n: 16, transA: false, transB: true, acc: 'set', nc: 1, quads: 'AB', mr: 1 });
  k.tiles = k.tiles.map((t) => (t.name === 'Ds' ? { ...t, rows: 16 } : t));
  const mm = k.body.find((x) => x.op === 'matmul')! as Extract<Stmt, { op: 'matmul' }>;
  const at = k.body.indexOf(mm);
  k.body.splice(at, 1, { ...mm, dst: { tile: 'Ds', r0: i(0), rows: 8 } }, { ...mm, dst: { tile: 'Ds', r0: i(8), rows: 8 } });
  const st = k.body.find((x) => x.op === 'store')! as Extract<Stmt, { op: 'store' }>;
  st.dst = { ...st.dst, rows: i(16) };
  k.buffers = k.buffers.map((b) => (b.name === 'D' ? { ...b, elems: i(256) } : b));
  const w = emitWgslKernel(k, PROFILES['webgpu-large']!, 'test');
  assert.match(w.code, /if \(lid < 128\) \{/);
  assert.match(w.code, /if \(lid >= 128 && lid < 256\) \{/);
  const rnd = (n: number, seed: number) => Float32Array.from({ length: n }, (_, j) => Math.sin(seed * 97 + j * 12.9898) * 0.5);
  const A = rnd(8 * 16, 3);
  const B = rnd(16 * 16, 4);
  const got = await runKernel(w, A, B, 256);
  let worst = 0;
  for (let r = 0; r < 16; r++)
    for (let c = 0; c < 16; c++) {
      let s = 0;
      for (let x = 0; x < 16; x++) s += A[(r % 8) * 16 + x]! * B[c * 16 + x]!;
      worst = Math.max(worst, Math.abs(got[r * 16 + c]! - s));
    }
  assert.ok(worst < 1e-5, `max abs error ${worst}`);
});

test('two matmuls reading the same B are one reduction loop that loads B once per step', async () => {
  // Ds = A·B and Es = A·B (32 × 16 · 16 × 32), then Ds + 10·Es: 11·A·B only if both were computed.
  const k = kernel({ m: 32, kk: 16, n: 32, transA: false, transB: false, acc: 'set', nc: 1, quads: 'A', mr: 4 });
  k.tiles.push({ name: 'Es', rows: 32, cols: 32, space: 'shared' });
  const mm = k.body.find((x) => x.op === 'matmul')! as Extract<Stmt, { op: 'matmul' }>;
  k.body.splice(k.body.indexOf(mm) + 1, 0, { ...mm, dst: { tile: 'Es' } });
  const st = k.body.findIndex((x) => x.op === 'store');
  k.body.splice(st, 0, { op: 'map', dst: { tile: 'Ds' }, expr: bin('add', tileRead('Ds', R, C), bin('mul', f(10), tileRead('Es', R, C))) }, { op: 'barrier' });
  const w = emitWgslKernel(k, PROFILES['webgpu-large']!, 'test');
  assert.is((w.code.match(/for \(var xi\d+/g) ?? []).length, 1, 'one reduction loop');
  assert.is((w.code.match(/let bv\d+: f32/g) ?? []).length, 4, 'B loaded once per step for both');
  const rnd = (n: number, seed: number) => Float32Array.from({ length: n }, (_, j) => Math.sin(seed * 97 + j * 12.9898) * 0.5);
  const A = rnd(32 * 16, 5);
  const B = rnd(16 * 32, 6);
  const got = await runKernel(w, A, B, 32 * 32);
  let worst = 0;
  for (let r = 0; r < 32; r++)
    for (let c = 0; c < 32; c++) {
      let s = 0;
      for (let x = 0; x < 16; x++) s += A[r * 16 + x]! * B[x * 32 + c]!;
      worst = Math.max(worst, Math.abs(got[r * 32 + c]! - 11 * s));
    }
  assert.ok(worst < 1e-4, `max abs error ${worst}`);
});

test('every printed loop steps by 1 towards a literal or a let declared before it (no Dawn loop guard)', () => {
  const w = emitWgslKernel(kernel(cases[1]!), PROFILES['webgpu-large']!, 'test');
  const loops = [...w.code.matchAll(/for \(var (\w+): i32 = [^;]+; \1 < (\w+); \1 = \1 \+ (\w+)\)/g)];
  assert.is(loops.length, (w.code.match(/for \(/g) ?? []).length, 'every loop has the canonical form');
  assert.ok(loops.length >= 4);
  for (const [, , bound, step] of loops) {
    assert.is(step, '1');
    if (!/^\d+$/.test(bound!)) assert.ok(w.code.indexOf(`let ${bound}: i32 =`) >= 0 && w.code.indexOf(`let ${bound}: i32 =`) < w.code.indexOf(`< ${bound};`), `bound ${bound} is a let before its loop`);
  }
});

test.after(releaseGpu);
test.run();
