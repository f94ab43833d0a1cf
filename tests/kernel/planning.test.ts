/** Planning: profiles drive the tiles, specs that cannot fit get a diagnostic, explain shows the plan. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { minimiseBarriers, plan, PASS_NAMES, sharedBytes } from '../../compiler/passes/pipeline.ts';
import * as kb from '../../compiler/kernel-ir/build.ts';
import { printPlan } from '../../compiler/passes/print-plan.ts';
import { PROFILES } from '../../compiler/targets/profiles.ts';
import { irFromText, stdlibIR } from '../helpers/ir.ts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from '../helpers/baseline.ts';
import { emitWgslKernel } from '../../backends/wgsl/emit.ts';
import { workgroupStorageBytes } from '../../backends/pkg/limits.ts';
import { evalSize } from '../../compiler/kernel-ir/host-contract.ts';
import { forEachStmt, operands } from '../../compiler/kernel-ir/analysis.ts';
import { prepareHostRun, readOutputs } from '../../compiler/kernel-ir/host.ts';
import { runProgram } from '../../compiler/kernel-ir/interp.ts';
import { interpret } from '../../compiler/interp/interpret.ts';
import { randomInputs } from '../../compiler/interp/random.ts';
import { compareTensors } from '../../compiler/interp/tensor.ts';
import { renderDiagnostics } from '../../compiler/diagnostics/render.ts';
import type { PlanOptions } from '../../compiler/passes/plan.ts';

const fullSize = (name: string) => irFromText(readFileSync(join(REPO, 'stdlib', `${name}.attn`), 'utf8'), name, {});

test('every stdlib spec at its declared dims plans within every profile', () => {
  for (const name of ['gated_deltanet', 'kda', 'gla', 'softmax', 'swa_sink', 'rwkv7', 'mlstm', 'based']) {
    const ir = fullSize(name);
    for (const target of Object.keys(PROFILES)) {
      const p = plan(ir, target);
      assert.ok(p.program, `${name} on ${target}: ${p.diagnostics.map((d) => d.message).join('; ')}`);
      for (const k of p.program!.kernels) assert.ok(sharedBytes(k) <= PROFILES[target]!.limits.sharedBytes, `${name}/${k.name} on ${target}`);
    }
  }
});

test('bigger profiles get bigger tiles', () => {
  const ir = fullSize('gated_deltanet');
  const small = plan(ir, 'webgpu-default').tiling!;
  const big = plan(ir, 'cuda-sm90').tiling!;
  assert.ok(big.C * big.BV > small.C * small.BV, `${JSON.stringify(small)} vs ${JSON.stringify(big)}`);
  assert.is(big.C, 32, "cuda-sm90's measured chunkPlan: chunks of 32");
  const unplanned = plan(ir, { ...PROFILES['cuda-sm90']!, chunkPlan: undefined }).tiling!;
  assert.equal([unplanned.C, unplanned.BV], [64, 64], 'without the preference, the spec chunk of 64 and value tiles of 64 fit an H100');
});

test("workgroup size: the chunk form takes the profile's chunkPlan.threads, softmax its parallelThreads, the recurrent form its recurrentThreads, where the limit allows, else 256", () => {
  const ir = stdlibIR('gated_deltanet');
  const threads = (prof: Parameters<typeof plan>[1], o: PlanOptions = {}) => plan(ir, prof, { dtype: 'f32', ...o }).program!.kernels.map((k) => k.threads);
  assert.equal(threads('webgpu-large', { form: 'chunk' }), [512, 512], 'webgpu-large: the measured 512');
  assert.equal(threads('webgpu-default', { form: 'chunk' }), [256, 256], 'the W3C default allows 256');
  // (One kernel: the recurrent delta rule computes q's and k's l2norm factors itself.)
  assert.equal(threads('webgpu-large', { form: 'recurrent' }), [256], 'the recurrent form keeps 256 without a preference');
  assert.equal(threads('cuda-sm90', { form: 'recurrent' }), [128], "cuda-sm90's measured recurrentThreads");
  assert.equal(threads('cuda-sm80', { form: 'recurrent' }), [256], 'sm80: not measured, 256');
  assert.equal(threads('cuda-sm90', { form: 'recurrent', threads: 256 }), [256], 'an explicit request wins');
  assert.equal(threads('webgpu-large', { form: 'chunk', threads: 1024 }), [1024, 1024], 'an explicit request wins');
  assert.equal(threads('webgpu-default', { form: 'chunk', threads: 1024 }), [256, 256], 'capped by the profile');
  assert.equal(threads('cuda-sm90', { form: 'chunk' }).every((t) => t === 256), true, 'CUDA: no preference, 256');
  // Softmax: the profile's parallelThreads (1024, measured) where the limit allows it.
  assert.equal(plan(stdlibIR('softmax'), 'webgpu-large').program!.kernels.map((k) => k.threads), [1024], 'softmax takes parallelThreads');
  assert.equal(plan(stdlibIR('softmax'), 'webgpu-default').program!.kernels.map((k) => k.threads), [256], 'softmax within the W3C default');
  assert.equal(plan(stdlibIR('softmax'), 'webgpu-large', { threads: 256 }).program!.kernels.map((k) => k.threads), [256], 'softmax: an explicit request wins');
  assert.equal(plan(stdlibIR('softmax'), 'cuda-sm90').program!.kernels.map((k) => k.threads), [256], 'CUDA softmax: no preference');
  assert.equal(threads('webgpu-large', { form: 'chunk', split: true }).every((t) => t === 256), true, 'measured for the fused form: not applied to a forced split');
  const bad = plan(ir, 'webgpu-large', { form: 'chunk', threads: 100 });
  assert.is(bad.program, undefined);
  assert.is(bad.diagnostics[0]?.code, 'ATTN4001');
  assert.match(bad.diagnostics[0]!.message, /positive multiple of 32/);
});

test('a spec that cannot fit the profile gets a diagnostic, not an over-budget kernel', () => {
  const ir = irFromText('attention huge {\n  dims K = 1024, V = 64\n  input q: [K], k: [K], v: [V]\n  update additive\n}\n', 'huge.attn', {});
  const p = plan(ir, 'webgpu-default');
  assert.is(p.program, undefined);
  assert.equal(p.diagnostics.map((d) => d.code), ['ATTN4001']);
  assert.match(p.diagnostics[0]!.message, /does not fit target 'webgpu-default'/);
  assert.match(p.diagnostics[0]!.message, /webgpu-large/);
  assert.ok(plan(ir, 'cuda-sm90').program, 'it fits an H100');
});

test('too many storage buffers are packed into fewer bindings', () => {
  const ir = fullSize('rwkv7');
  const p = plan(ir, 'webgpu-default');
  assert.ok(p.program);
  for (const k of p.program!.kernels) {
    const bindings = new Set(k.buffers.map((b) => b.packedInto?.buffer ?? b.name));
    assert.ok(bindings.size <= 8, `${k.name}: ${bindings.size} bindings`);
  }
  assert.ok(p.notes.some((n) => n.startsWith('binding packing')));
});

test('prepare kernels: tiles that only give a store its shape take no workgroup memory', () => {
  // The prepare kernel stores each quantity from an expression; its tile W<name> only gives the
  // store its R × width shape. It is neither declared in WGSL nor counted against the limit.
  for (const name of ['kda', 'performer', 'rwkv7', 'hedgehog']) {
    for (const target of ['webgpu-default', 'webgpu-large']) {
      const p = plan(fullSize(name), target);
      assert.ok(p.program, `${name} on ${target}`);
      const k = p.program!.kernels.find((x) => x.name.endsWith('_prepare'))!;
      const code = emitWgslKernel(k, PROFILES[target]!, 'test').code;
      const anchors = k.tiles.filter((t) => /^W/.test(t.name)).map((t) => t.name);
      assert.ok(anchors.length > 0, `${name}: the prepare kernel has store anchors`);
      for (const a of anchors) assert.not.match(code, new RegExp(`var<workgroup> ${a}:`), `${name} on ${target}: ${a} declared in workgroup memory`);
      // The WGSL declares the counted bytes plus at most 4 words of padding per tile row, within the limit.
      const declared = workgroupStorageBytes(code) ?? -1;
      const padding = k.tiles.filter((t) => t.space === 'shared').reduce((n, t) => n + t.rows * 16, 0);
      assert.ok(declared >= sharedBytes(k) && declared <= sharedBytes(k) + padding, `${name} on ${target}: ${declared} bytes declared, ${sharedBytes(k)} counted`);
      assert.ok(declared <= PROFILES[target]!.limits.sharedBytes, `${name} on ${target}: ${declared} bytes declared`);
    }
  }
  // Without the anchors counted, and with row folds that materialise no terms (a norm's squares),
  // Performer's prepare kernel fits 16 tokens per workgroup in 16 KiB (it had 4, then 8).
  assert.is(plan(fullSize('performer'), 'webgpu-default').tiling!.prepareRows, 16);
});

test('padded tile rows leave room for the workgroup variables of uniform lets (the WGSL stays within the limit)', () => {
  // RWKV-7 with K' = 36, fused chunks of 32 and key slices of 16 on webgpu-large: its tiles fit
  // 32 KiB with some bytes to spare, which row padding once filled to the byte, leaving none for
  // u_start and u_len (32800 bytes declared: pipeline creation failed).
  const ir = stdlibIR('rwkv7', { K: 36 });
  const p = plan(ir, 'webgpu-large', { form: 'chunk', split: false, chunk: 32, tiles: { BK: 16 } });
  assert.ok(p.program, renderDiagnostics(p.diagnostics));
  for (const k of p.program!.kernels) {
    const code = emitWgslKernel(k, PROFILES['webgpu-large']!, 'test').code;
    const declared = workgroupStorageBytes(code) ?? Infinity;
    assert.ok(declared <= PROFILES['webgpu-large']!.limits.sharedBytes, `${k.name}: ${declared} bytes declared`);
    assert.ok(declared >= sharedBytes(k), `${k.name}: ${declared} declared, ${sharedBytes(k)} counted`);
  }
});

test("prepare kernels stay within the profile's residentSharedBytes (several workgroups per compute unit)", () => {
  // webgpu-large allows 32 KiB per workgroup but NVIDIA's Vulkan driver keeps one workgroup per
  // SM from about 28 KiB on: Hedgehog's prepare kernel (its feature maps: W x + c, a softmax over
  // 128 features, for q and k) takes 4 tokens (≈ 10 KiB), not the 8 (≈ 20 KiB) that the limit
  // would allow.
  const budget = PROFILES['webgpu-large']!.limits.residentSharedBytes!;
  assert.ok(budget > 0 && budget < PROFILES['webgpu-large']!.limits.sharedBytes);
  const p = plan(fullSize('hedgehog'), 'webgpu-large');
  const k = p.program!.kernels.find((x) => x.name.endsWith('_prepare'))!;
  assert.ok(sharedBytes(k) <= budget, `${sharedBytes(k)} bytes`);
  assert.is(p.tiling!.prepareRows, 4);
  // A profile without the hint fills its limit: 8 rows within 32 KiB.
  const { residentSharedBytes: _, ...limits } = PROFILES['webgpu-large']!.limits;
  assert.is(plan(fullSize('hedgehog'), { ...PROFILES['webgpu-large']!, limits }).tiling!.prepareRows, 8);
});

test('l2norm feature maps are fused: the intra-chunk kernel writes one factor per token, not the rows; no prepare kernel', () => {
  // Gated DeltaNet: q̃ = l2norm(q)·K^-½, k̃ = l2norm(k). The plan fuses both maps (the raw input
  // times the per-token factor 1/‖x‖). Split form (CUDA): the intra-chunk kernel, which runs first,
  // computes the factors of its chunk's rows (as the prepare kernel did) and stores NT·H of each
  // instead of NT·H·128 values; the state kernel (here f32: it computes the outputs too) reads the
  // raw inputs and the factors; no prepare kernel is left.
  const p = plan(fullSize('gated_deltanet'), 'cuda-sm90');
  const qs = p.quantities!;
  assert.is(qs.q!.how, 'fused');
  assert.is(qs.q!.rowScale?.scale, 'qnorm');
  assert.is(qs.k!.rowScale?.scale, 'knorm');
  assert.equal([qs.qnorm!.how, qs.qnorm!.width, qs.knorm!.how], ['prepared', 0, 'prepared']);
  assert.equal(p.program!.kernels.map((k) => k.name), ['gated_deltanet_intra', 'gated_deltanet_chunk']);
  const intra = p.program!.kernels[0]!;
  const stores: string[] = [];
  forEachStmt(intra.body, (s) => void (s.op === 'store' && s.dst.buf.startsWith('f_') && stores.push(`${s.dst.buf} ${s.dst.cols.k === 'const' ? s.dst.cols.v : '?'}`)));
  assert.equal(stores, ['f_qnorm 1', 'f_knorm 1']);
  const bufs = p.program!.kernels.slice(1).flatMap((x) => x.buffers.map((y) => y.name));
  assert.ok(bufs.includes('in_q') && bufs.includes('in_k') && bufs.includes('f_qnorm') && !bufs.includes('f_q'), bufs.join(' '));
  assert.ok(p.notes.includes('fusion: qnorm, knorm computed by the intra-chunk kernel itself (from the rows it loads), not prepared'), p.notes.join('\n'));
  // A prepare kernel where other kernels read a prepared quantity that the intra kernel does not
  // write: Hedgehog's softmax feature map, prepared whole.
  assert.ok(plan(fullSize('hedgehog'), 'cuda-sm90').program!.kernels.some((k) => k.name.endsWith('_prepare')));
  // The fused WebGPU kernel computes the factors itself from the key slices it loads (sums of
  // squares in Qn and Kn): no prepare kernel, no factor buffer, and a note that says so.
  const w = plan(fullSize('gated_deltanet'), 'webgpu-large');
  assert.equal(w.program!.kernels.map((k) => k.name), ['gated_deltanet_chunk']);
  assert.not.ok(w.program!.buffers.some((x) => x.name.startsWith('f_')));
  assert.ok(w.notes.includes('fusion: qnorm, knorm computed by the main kernel itself (from the rows it loads), not prepared'), w.notes.join('\n'));
  // A norm that is not the only non-elementwise part stays prepared whole (Hedgehog's softmax).
  assert.is(plan(fullSize('hedgehog'), 'webgpu-large').quantities!.q!.how, 'prepared');
});

test('binding packing sizes f16 inputs in 32-bit words (two elements per word)', () => {
  const ir = irFromText(
    'attention many {\n  dims K = 16, V = 16\n  input q: [K], s: scalar, k: [K], v: [V], a: [K], b: [K], c: [V], d: [V], w: [K]\n  feature q = q * sigmoid(a)\n  feature k = k * sigmoid(b)\n  feature v = v * sigmoid(c) * sigmoid(s)\n  gate -exp(w)\n  update additive\n  epilogue o * sigmoid(d)\n}\n',
    'many.attn',
    {},
  );
  const profile = { ...PROFILES['webgpu-default']!, features: { ...PROFILES['webgpu-default']!.features, f16: true } };
  const offsets = (dtype: 'f32' | 'f16') => {
    const p = plan(ir, profile, { form: 'recurrent', dtype });
    assert.ok(p.program);
    const ins = p.program!.buffers.filter((x) => x.role === 'input');
    assert.ok(ins.every((x) => x.packedInto?.buffer === 'packed_in' && x.dtype === dtype), `${dtype}: inputs packed`);
    const params = { NT: 7, H: 3, ...Object.fromEntries(ir.inputs.map((i) => [`H_${i.name}`, 3])) };
    return ins.map((x) => evalSize(x.packedInto!.offset, params));
  };
  const f32 = offsets('f32');
  const f16 = offsets('f16');
  // 7 tokens × 3 heads: a [16] input has 336 elements (336 words in f32, 168 in f16), the scalar
  // s has 21 (21 words → 24 aligned in f32; 11 words → 12 aligned in f16).
  assert.equal(f32, [0, 336, 360, 696, 1032, 1368, 1704, 2040, 2376]);
  assert.equal(f16, [0, 168, 180, 348, 516, 684, 852, 1020, 1188]);
});

test('unknown targets and passes are diagnostics', () => {
  const ir = stdlibIR('gla');
  assert.equal(plan(ir, 'webgpu-huge').diagnostics.map((d) => d.code), ['ATTN4003']);
  assert.equal(plan(ir, 'webgpu-default', {}, 'tilling').diagnostics.map((d) => d.code), ['ATTN4004']);
});

test("per-head parameters are read once per kernel, not in every chunk (hoist.ts)", () => {
  // Gated DeltaNet's gate −exp(A_log[h])·softplus(a + dt_bias[h]): A_log[h] and dt_bias[h] are lets
  // in front of the sequence loop; inside it the gate reads them, and no parameter buffer.
  for (const profile of ['webgpu-large', 'cuda-sm90']) {
    const k = plan(fullSize('gated_deltanet'), profile, { split: false }).program!.kernels.find((x) => x.name.endsWith('_chunk'))!;
    const at = k.body.findIndex((s) => s.op === 'for');
    const lets = k.body.slice(0, at).filter((s) => s.op === 'let' && s.value.k === 'ld').map((s) => (s.op === 'let' && s.value.k === 'ld' ? s.value.buf : ''));
    assert.ok(lets.includes('p_A_log') && lets.includes('p_dt_bias'), `${profile}: ${lets.join(', ')}`);
    const inLoop = new Set<string>();
    forEachStmt([k.body[at]!], (s) => {
      const seen = (e: import('../../compiler/kernel-ir/types.ts').SExpr): void => {
        if (e.k === 'ld') inLoop.add(e.buf);
        for (const x of operands(e)) seen(x);
      };
      if (s.op === 'map') seen(s.expr);
    });
    assert.not.ok(inLoop.has('p_A_log') || inLoop.has('p_dt_bias'), `${profile}: ${[...inLoop].join(', ')}`);
  }
});

test('integer divisions by run-time values (a grouped head, h·H_k / H) are lets at the top of the sequence loop or before the range check, not at each use (hoist.ts)', () => {
  const runtimeDivisions = (e: import('../../compiler/kernel-ir/types.ts').SExpr): number =>
    (e.k === 'bin' && (e.fn === 'idiv' || e.fn === 'mod') && e.b.k !== 'const' ? 1 : 0) + operands(e).reduce((n, x) => n + runtimeDivisions(x), 0);
  for (const spec of ['linear_attention', 'gated_deltanet']) {
    for (const profile of ['webgpu-large', 'cuda-sm90']) {
      for (const k of plan(fullSize(spec), profile).program!.kernels.filter((x) => /_(chunk|intra|output)$/.test(x.name))) {
        // (The intra-chunk and output kernels' bodies are one `if`, their range check.)
        const at = k.body.findIndex((s) => s.op === 'for' || s.op === 'if');
        const compound = k.body[at]!;
        const lets = [...k.body.slice(0, at), ...(compound.op === 'for' ? compound.body : [])].filter((s) => s.op === 'let' && runtimeDivisions(s.value) > 0).length;
        let inLoop = 0;
        forEachStmt(k.body.slice(at), (s) => {
          if (s.op === 'map') inLoop += runtimeDivisions(s.expr);
          if (s.op === 'store') inLoop += runtimeDivisions(s.dst.index);
        });
        assert.is(inLoop, 0, `${spec} ${profile} ${k.name}: ${inLoop} run-time divisions in the loop`);
        assert.ok(lets > 0, `${spec} ${profile} ${k.name}: the head index is a let`);
      }
    }
  }
});

test('explain --dump-after tiling shows a readable plan', () => {
  const st = plan(fullSize('gated_deltanet'), 'webgpu-default', {}, 'tiling', printPlan);
  assert.ok(st.dump);
  assert.match(st.dump!, /form: chunk/);
  assert.match(st.dump!, /q +fused +\[128\] +l2norm\(q\)/);
  assert.match(st.dump!, /qnorm +prepared +\[scalar\] +rsqrt/);
  assert.match(st.dump!, /tiling: chunk \d+, value tile \d+, key slice \d+/);
  assert.ok(!/^kernel /m.test(st.dump!), 'no kernels yet after tiling');
  assert.equal(PASS_NAMES, ['form-selection', 'fusion', 'tiling', 'kernels', 'barriers', 'binding-packing', 'dtype', 'memory']);
});

test('general-linear and vector-state updates get a clear ATTN4002 on every target, with the way to run them', () => {
  const specs = [
    'attention gl {\n  dims K = 8, V = 6\n  input q: [K], k: [K], v: [V]\n  param W: [K, K]\n  state S: [K, V]\n  update S = W @ S + k ⊗ v\n  output o = Sᵀ @ q\n}\n',
    'attention vs {\n  dims D = 8\n  input q: [D], k: [D], v: [D], w: [D]\n  state s: [D]\n  update s = exp(-softplus(w)) * s + k * v\n  output o = q * s\n}\n',
  ];
  for (const text of specs) {
    const ir = irFromText(text, 'x.attn', {});
    for (const target of ['webgpu-large', 'cuda-sm90']) {
      for (const form of [undefined, 'recurrent', 'chunk'] as const) {
        const p = plan(ir, target, form ? { form } : {});
        assert.is(p.program, undefined);
        assert.equal(p.diagnostics.map((d) => d.code), ['ATTN4002'], `${ir.name} on ${target}`);
        const d = p.diagnostics[0]!;
        assert.is(d.message, `form '${form ?? 'chunk'}' is not available for spec '${ir.name}': no kernel target compiles a ${ir.update!.cls} update: only the reference interpreter runs it, in the recurrent form`);
        assert.match(d.hint ?? '', '`attnc run FILE --backend reference --form recurrent`');
      }
    }
  }
});

test('requested tiles (--tiles) replace the choice of the tiling pass, and the plan says so', () => {
  const gdn = fullSize('gated_deltanet');
  const auto = plan(gdn, 'cuda-sm90');
  assert.equal([auto.tiling!.C, auto.tiling!.BV, auto.tiling!.BK], [32, 32, 128], "the choice without a request (cuda-sm90's chunkPlan)");
  assert.not.match(auto.tiling!.why, 'requested');
  const cases: [PlanOptions, { C: number; BV: number; BK: number }][] = [
    [{ tiles: { BV: 64 } }, { C: 32, BV: 64, BK: 128 }],
    [{ tiles: { BK: 32 } }, { C: 32, BV: 32, BK: 32 }],
    [{ tiles: { BV: 16, BK: 64 } }, { C: 32, BV: 16, BK: 64 }],
    [{ chunk: 32, tiles: { BV: 128, BK: 128 } }, { C: 32, BV: 128, BK: 128 }],
    [{ form: 'recurrent', tiles: { BV: 8 } }, { C: 1, BV: 8, BK: 128 }],
  ];
  for (const [options, want] of cases) {
    const p = plan(gdn, 'cuda-sm90', options);
    assert.ok(p.program, `${JSON.stringify(options)}: ${renderDiagnostics(p.diagnostics)}`);
    const t = p.tiling!;
    assert.equal({ C: t.C, BV: t.BV, BK: t.BK }, want, JSON.stringify(options));
    if (options.tiles!.BV) assert.match(t.why, `value tile ${want.BV} (requested)`);
    if (options.tiles!.BK) assert.match(t.why, `key slice ${want.BK} (requested)`);
    assert.ok(p.notes.some((n) => n.includes('(requested)')), 'the notes say the tiles were requested');
  }
  // Softmax: BK is the key tile; the query tile stays the chunk's.
  const sm = fullSize('softmax');
  const s = plan(sm, 'cuda-sm90', { tiles: { BK: 32 } });
  assert.ok(s.program, renderDiagnostics(s.diagnostics));
  assert.equal([s.tiling!.C, s.tiling!.BK], [plan(sm, 'cuda-sm90').tiling!.C, 32]);
  assert.match(s.tiling!.why, 'key tiles of 32 (requested)');
  assert.equal(plan(sm, 'cuda-sm90', { chunk: 64, tiles: { BK: 128 } }).tiling!.C, 64);
});

test("the flash kernel's key tile on cuda-sm90: 64 for plain causal scores, 32 for the rest; 32 on sm_80", () => {
  // bf16: the matmuls on tensor cores, where the profile's key tiles apply.
  const bk = (spec: string, target = 'cuda-sm90') => plan(fullSize(spec), target, { dtype: 'bf16' }).tiling!.BK;
  assert.is(bk('softmax'), 64);
  // A bias term, a gate, an output gate (epilogue), a mask other than causal: 32.
  for (const s of ['alibi', 'forgetting_attention', 'gated_softmax', 'swa_sink']) assert.is(bk(s), 32, s);
  assert.is(bk('softmax', 'cuda-sm80'), 32);
  // A plain score spelled another way (the constant first) is still plain.
  const other = irFromText(readFileSync(join(REPO, 'stdlib/softmax.attn'), 'utf8').replace('dot(q, k) * D^-0.5', 'D^-0.5 * dot(q, k)'));
  assert.is(plan(other, 'cuda-sm90', { dtype: 'bf16' }).tiling!.BK, 64);
  // A feature map (a norm of q and k) is not plain: at 64 it spilled.
  const normed = irFromText(readFileSync(join(REPO, 'stdlib/softmax.attn'), 'utf8').replace('score     dot(q, k) * D^-0.5', 'feature q = l2norm(q)\n  feature k = l2norm(k)\n  score     dot(q, k) * D^-0.5'));
  assert.ok(normed.features.q.op !== 'ref', 'the spec has a feature map');
  assert.is(plan(normed, 'cuda-sm90', { dtype: 'bf16' }).tiling!.BK, 32);
});

test('a tile size the spec does not allow is ATTN4006, with the allowed sizes', () => {
  const gdn = fullSize('gated_deltanet');
  const bad = plan(gdn, 'cuda-sm90', { tiles: { BV: 12, BK: 256 } });
  assert.is(bad.program, undefined);
  assert.equal(bad.diagnostics.map((d) => d.code), ['ATTN4006', 'ATTN4006']);
  assert.is(bad.diagnostics[0]!.message, "tile size BV=12 is not allowed for spec 'gated_deltanet': the value tile must be one of 8, 16, 32, 64, 128 (V' = 128)");
  assert.is(bad.diagnostics[1]!.message, "tile size BK=256 is not allowed for spec 'gated_deltanet': the key slice must be one of 8, 16, 32, 64, 128 (K' = 128)");
  assert.match(bad.diagnostics[0]!.hint ?? '', 'powers of two from 8');
  for (const BV of [0, 4, 256, 2.5]) assert.equal(plan(gdn, 'cuda-sm90', { tiles: { BV } }).diagnostics.map((d) => d.code), ['ATTN4006'], `BV=${BV}`);
  // Up to the next power of two of the dimension: V' = 24 allows 32.
  const small = irFromText('attention small {\n  dims K = 16, V = 24\n  input q: [K], k: [K], v: [V]\n  update additive\n}\n', 'small.attn', {});
  assert.is(plan(small, 'webgpu-default', { tiles: { BV: 32, BK: 16 } }).tiling!.BV, 32);
  assert.equal(plan(small, 'webgpu-default', { tiles: { BK: 32 } }).diagnostics.map((d) => d.code), ['ATTN4006']);
  // An epilogue over whole output rows needs BV = V'.
  const normed = irFromText('attention normed {\n  dims K = 16, V = 24\n  input q: [K], k: [K], v: [V]\n  update additive\n  epilogue l2norm(o)\n}\n', 'normed.attn', {});
  const rows = plan(normed, 'webgpu-default', { tiles: { BV: 16 } });
  assert.equal(rows.diagnostics.map((d) => d.code), ['ATTN4006']);
  assert.match(rows.diagnostics[0]!.message, "the epilogue needs whole output rows, so the value tile must be V' = 24");
  assert.is(plan(normed, 'webgpu-default', { tiles: { BV: 24, BK: 8 } }).tiling!.BK, 8);
  // Softmax takes no BV, and key tiles up to 256.
  const sm = fullSize('softmax');
  const bv = plan(sm, 'cuda-sm90', { tiles: { BV: 32 } });
  assert.equal(bv.diagnostics.map((d) => d.code), ['ATTN4006']);
  assert.match(bv.diagnostics[0]!.message, 'softmax specs take no value tile');
  assert.match(bv.diagnostics[0]!.hint ?? '', 'give BK, the key tile');
  const bk = plan(sm, 'cuda-sm90', { tiles: { BK: 512 } });
  assert.equal(bk.diagnostics.map((d) => d.code), ['ATTN4006']);
  assert.match(bk.diagnostics[0]!.message, 'the key tile must be one of 8, 16, 32, 64, 128, 256');
});

test('requested tiles that do not fit the workgroup memory are ATTN4001, naming the tiles and the bytes', () => {
  const p = plan(fullSize('gated_deltanet'), 'webgpu-default', { tiles: { BV: 128, BK: 128 } });
  assert.is(p.program, undefined);
  assert.equal(p.diagnostics.map((d) => d.code), ['ATTN4001']);
  const m = p.diagnostics[0]!.message;
  assert.match(m, "the tile request BV=128, BK=128 for spec 'gated_deltanet' does not fit target 'webgpu-default'");
  const bytes = Number(/needs (\d+) bytes of workgroup memory; webgpu-default allows 16384/.exec(m)?.[1]);
  assert.ok(bytes > 16384, m);
  assert.match(p.diagnostics[0]!.hint ?? '', 'smaller tiles');
  const s = plan(fullSize('softmax'), 'webgpu-default', { tiles: { BK: 64 } });
  assert.equal(s.diagnostics.map((d) => d.code), ['ATTN4001']);
  assert.match(s.diagnostics[0]!.message, /the tile request BK=64 for spec 'softmax' does not fit target 'webgpu-default': its smallest kernel \(query tiles of 8, key tiles of 64\) needs \d+ bytes/);
});

test('kernels planned with requested tiles equal the reference (kernel-IR interpreter)', () => {
  const run = (name: string, dims: Record<string, number>, options: PlanOptions) => {
    const ir = stdlibIR(name, dims);
    const recurrent = ir.family === 'recurrent';
    const inputs = randomInputs(ir, { B: 2, T: 37, H: 1, seed: 5, initialState: recurrent });
    const p = plan(ir, 'webgpu-large', options);
    assert.ok(p.program, renderDiagnostics(p.diagnostics));
    const h = prepareHostRun(ir, p.program!, inputs, true);
    assert.ok(h.host, renderDiagnostics(h.diagnostics));
    runProgram(p.program!, h.host!.buffers, h.host!.params);
    const got = readOutputs(ir, h.host!, true);
    const ref = interpret(ir, inputs, { form: 'recurrent', outputFinalState: true });
    const label = `${name} ${JSON.stringify(options)}`;
    assert.ok(compareTensors(got.output.data, ref.output!.data).relErr <= 1e-9, `${label}: output`);
    if (recurrent) assert.ok(compareTensors(got.finalState!.S.data, ref.finalState!.S.data).relErr <= 1e-9, `${label}: final state`);
    return p.tiling!;
  };
  const d = { K: 32, V: 32 };
  assert.equal([run('gated_deltanet', d, { chunk: 16, tiles: { BV: 8, BK: 32 } }).BV, run('gated_deltanet', d, { chunk: 16, tiles: { BV: 32, BK: 8 } }).BK], [8, 8]);
  assert.is(run('gated_deltanet', d, { form: 'recurrent', tiles: { BV: 16, BK: 8 } }).BV, 16);
  assert.is(run('softmax', { D: 16 }, { chunk: 16, tiles: { BK: 8 } }).BK, 8);
  assert.is(run('softmax', { D: 16 }, { chunk: 8, tiles: { BK: 32 } }).BK, 32);
});

test('split state kernel: scalar-gated q and k are scaled as they load, one barrier fewer per key slice than with separate scaling passes (vector gates keep them)', () => {
  type S = import('../../compiler/kernel-ir/types.ts').Stmt;
  /** Barriers directly inside each `for k0` loop of a kernel body, in order. */
  const sliceBarriers = (body: S[]): number[] => {
    const out: number[] = [];
    const walk = (ss: S[]) => {
      for (const s of ss) {
        if (s.op === 'for') {
          if (s.v === 'k0') out.push(s.body.filter((x) => x.op === 'barrier').length);
          walk(s.body);
        } else if (s.op === 'if') {
          walk(s.then);
          walk(s.else);
        }
      }
    };
    walk(body);
    return out;
  };
  const chunkKernel = (name: string) => plan(fullSize(name), 'webgpu-large', { split: true }).program!.kernels.find((k) => k.name === `${name}_chunk`)!;
  // Delta rules: a reads loop and an update loop (before: [3, 3] with a scalar gate).
  assert.equal(sliceBarriers(chunkKernel('gated_deltanet').body), [2, 2], 'gated_deltanet');
  assert.equal(sliceBarriers(chunkKernel('deltanet').body), [2, 2], 'deltanet (no gate)');
  assert.equal(sliceBarriers(chunkKernel('kda').body), [3, 3], 'kda (vector gate: the gate slice loads with q)');
  // Additive rules: one loop (before: [5] with a scalar gate, then [4]; the state's decay now
  // rides on the update's matmul, no pass of its own).
  for (const name of ['retnet', 'simple_gla', 'mamba2', 'lightning']) assert.equal(sliceBarriers(chunkKernel(name).body), [3], name);
  assert.equal(sliceBarriers(chunkKernel('gla').body), [5], 'gla (vector gate)');
});

