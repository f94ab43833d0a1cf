/**
 * Tensor-core matmuls of the CUDA backend (no GPU here: bench/gpu/check.py runs them on one):
 *   - warpGrid() splits an output of 16 × 8 tiles over the warps evenly, or declines;
 *   - bf16 programs on cuda-sm90 use them and pad operand rows; f32 programs do not;
 *   - the printed layouts cover each output exactly once: the register tile's fragment layout
 *     (which every map and store on it follows) and a shared-output matmul's writeback, evaluated
 *     from the generated C for every thread and slot.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compileCuda } from '../../backends/cuda/index.ts';
import type { PlanOptions } from '../../compiler/passes/plan.ts';
import { warpGrid } from '../../backends/cuda/mma.ts';
import { compileIR } from '../../compiler/compile.ts';
import { lowerSource } from '../../compiler/pipeline.ts';
import { stdlibFiles } from '../helpers/stdlib.ts';

/**
 * The .cu of a spec on cuda-sm90 with chunks and value tiles of 64 (the shapes the tests below
 * walk) and a delta rule's state in shared memory (the state kernel that computes the outputs, as
 * cuda-sm80 plans it), or the planner's tiles and kernels.
 */
// mma.sync's fragments: the flash kernel without warpgroup MMA (tests/cuda/wgmma.test.ts has that).
function cudaOf(spec: string, dtype: 'bf16' | 'f32', planned = false, plan: PlanOptions = {}): string {
  const f = stdlibFiles().find((x) => x.name === spec)!;
  const ir = lowerSource(f.text, f.path).irs[0];
  const r = compileCuda(ir!, { profile: 'cuda-sm90', dtype, ...(planned ? { plan: { warpgroupMma: false, ...plan } } : { chunk: 64, tiles: { BV: 64 }, plan: { stateRegisters: false, warpgroupMma: false, ...plan } }) });
  const cu = r.files.find((x) => x.path.endsWith('.cu'));
  assert.ok(cu, `${spec} ${dtype}: no .cu file`);
  return cu!.contents;
}

/** The text of one generated kernel. */
function kernel(cu: string, name: string): string {
  const start = cu.search(new RegExp(`__global__ void __launch_bounds__\\(\\d+, \\d\\) attnc_${name}\\(`));
  assert.ok(start >= 0, `kernel ${name} not found`);
  return cu.slice(start, cu.indexOf('\n}\n', start));
}

/** Evaluate a C int expression over non-negative ints (BigInt: `/` truncates like C). */
function evalC(expr: string, env: Record<string, bigint>): bigint {
  const js = expr.replace(/\b[A-Za-z_]\w*\b/g, (id) => {
    if (!(id in env)) throw new Error(`unbound ${id} in ${expr}`);
    return `env.${id}`;
  });
  return Function('env', `return ${js.replace(/\b(\d+)\b/g, '$1n')};`)(env) as bigint;
}

/** Each (row, column) of rows × cols produced exactly once. */
function assertCovers(cells: [bigint, bigint][], rows: number, cols: number, what: string): void {
  const seen = new Set<string>();
  for (const [r, c] of cells) {
    assert.ok(r >= 0n && r < BigInt(rows) && c >= 0n && c < BigInt(cols), `${what}: (${r}, ${c}) outside ${rows} × ${cols}`);
    const key = `${r},${c}`;
    assert.not.ok(seen.has(key), `${what}: (${r}, ${c}) twice`);
    seen.add(key);
  }
  assert.is(seen.size, rows * cols, `${what}: covers ${seen.size} of ${rows * cols}`);
}

/** An ldmatrix call of a kernel: its register array and index expression, the tile and its row stride (elements). */
interface Ldsm {
  text: string;
  reg: string;
  regIdx: string;
  tile: string;
  idx: string;
  count: number;
  trans: boolean;
  stride: bigint;
}
function ldsmCalls(k: string, part = k): Ldsm[] {
  return [...part.matchAll(/attnc_ldsm_x(\d)(_trans)?\((\w+)\[(\w+)\], &(\w+)\[(.*)\]\);/g)].map((m) => {
    // The tile's declaration: a pointer into the dynamic shared memory, or a static array.
    const decl = k.search(new RegExp(`(\\* const ${m[5]} =|__nv_bfloat16 ${m[5]}\\[)`));
    const stride = /\[\d+, \d+\], rows (\d+) elements apart, bf16/.exec(k.slice(decl))?.[1];
    assert.ok(stride, `${m[5]}: a bf16 tile with padded rows`);
    return { text: m[0], reg: m[3]!, regIdx: m[4]!, tile: m[5]!, idx: m[6]!, count: Number(m[1]), trans: !!m[2], stride: BigInt(stride!) };
  });
}
/**
 * ldmatrix simulated (the PTX ISA: lane 8·j + i gives the address of row i of matrix j; lane L then
 * holds elements (L / 4, 2·(L % 4) + h) of matrix j in register j, or with .trans (2·(L % 4) + h, L / 4)):
 * the tile (row, column) of lane L's register j, half h, given the other variables of the index.
 */