test('an explicit chunk (--chunk) is kept when it fits, and a fallback says the request did not fit', () => {
  const gdn = fullSize('gated_deltanet');
  const kept = plan(gdn, 'webgpu-large', { chunk: 32 });
  assert.is(kept.tiling!.C, 32, kept.tiling!.why);
  assert.not.ok(kept.notes.some((n) => n.includes('does not fit')), kept.notes.join('\n'));
  // 16 KiB: chunks of 64 do not fit; 32 do (the fused delta kernel keeps no copy of the values).
  const fallback = plan(gdn, 'webgpu-default', { chunk: 64 });
  assert.is(fallback.tiling!.C, 32);
  assert.ok(fallback.notes.includes('tiling: the requested chunk 64 (--chunk) does not fit webgpu-default; using 32 (results are the same up to rounding)'), fallback.notes.join('\n'));
  const sm = irFromText(readFileSync(join(REPO, 'stdlib', 'softmax.attn'), 'utf8'), 'softmax', { D: 16 });
  const q = plan(sm, 'webgpu-default', { chunk: 64 });
  assert.is(q.tiling!.C, 64, q.tiling!.why);
  const big = plan(fullSize('softmax'), 'webgpu-default', { chunk: 128 });
  assert.ok(big.tiling!.C < 128);
  assert.ok(big.notes.some((n) => n.startsWith('tiling: the requested query tile 128 (--chunk) does not fit webgpu-default')), big.notes.join('\n'));
});

test('split form: with room for it, the widest key slice beats a value tile wider than 32 (fewer phases per chunk, more workgroups)', () => {
  // An adapter with 48 KiB of workgroup memory, as an H100 grants through Dawn.
  const prof = { ...PROFILES['webgpu-large']!, name: 'webgpu-48k', limits: { ...PROFILES['webgpu-large']!.limits, sharedBytes: 48 * 1024 } };
  const t = plan(fullSize('gated_deltanet'), { ...prof, chunkPlan: undefined }, { split: true, chunk: 16 }).tiling!;
  assert.equal([t.C, t.BV, t.BK], [16, 32, 128], t.why);
  // Without a chunkPlan CUDA keeps the spec's chunk and the widest tiles (everything fits)...
  const c = plan(fullSize('gated_deltanet'), { ...PROFILES['cuda-sm90']!, chunkPlan: undefined }).tiling!;
  assert.equal([c.C, c.BV, c.BK], [64, 64, 128], c.why);
  // ...and with it, its measured chunk and value tiles of 32.
  const m = plan(fullSize('gated_deltanet'), 'cuda-sm90').tiling!;
  assert.equal([m.C, m.BV, m.BK], [32, 32, 128], m.why);
});

test('barriers per chunk of the split state kernels: register tiles and loop ends need none of their own', () => {
  type S = import('../../compiler/kernel-ir/types.ts').Stmt;
  /** Barriers one pass over `body` executes, constant-trip loops unrolled. */
  const executed = (body: S[]): number =>
    body.reduce((n, s) => {
      if (s.op === 'barrier') return n + 1;
      if (s.op === 'for') {
        const trips = s.from.k === 'const' && s.to.k === 'const' && s.step.k === 'const' ? Math.ceil((s.to.v - s.from.v) / s.step.v) : 1;
        return n + trips * executed(s.body);
      }
      return s.op === 'if' ? n + Math.max(executed(s.then), executed(s.else)) : n;
    }, 0);
  const prof = { ...PROFILES['webgpu-large']!, name: 'webgpu-48k', limits: { ...PROFILES['webgpu-large']!.limits, sharedBytes: 48 * 1024 } };
  const perChunk = (name: string) => {
    const k = plan(fullSize(name), prof, { split: true }).program!.kernels.find((x) => x.name === `${name}_chunk`)!;
    const find = (ss: S[]): S[] | undefined => {
      for (const s of ss) {
        if (s.op === 'for' && s.v === 'c0') return s.body;
        if (s.op === 'for') { const f = find(s.body); if (f) return f; }
      }
      return undefined;
    };
    return executed(find(k.body)!);
  };
  // One key slice of 128, every tile loaded at once: after the loads, after U − W·S and Q·S (read
  // S), after the output's Aqk·U and the decayed copy of U (both only read U), after the update.
  assert.is(perChunk('gated_deltanet'), 4);
  // Additive, one slice: after the loads, after Q·S (reads S), after the decay of V and S (V was
  // read by the intra-chunk product), after the update.
  assert.is(perChunk('simple_gla'), 4);
});