function ldsmElement(c: Ldsm, vars: Record<string, bigint>, L: number, j: number, h: number): [bigint, bigint] {
  const row = (i: number) => evalC(c.idx, { ...vars, lid: BigInt(8 * j + i) });
  const g = L >> 2;
  const t = L & 3;
  const at = c.trans ? row(2 * t + h) + BigInt(g) : row(g) + BigInt(2 * t + h);
  return [at / c.stride, at % c.stride];
}
/** The identifier of the call's index that matches a pattern (a loop variable or a warp's first tile). */
function ident(c: Ldsm, re: RegExp): string {
  const id = (c.idx.match(/\b[A-Za-z_]\w*\b/g) ?? []).find((x) => re.test(x));
  assert.ok(id, `${c.text}: no identifier ${re}`);
  return id!;
}

test('warpGrid: even splits with the fewest tiles per warp, then the fewest fragment loads', () => {
  assert.equal(warpGrid(64, 64, 8), { wm: 2, wn: 4, ma: 2, nb: 2 });
  assert.equal(warpGrid(128, 64, 8), { wm: 4, wn: 2, ma: 2, nb: 4 });
  assert.equal(warpGrid(16, 8, 8), { wm: 1, wn: 1, ma: 1, nb: 1 }); // one tile: one warp
  assert.is(warpGrid(20, 8, 8), undefined); // 16 does not divide 20
  assert.is(warpGrid(64, 12, 8), undefined); // 8 does not divide 12
  assert.is(warpGrid(256, 256, 8), undefined); // 64 tiles per warp: too many accumulators
});

test('bf16 on cuda-sm90: the tile matmuls run on tensor cores over padded rows; f32 keeps FMA loops', () => {
  const bf16 = cudaOf('gated_deltanet', 'bf16');
  const chunk = kernel(bf16, 'gated_deltanet_chunk');
  assert.is(chunk.match(/on tensor cores/g)?.length, 4, 'the state kernel has four matmuls');
  assert.match(chunk, /attnc_mma_tf32\(/);
  assert.match(chunk, /rows 68 words apart/);
  assert.match(bf16, /matmuls: tensor cores where the tile shapes allow/);
  const f32 = cudaOf('gated_deltanet', 'f32');
  assert.not.match(f32, /on tensor cores/);
  assert.not.match(kernel(f32, 'gated_deltanet_chunk'), /attnc_mma_tf32\(/);
});

test('TF32 operands are rounded once, where a tile only matmuls read is stored, or not at all where its values are TF32 already', () => {
  const k = kernel(cudaOf('retnet', 'bf16'), 'retnet_chunk');
  const operands = (tile: string) => [...k.matchAll(new RegExp(`[ab]f\\d+\\[\\w+\\]\\[\\d\\] = (\\w+)\\(${tile}\\[`, 'g'))].map((m) => m[1]);
  // Ks holds bf16 inputs as loaded (exact in TF32); Qs the scaled q, rounded as it is stored.
  for (const tile of ['Ks', 'Qs']) {
    assert.ok(operands(tile).length > 0, `${tile} is a matmul operand`);
    assert.ok(operands(tile).every((f) => f === '__float_as_uint'), `${tile}: ${operands(tile).join(', ')}`);
  }
  assert.match(k, /&Qs\[r \* \d+ \+ c\]\) = make_float4\(attnc_tf32f\(sv\d+\)/);
  assert.not.match(k, /Ks\[[^\]]*\]\) = make_float4\(attnc_tf32f/);
  assert.not.match(k, /Ks\[[^\]]*\] = attnc_tf32f/);
  // The state (a matmul's output) and the values (scaled in place by a map) are rounded as loaded.
  for (const tile of ['S', 'Vc']) {
    assert.ok(operands(tile).length > 0, `${tile} is a matmul operand`);
    assert.ok(operands(tile).every((f) => f === 'attnc_tf32'), `${tile}: ${operands(tile).join(', ')}`);
  }
  assert.not.match(k, /(S|Vc)\[[^\]]*\]\) = make_float4\(attnc_tf32f/);
});