test('a loop needs a barrier in front only when its body conflicts with the epoch before its first barrier', () => {
  type S = import('../../compiler/kernel-ir/types.ts').Stmt;
  const map = (dst: string, expr = kb.f(0)): S => ({ op: 'map', dst: { tile: dst }, expr });
  const loop = (body: S[]): S => ({ op: 'for', v: 'k0', from: kb.i(0), to: kb.i(2), step: kb.i(1), body });
  const shape = (ss: S[]): string[] => ss.map((s) => (s.op === 'for' ? `for[${shape(s.body).join(' ')}]` : s.op === 'map' ? s.dst.tile : s.op));
  // A is zeroed, then each iteration stages B and, after a barrier, accumulates B into A: the
  // staging meets nothing of the epoch, so the zeroing needs no barrier of its own.
  const body = [map('A'), loop([map('B'), map('A', kb.add(kb.tile('A', kb.R, kb.C), kb.tile('B', kb.R, kb.C)))])];
  assert.equal(shape(minimiseBarriers(body)), ['A', 'for[B barrier A barrier]']);
  // Staging that reads A before the loop's first barrier keeps the barrier in front.
  const reads = [map('A'), loop([map('B', kb.tile('A', kb.R, kb.C)), map('A', kb.tile('B', kb.R, kb.C))])];
  assert.equal(shape(minimiseBarriers(reads)), ['A', 'barrier', 'for[B barrier A barrier]']);
  // A loop that may not run leaves the epoch open: what follows it still waits for A.
  const maybe: S = { op: 'for', v: 'k0', from: kb.i(0), to: kb.v('n'), step: kb.i(1), body: [map('B'), map('C', kb.tile('B', kb.R, kb.C))] };
  assert.equal(shape(minimiseBarriers([map('A'), maybe, map('D', kb.tile('A', kb.R, kb.C))])), ['A', 'for[B barrier C barrier]', 'barrier', 'D']);
});

test('barriers through an if follow each path: a branch without shared work carries the epoch on, a skipped path gets no barrier', () => {
  type S = import('../../compiler/kernel-ir/types.ts').Stmt;
  const map = (dst: string, expr = kb.f(0)): S => ({ op: 'map', dst: { tile: dst }, expr });
  const when = (then: S[], other: S[] = []): S => ({ op: 'if', cond: kb.lt(kb.v('k0'), kb.v('n')), then, else: other });
  const loop = (body: S[]): S => ({ op: 'for', v: 'k0', from: kb.i(0), to: kb.v('n'), step: kb.i(1), body });
  const shape = (ss: S[]): string[] =>
    ss.map((s) => (s.op === 'for' ? `for[${shape(s.body).join(' ')}]` : s.op === 'if' ? `if[${shape(s.then).join(' ')}|${shape(s.else).join(' ')}]` : s.op === 'map' ? s.dst.tile : s.op));
  // The flash kernel's key tile: V staged, scores from K, then (after a barrier: K was read) the
  // next tile's K staged when there is one, and the product with V; a tile the mask skips stages
  // the next K alone. The barriers close each path that touched shared tiles, not the loop body:
  // a skipped tile that stages nothing passes without one.
  const read = (t: string) => kb.tile(t, kb.R, kb.C);
  const tile = when([map('V'), map('S', read('K')), when([map('K')]), map('O', read('V'))], [when([map('K')])]);
  assert.equal(shape(minimiseBarriers([loop([tile])])), ['for[if[V S barrier if[K|] O barrier|if[K barrier|]]]']);
  // A branch that touches nothing leaves the epoch before the if open: B still waits for A.
  assert.equal(shape(minimiseBarriers([map('A'), when([map('C'), map('D', read('C'))]), map('B', read('A'))])), ['A', 'if[C barrier D|]', 'barrier', 'B']);
  // Both paths end with barriers behind their writes: what follows starts a fresh epoch.
  const both = when([map('A'), map('C', read('A'))], [map('A'), map('D', read('A'))]);
  assert.equal(shape(minimiseBarriers([loop([both])])), ['for[if[A barrier C barrier|A barrier D barrier]]']);
});