test('fragment loads are free of bank conflicts: the 32 lanes of each load hit 32 banks', () => {
  for (const [spec, name, planned] of [['gated_deltanet', 'gated_deltanet_chunk', false], ['gated_deltanet', 'gated_deltanet_chunk', true], ['gated_deltanet', 'gated_deltanet_intra', true], ['softmax', 'softmax_attention', true]] as const) {
    const k = kernel(cudaOf(spec, 'bf16', planned), name);
    // Fragment loads from shared tiles (register-held operands are not in shared memory): TF32
    // words, 16-bit pairs from one 8-byte load (pack2) or from two word loads (pack).
    const loads: [string, string, string, number][] = [];
    for (const m of k.matchAll(/[ab]f\d+\[\w+\]\[\d\] = (?:attnc_tf32|__float_as_uint)\((\w+)\[(.*)\]\);/g)) loads.push([m[0], m[1]!, m[2]!, 1]);
    for (const m of k.matchAll(/[ab]f\d+\[\w+\]\[\d\] = attnc_pack2_bf16\(&(\w+)\[(.*)\]\);/g)) loads.push([m[0], m[1]!, m[2]!, 2]);
    for (const m of k.matchAll(/[ab]f\d+\[\w+\]\[\d\] = attnc_pack_bf16\((\w+)\[(.*?)\], \w+\[(.*)\]\);/g)) loads.push([m[0], m[1]!, m[2]!, 1], [m[0], m[1]!, m[3]!, 1]);
    const shared = loads.filter(([, tile]) => !new RegExp(`^  float ${tile}\\[`, 'm').test(k));
    // ldmatrix (16-bit tiles): each matrix is one phase, 8 rows of 16 bytes that must cover 32 banks.
    for (const c of ldsmCalls(k)) {
      const zero = Object.fromEntries((c.idx.match(/\b[A-Za-z_]\w*\b/g) ?? []).map((id) => [id, 0n]));
      for (let j = 0; j < c.count; j++) {
        const banks = new Set<bigint>();
        for (let i = 0; i < 8; i++) for (let w = 0n; w < 4n; w++) banks.add(((evalC(c.idx, { ...zero, lid: BigInt(8 * j + i) }) * 2n) / 4n + w) % 32n);
        assert.is(banks.size, 32, `${name}: ${c.text}, matrix ${j}: ${banks.size} banks`);
      }
      shared.push([c.text, c.tile, '', 0]);
    }
    assert.ok(shared.length >= 3, `${name}: fragment loads found`);
    // Per tile and role (whether a fragment's 8 rows g or its 4 columns t run down the tile's rows):
    // the loads that hit fewer than 32 banks (8-byte loads: per half-warp, both words).
    const roles = new Map<string, Map<string, string[]>>();
    for (const [line, tile, idx, words] of shared) {
      if (!words) continue;
      const ids = [...new Set(idx.match(/\b[A-Za-z_]\w*\b/g) ?? [])];
      // Lane = 4g + t; the warp's tile, the k step and the slice offsets at 0 (common to all lanes).
      const at = (g: bigint, t: bigint) => evalC(idx, Object.fromEntries(ids.map((id) => [id, /^g\d+$/.test(id) ? g : /^tg\d+$/.test(id) ? t : 0n])));
      const phases = words === 2 ? [[0n, 16n], [16n, 32n]] : [[0n, 32n]];
      let worst = 32;
      for (const [from, to] of phases) {
        const banks = new Set<bigint>();
        for (let lane = from!; lane < to!; lane++) for (let w = 0n; w < BigInt(words); w++) banks.add((at(lane >> 2n, lane & 3n) + w) % 32n);
        worst = Math.min(worst, banks.size);
      }
      const banks = { size: worst };
      const role = at(1n, 0n) - at(0n, 0n) > 2n ? 'g rows' : 't rows';
      const byRole = roles.get(tile!) ?? new Map<string, string[]>();
      roles.set(tile!, byRole);
      byRole.set(role, [...(byRole.get(role) ?? []), ...(banks.size === 32 ? [] : [`${line} hits ${banks.size} banks`])]);
    }
    // A tile read in one role is conflict-free; one read both ways (no stride serves both) in one.
    for (const [tile, byRole] of roles) {
      const clean = [...byRole.values()].filter((bad) => bad.length === 0).length;
      assert.ok(byRole.size === 1 ? clean === 1 : clean >= 1, `${name}, tile ${tile}:\n${[...byRole.values()].flat().join('\n')}`);
    }
  }
});