test('ops on disjoint row blocks of a tile need no barrier between them; overlapping or unknown blocks do', () => {
  type S = import('../../compiler/kernel-ir/types.ts').Stmt;
  const mm = (r0: import('../../compiler/kernel-ir/types.ts').SExpr): S => ({ op: 'matmul', dst: { tile: 'S', r0, rows: 16 }, a: { tile: 'K' }, b: { tile: 'X' }, transA: true, transB: false, acc: 'add' });
  const shape = (ss: S[]): string[] => ss.map((s) => (s.op === 'matmul' ? `S@${s.dst.r0!.k === 'const' ? s.dst.r0!.v : '?'}` : s.op));
  assert.equal(shape(minimiseBarriers([mm(kb.i(0)), mm(kb.i(16))])), ['S@0', 'S@16']);
  assert.equal(shape(minimiseBarriers([mm(kb.i(0)), mm(kb.i(8))])), ['S@0', 'barrier', 'S@8']);
  assert.equal(shape(minimiseBarriers([mm(kb.i(0)), mm(kb.v('k0'))])), ['S@0', 'barrier', 'S@?']);
  // A whole-tile access meets every block.
  const whole: S = { op: 'map', dst: { tile: 'S' }, expr: kb.f(0) };
  assert.equal(shape(minimiseBarriers([mm(kb.i(16)), whole])), ['S@16', 'barrier', 'map']);
});

test('barriers per chunk of the fused delta kernel (WebGPU, 48 KiB): the chunk head overlaps the first key slice', () => {
  type S = import('../../compiler/kernel-ir/types.ts').Stmt;
  const executed = (body: S[]): number =>
    body.reduce((n, s) => {
      if (s.op === 'barrier') return n + 1;
      if (s.op === 'for') return n + (s.from.k === 'const' && s.to.k === 'const' && s.step.k === 'const' ? Math.ceil((s.to.v - s.from.v) / s.step.v) : 1) * executed(s.body);
      return s.op === 'if' ? n + Math.max(executed(s.then), executed(s.else)) : n;
    }, 0);
  const prof = { ...PROFILES['webgpu-large']!, name: 'webgpu-48k', limits: { ...PROFILES['webgpu-large']!.limits, sharedBytes: 48 * 1024 } };
  const k = plan(fullSize('gated_deltanet'), prof, { form: 'chunk' }).program!.kernels.find((x) => x.name === 'gated_deltanet_chunk')!;
  const chunkLoop = k.body.find((s): s is Extract<S, { op: 'for' }> => s.op === 'for' && s.v === 'c0')!;
  // 2 per key slice of the scores and reads of S (2 slices), after the maps (which also scale the
  // update's k, kept from the scores: pairUpdate), after the solve, after the update (both halves
  // of S in one phase, with the output). The log-gates are copied in the chunk before
  // (gateAhead), so the cumulative sum at the top of the chunk needs no barrier of its own.
  assert.is(executed(chunkLoop.body), 7);
});