test('fragment layouts cover the output exactly once (register tile and shared-output writeback)', () => {
  const chunk = kernel(cudaOf('gated_deltanet', 'bf16'), 'gated_deltanet_chunk');
  // The register tile O [64, 64]: its store loop's (r, c) per thread and slot.
  const store = chunk.slice(chunk.lastIndexOf('for (int s', chunk.indexOf('attnc_store(out')));
  const slots = Number(/< (\d+);/.exec(store)![1]);
  const slot = /for \(int (s\d+)/.exec(store)![1]!;
  const r = /const int r = (.*);/.exec(store)![1]!;
  const c = /const int c = (.*);/.exec(store)![1]!;
  const reg: [bigint, bigint][] = [];
  for (let lid = 0n; lid < 256n; lid++) for (let s = 0n; s < BigInt(slots); s++) reg.push([evalC(r, { lid, [slot]: s }), evalC(c, { lid, [slot]: s })]);
  assertCovers(reg, 64, 64, 'register tile O');
  // S += Ksᵀ · X (128 × 64 into a shared tile): the writeback's rows and columns.
  const block = chunk.slice(chunk.indexOf('// S += Ksᵀ · X'));
  const decls = [...block.slice(0, block.indexOf('S[')).matchAll(/const int (\w+) = (.*);/g)].map((m) => [m[1]!, m[2]!] as const);
  const wb = /for \(int (s\d+) = 0; s\d+ < (\d+);/.exec(block.slice(block.indexOf('for (int s')))!;
  const out: [bigint, bigint][] = [];
  for (let lid = 0n; lid < 256n; lid++) {
    for (let s = 0n; s < BigInt(wb[2]!); s++) {
      const env: Record<string, bigint> = { lid, k0: 0n, [wb[1]!]: s };
      for (const [name, expr] of decls) env[name] = evalC(expr, env);
      const [rName, cName] = decls.slice(-2).map(([n]) => n);
      out.push([env[rName!]!, env[cName!]!]);
    }
  }
  assertCovers(out, 128, 64, 'S += Ksᵀ · X writeback');
});

test('register tiles are stored in pairs of adjacent columns (one bf16 pair per store) that cover the tile once', () => {
  // (as planned: RetNet's state kernel with outputs, O [32, 32] in accumulator registers)
  const chunk = kernel(cudaOf('retnet', 'bf16', true), 'retnet_chunk');
  const store = chunk.slice(chunk.indexOf('// O → out: pairs of adjacent columns'));
  assert.ok(store.length < chunk.length, 'O → out stores pairs');
  const head = /for \(int (s\d+) = 0; s\d+ < (\d+); s\d+ \+= 2\)/.exec(store)!;
  const r = /const int r = (.*);/.exec(store)![1]!;
  const c = /const int c = (.*);/.exec(store)![1]!;
  assert.match(store, new RegExp(`__floats2bfloat162_rn\\(O\\[${head[1]}\\], O\\[${head[1]} \\+ 1\\]\\)`));
  const cells: [bigint, bigint][] = [];
  for (let lid = 0n; lid < 256n; lid++) {
    for (let sl = 0n; sl < BigInt(head[2]!); sl += 2n) {
      const [ri, ci] = [evalC(r, { lid, [head[1]!]: sl }), evalC(c, { lid, [head[1]!]: sl })];
      assert.is(ci % 2n, 0n, 'a pair starts at an even column');
      cells.push([ri, ci], [ri, ci + 1n]);
    }
  }
  assertCovers(cells, 32, 32, 'paired stores of O');
});

test('row-owned tiles (bf16 softmax): fragment layouts split by rows over the warps, folds and the probabilities operand agree', () => {
  // (K's copy after the softmax, where the walk below finds each part of the loop in turn; the
  // early order of cuda-sm90's default moves it, not the layouts.)
  const cu = cudaOf('softmax', 'bf16', true, { earlyKeyLoads: false });
  const k = kernel(cu, 'softmax_attention');
  const keys = Number(/key tiles of (\d+)/.exec(cu)![1]);
  const K = BigInt(keys);
  // The planner's workgroup for row-owned tiles: 128 threads, 4 warps of 32 rows (two 16-row tiles each).
  const threads = Number(/__launch_bounds__\((\d+), \d\) attnc_softmax_attention/.exec(cu)![1]);
  const T = BigInt(threads);
  const rowsPerWarp = 128n / (T / 32n);
  const ma = Number(rowsPerWarp / 16n);
  for (const t of [`Sm[${(keys / 2) * ma}]`, `Acc[${64 * ma}]`, `Mx[${2 * ma}]`, `Ls[${2 * ma}]`, `Mn[${2 * ma}]`]) assert.match(k, new RegExp(`^  float ${t.replace(/[[\]]/g, '\\$&')};`, 'm'), `${t} in registers`);
  const loop = k.slice(k.indexOf('// key tiles'));
  assert.is(loop.slice(0, loop.indexOf('\n    }\n')).match(/__syncthreads\(\);/g)?.length, 3, 'a key tile: after its loads, after the products, and the loop\'s own');
  // An element loop over a register tile: its slot count and (r, c) formulas.
  const slotLoop = (from: number) => {
    const text = k.slice(from);
    const m = /for \(int (s\d+) = 0; s\d+ < (\d+);/.exec(text)!;
    return { slot: m[1]!, slots: Number(m[2]), r: /const int r = (.*);/.exec(text)![1]!, c: /const int c = (.*);/.exec(text)![1]! };
  };
  const cells = (l: ReturnType<typeof slotLoop>) => {
    const out: [bigint, bigint, bigint, bigint][] = [];
    for (let lid = 0n; lid < T; lid++) for (let s = 0n; s < BigInt(l.slots); s++) out.push([evalC(l.r, { lid, [l.slot]: s }), evalC(l.c, { lid, [l.slot]: s }), lid, s]);
    return out;
  };
  const sm = slotLoop(k.indexOf('#pragma unroll', k.indexOf('// Sm = Q · Ktᵀ') + 1 + k.slice(k.indexOf('// Sm = Q · Ktᵀ')).indexOf('\n        }\n')));
  assert.is(sm.slots, (keys / 2) * ma);
  assertCovers(cells(sm).map(([r, c]) => [r, c]), 128, keys, 'Sm');
  const acc = slotLoop(k.lastIndexOf('for (int s', k.indexOf('attnc_store(out')));
  assertCovers(cells(acc).map(([r, c]) => [r, c]), 128, 128, 'Acc');
  // Warps own rows: every row of Sm and Acc is in one warp only.
  for (const [name, l] of [['Sm', sm], ['Acc', acc]] as const) for (const [r, , lid] of cells(l)) assert.is(r / rowsPerWarp, lid >> 5n, `${name}: row ${r} in warp ${lid >> 5n}`);
  // The row max: each of 128 rows held by the 4 lanes of one quad, the fold's slots all of that row.
  const mnAt = loop.indexOf('Mn[s');
  const mn = slotLoop(k.indexOf(loop.slice(loop.lastIndexOf('#pragma unroll', loop.lastIndexOf('float part', mnAt)), mnAt)));
  const holders = new Map<bigint, Set<bigint>>();
  for (const [r, , lid] of cells(mn)) holders.set(r, (holders.get(r) ?? new Set()).add(lid));
  assert.is(holders.size, 128);
  for (const [r, lids] of holders) assert.equal([...lids].map((l) => l >> 2n), [...lids].map(() => [...lids][0]! >> 2n), `row ${r}: one quad`);
  const foldText = loop.slice(loop.lastIndexOf('float part', mnAt), mnAt);
  const fs = /const int (fs\d+) = (.*);/.exec(foldText)!;
  const jj = /const int jj = (.*);/.exec(foldText)!;
  const [fb, fe] = [/int (fb\d+)/.exec(foldText)![1]!, /int (fe\d+)/.exec(foldText)![1]!];
  for (let lid = 0n; lid < T; lid += 7n)
    for (let s = 0n; s < BigInt(2 * ma); s++)
      for (let b = 0n; b < K / 8n; b++)
        for (let e = 0n; e < 2n; e++) {
          const env = { lid, [mn.slot]: s, [fb]: b, [fe]: e };
          const slot = evalC(fs[2]!.replace(/\(s\d+\)/g, `(${mn.slot})`), env);
          const col = evalC(jj[1]!, env);
          assert.equal([evalC(sm.r, { lid, [sm.slot]: slot }), evalC(sm.c, { lid, [sm.slot]: slot })], [evalC(mn.r, { lid, [mn.slot]: s }), col], `fold slot of lane ${lid}`);
        }
  // The PTX ISA's m16n8k16 fragments (g = lane / 4, t = lane % 4): A register j holds (row g + 8·(j % 2),
  // k 2t + 8·(j / 2) + h), B register j holds (k 2t + 8·j + h, column g).
  const aAt = (L: number, j: number, h: number) => [(L >> 2) + 8 * (j & 1), 2 * (L & 3) + 8 * (j >> 1) + h] as const;
  const bAt = (L: number, j: number, h: number) => [2 * (L & 3) + 8 * j + h, L >> 2] as const;
  // Sm = Q · Ktᵀ from bf16 tiles by ldmatrix: each lane receives its fragments' elements of Q and Kt.
  const qk = ldsmCalls(k, k.slice(k.indexOf('// Sm = Q · Ktᵀ'), k.indexOf('// Acc += Sm · Vt')));
  const [qa, kb] = [qk.find((c) => c.tile === 'Q')!, qk.find((c) => c.tile === 'Kt')!];
  assert.ok(qa && kb && !qa.trans && !kb.trans && qa.count === 4, 'Q and Kt fragments by ldmatrix');
  const pvCalls = ldsmCalls(k, k.slice(k.indexOf('// Acc += Sm · Vt')));
  const vb = pvCalls.find((c) => c.tile === 'Vt')!;
  assert.ok(vb && vb.trans, 'Vt fragments by ldmatrix.trans (B pairs two keys of one column)');
  for (let L = 0; L < 32; L++)
    for (let j = 0; j < 4; j++)
      for (let h = 0; h < 2; h++)
        for (const xs of [0n, 16n, 112n]) {
          for (let ia = 0; ia < ma; ia++) {
            const [m, kx] = aAt(L, j, h);
            assert.equal(ldsmElement(qa, { [ident(qa, /^mt\d+$/)]: 0n, [ident(qa, /^a\d+$/)]: BigInt(ia), [ident(qa, /^x\d+$/)]: xs }, L, j, h), [BigInt(16 * ia + m), xs + BigInt(kx)], `Q: lane ${L}, tile ${ia}, register ${j}.${h}`);
          }
          // x4: registers 0–1 of B tile ib, 2–3 of tile ib + 1.
          for (const [c, keyRows] of [[kb, false], [vb, true]] as const) {
            const step = c === vb ? xs % K : xs;
            for (const ib of [0, 2]) {
              const [kx, n] = bAt(L, j & 1, h);
              const want: [bigint, bigint] = [step + BigInt(kx), BigInt(8 * (ib + (j >> 1)) + n)];
              assert.equal(ldsmElement(c, { [ident(c, /^nt\d+$/)]: 0n, [ident(c, /^b\d+$/)]: BigInt(ib), [ident(c, /^x\d+$/)]: step }, L, c.count === 4 ? j : j & 1, h), keyRows ? want : [want[1], want[0]], `${c.tile}: lane ${L}, tile ${ib}, register ${j}.${h}`);
            }
          }
        }
  // Acc += Sm · Vt: the A fragment is the probabilities held in Sm's accumulators: register j of
  // lane L, half h, is Sm's element (row g + 8·(j % 2) of the warp's row tile, key 2t + 8·(j / 2) + h of the step).
  const pv = k.slice(k.indexOf('// Acc += Sm · Vt'));
  assert.match(pv, /\(bf16 operands\)/);
  const a = [0, 1, 2, 3].map((j) => new RegExp(`af\\d+\\[(a\\d+)\\]\\[${j}\\] = attnc_pack_bf16\\(Sm\\[(.*?)\\], Sm\\[(.*)\\]\\);`).exec(pv)!);
  const x = new RegExp(`for \\(int (x\\d+) = 0; x\\d+ < ${keys}; x\\d+ \\+= 16\\)`).exec(pv)![1]!;
  for (let lid = 0n; lid < 32n; lid++)
    for (let step = 0n; step < K; step += 16n)
      for (let j = 0; j < 4; j++)
        for (let h = 0; h < 2; h++)
          for (let ia = 0n; ia < BigInt(ma); ia++) {
            const slot = evalC(a[j]![2 + h]!, { [a[j]![1]!]: ia, [x]: step });
            const [m, kx] = aAt(Number(lid), j, h);
            assert.equal([evalC(sm.r, { lid, [sm.slot]: slot }), evalC(sm.c, { lid, [sm.slot]: slot })], [16n * ia + BigInt(m), step + BigInt(kx)], `lane ${lid}, step ${step}, register ${j}.${h}`);
          }
});

test('shared rows of 32·n words are padded: one word, four for tensor-core operands and WGSL quad tiles (CUDA and WGSL)', () => {
  const intra = kernel(cudaOf('gla', 'bf16'), 'gla_intra');
  // The per-element scores read q, k and the gate sums 4 words at a time (quadFold): rows of 4·n
  // words, 4 more than 32·n.
  assert.match(intra, /Bs = attnc_smem \+ \d+;  \/\/ \[64, 128\], rows 132 words apart/);
  // The gate slice's tile also holds the scaled operands of the block scores' matmuls.
  assert.match(intra, /Gs = attnc_smem \+ \d+;  \/\/ \[64, 128\], rows 132 words apart/);
  // KDA's intra-chunk kernel reads k per element in its scores (4 words at a time), so k feeds no
  // matmul (the WY products take their operand from Gs); and with one key slice the WY products
  // reuse the slice's k and gate sums (one load of each per chunk).
  const kda = kernel(cudaOf('kda', 'bf16', true), 'kda_intra');
  assert.match(kda, /Ks = attnc_smem \+ \d+;  \/\/ \[32, 128\], rows 132 words apart/);
  // (the WY products into a register tile under cuda-sm90's 16-bit operands for delta rules)
  assert.match(kda, /WY = A · Gs/);
  assert.not.match(kda.slice(kda.indexOf('key-feature slices: W')), /in_k|in_g/, 'the WY products load neither k nor the gate again');
  assert.match(kernel(cudaOf('gated_deltanet', 'bf16'), 'gated_deltanet_chunk'), /Qs = attnc_smem \+ \d+;  \/\/ \[64, 128\], rows 132 words apart/);
  const f = stdlibFiles().find((x) => x.name === 'gated_deltanet')!;
  const wgsl = compileIR(lowerSource(f.text, f.path).irs[0]!, { targets: ['wgsl'] });
  const chunk = wgsl.artifacts.find((a) => a.path.endsWith('_chunk.wgsl'))!.contents;
  // Qs is read by matmuls along its rows 4 words at a time (a quad tile): rows of 64 + 4 words.
  assert.match(chunk, /var<workgroup> Qs: array<vec4<f32>, 272>;/, 'Qs [16, 64] in rows of 68 words (17 groups of 4) on webgpu-large');
});


test("the split form's output kernel (GLA, bf16): 16-bit operands, the chunk's loads as one group, states stored as bf16", () => {
  // (as planned: chunks and value tiles of 32)
  const cu = cudaOf('gla', 'bf16', true);
  const out = kernel(cu, 'gla_output');
  assert.is(out.match(/on tensor cores \(bf16 operands\)/g)?.length, 2, 'Q·S and A·Y take bf16 operands');
  assert.match(out, /attnc_mma_bf16\(/);
  assert.match(out, /Qs, Sh, Bs, A, Y: 16-byte loads issued together/);
  assert.match(out, /Sh = .*bf16\n/, 'the stored states stay bf16 in shared memory');
  const chunk = kernel(cu, 'gla_chunk');
  assert.match(chunk, /__nv_bfloat16\* __restrict__ w_h\)/, 'the state kernel writes the states before each chunk as bf16');
  assert.not.match(chunk, /attnc_store\(out/, 'and no outputs');
  assert.match(chunk, /S \+= Ksᵀ · Vc: .* on tensor cores/);
  // The one-key-slice scalar-gate state kernel keeps its outputs (splitOutputs).
  assert.not.match(cudaOf('retnet', 'bf16', true), /attnc_retnet_output/);
  // f32 programs keep f32 states and f32 matmuls in it.
  const f32 = kernel(cudaOf('gla', 'f32', true), 'gla_output');
  assert.match(f32, /const float\* __restrict__ w_h\)/);
  assert.not.match(f32, /on tensor cores/);
});

test.run();