test("cuda-sm90's deltaRegisterState: bf16/f16 delta rules take three kernels, 16-bit operands and the state in registers, unless the caller or the tiles rule it out", () => {
  const tiling = (name: string, target: string, options: PlanOptions) => {
    const p = plan(fullSize(name), target, options);
    assert.ok(p.program, `${name} ${JSON.stringify(options)}: ${p.diagnostics.map((d) => d.message).join('; ')}`);
    return { t: p.tiling!, options: p.options, notes: p.notes };
  };
  for (const name of ['gated_deltanet', 'deltanet', 'kda'])
    for (const dtype of ['bf16', 'f16'] as const) {
      const { t, options, notes } = tiling(name, 'cuda-sm90', { dtype });
      assert.ok(t.stateRegisters && t.outputKernel, `${name} ${dtype}: three kernels, state in registers`);
      assert.is(options.halfOperands, true, `${name} ${dtype}: 16-bit operands`);
      assert.not.ok(notes.some((n) => n.includes('stays in shared memory')), `${name} ${dtype}: no note`);
    }
  const off: [string, string, PlanOptions][] = [
    ['gated_deltanet', 'cuda-sm90', { dtype: 'f32' }],
    ['gated_deltanet', 'cuda-sm80', { dtype: 'bf16' }],
    ['gated_deltanet', 'cuda-sm90', { dtype: 'bf16', stateRegisters: false }],
    ['gated_deltanet', 'cuda-sm90', { dtype: 'bf16', outputKernel: false }],
    ['gated_deltanet', 'cuda-sm90', { dtype: 'bf16', tiles: { BV: 64 } }],
    ['gated_deltanet', 'cuda-sm90', { dtype: 'bf16', tiles: { BK: 64 } }],
    ['gated_deltanet', 'cuda-sm90', { dtype: 'bf16', form: 'recurrent' }],
    ['gated_deltanet', 'webgpu-large', { dtype: 'f16' }],
    ['gla', 'cuda-sm90', { dtype: 'bf16' }],
  ];
  for (const [name, target, options] of off) {
    const r = tiling(name, target, options);
    assert.not.ok(r.t.stateRegisters, `${name} ${target} ${JSON.stringify(options)}: state not in registers`);
    assert.not.ok(r.options.halfOperands, `${name} ${target} ${JSON.stringify(options)}: operands as before`);
    assert.not.ok(r.notes.some((n) => n.includes('stays in shared memory')), `${name} ${target} ${JSON.stringify(options)}: no note`);
  }
  // The caller's halfOperands wins (TF32 operands with the state in registers).
  assert.is(tiling('gated_deltanet', 'cuda-sm90', { dtype: 'bf16', halfOperands: false }).options.halfOperands, false);
});

test.run();
