/**
 * A whole program for CUDA: `NAME.cu` (kernels from the printer, plus host launchers), `NAME.h`
 * (the C ABI), `NAME.manifest.json`. Boilerplate is Handlebars (noEscape, strict); every number
 * the launchers compute — uniform params, buffer sizes, grids — comes from the kernel IR's own
 * size expressions, printed as C, so the host contract (compiler/kernel-ir/host-contract.ts) holds
 * by construction:
 *   B, T, H, N (sequences), NT = B·T, MAXLEN, HAS_INIT, STORE_FINAL, H_<input>;
 *   cu: the caller's cu_seqlens (device int32), or NULL: the kernels then take n·T (attnc_seq_start);
 *   tokinfo [NT, 2] (position, sequence length) written by a small kernel from cu, when used;
 *   scratch buffers (prepared features, cumulative gates) in the workspace.
 */
import Handlebars from 'handlebars';
import type { AttentionIR } from '../../compiler/ir/attention-ir.ts';
import type { BufferDecl, Dtype, Program, SExpr } from '../../compiler/kernel-ir/types.ts';
import { shapeCondition } from '../../compiler/passes/shape-plans.ts';
import type { ShapePlan, TargetProfile } from '../../compiler/targets/profiles.ts';
import { VERSION } from '../../compiler/version.ts';
import { abiFields, dtypeName, fieldName, type AbiField } from './abi.ts';
import { DEVICE_HELPERS, emitCudaKernel, type CudaKernel } from './emit.ts';
import { WGMMA_ARCH_CHECK, WGMMA_HELPERS } from './wgmma.ts';

export const STATUS = [
  { name: 'ATTNC_OK', value: 0, text: 'ok' },
  { name: 'ATTNC_ERR_INVALID_ARGS', value: 1, text: 'invalid arguments' },
  { name: 'ATTNC_ERR_BAD_SHAPE', value: 2, text: 'bad shape' },
  { name: 'ATTNC_ERR_BAD_HEADS', value: 3, text: 'bad head counts' },
  { name: 'ATTNC_ERR_BAD_SEQLENS', value: 4, text: 'bad cu_seqlens' },
  { name: 'ATTNC_ERR_MISSING_TENSOR', value: 5, text: 'missing tensor' },
  { name: 'ATTNC_ERR_TOO_LARGE', value: 6, text: 'too large' },
  { name: 'ATTNC_ERR_WORKSPACE', value: 7, text: 'bad workspace' },
  { name: 'ATTNC_ERR_CUDA', value: 8, text: 'CUDA error' },
];

/** A size expression of the kernel IR as a C expression over `long long` locals. */
export function hostExpr(e: SExpr): string {
  switch (e.k) {
    case 'const':
      return e.t === 'b' ? (e.v ? '1' : '0') : `${Math.trunc(e.v)}LL`;
    case 'var':
      return e.name;
    case 'un':
      if (e.fn === 'neg') return `(-${hostExpr(e.a)})`;
      if (e.fn === 'int' || e.fn === 'float') return hostExpr(e.a);
      if (e.fn === 'not') return `(!${hostExpr(e.a)})`;
      break;
    case 'bin': {
      const a = hostExpr(e.a);
      const b = hostExpr(e.b);
      const op = ({ add: '+', sub: '-', mul: '*', idiv: '/', div: '/', mod: '%', lt: '<', le: '<=', gt: '>', ge: '>=', eq: '==', ne: '!=', and: '&&', or: '||' } as Record<string, string>)[e.fn];
      if (op) return `(${a} ${op} ${b})`;
      if (e.fn === 'min') return `attnc_min_ll(${a}, ${b})`;
      if (e.fn === 'max') return `attnc_max_ll(${a}, ${b})`;
      break;
    }
    case 'sel':
      return `(${hostExpr(e.c)} ? ${hostExpr(e.a)} : ${hostExpr(e.b)})`;
    default:
      break;
  }
  throw new Error(`internal: a ${e.k} expression in a size or grid expression`);
}

/** A shape plan and its program, compiled beside the default one and taken where its bound holds. */
export interface CudaAlternate {
  shape: ShapePlan;
  program: Program;
}

export interface CudaOptions {
  profile: TargetProfile;
  /** Shape plans' programs (compiler/passes/shape-plans.ts), in the order the launchers try them. */
  alternates?: CudaAlternate[];
  dtype: Dtype;
  /** Spec source file name and text, for comments. */
  source?: string;
}

export interface CudaManifest {
  format: 1;
  generator: string;
  spec: string;
  target: string;
  sm: number;
  /** The nvcc architecture the file builds for: sm_90a where a kernel uses warpgroup MMA, else sm_<sm>. */
  arch: string;
  form: string;
  family: 'recurrent' | 'softmax';
  dtype: string;
  keyDim: number;
  valueDim: number;
  normalizer: string;
  inputs: { name: string; field: string; type: 'real' | 'int'; shape: number[] }[];
  params: { name: string; field: string; perHead: boolean; shape: number[] }[];
  uniforms: string[];
  buffers: { name: string; role: string; dtype: string; elems: SExpr; source: string }[];
  kernels: {
    name: string;
    symbol: string;
    threads: number;
    launchBounds: [number, number];
    grid: [SExpr, SExpr, SExpr];
    sharedBytes: number;
    dynamicSharedBytes: number;
    unusedSharedBytes: number;
    registerWords: number;
    args: { buffer: string; ctype: string; readOnly: boolean }[];
  }[];
  /**
   * Plans compiled beside the default one for some run shapes (the profile's shapePlans): the
   * launchers take the first whose bound the run's N·H fits; `kernels` and `buffers` above are the
   * default plan's.
   */
  shapePlans?: { tag: string; maxChains: number; condition: string; why: string; buffers: CudaManifest['buffers']; kernels: CudaManifest['kernels'] }[];
  abi: {
    header: string;
    forward: string;
    workspaceBytes: string;
    statusString: string;
    lastError: string;
    args: { name: string; ctype: string; shape?: string; dtype?: string; doc: string }[];
    status: { name: string; value: number; text: string }[];
  };
  notes: string[];
}

export interface CudaProgram {
  name: string;
  cu: string;
  header: string;
  manifest: CudaManifest;
  kernels: CudaKernel[];
  fields: AbiField[];
}

const hb = Handlebars.create();
// A shape plan's blocks in the launchers (inside its `if`) indented one step.
hb.registerHelper('indent', function (this: unknown, options: Handlebars.HelperOptions) {
  return options.fn(this).replace(/^(?=.)/gm, '  ');
});

// A plan's element counts, pointer checks, workspace layout and launches (each plan of a program with shape plans has its own).
hb.registerPartial(
  'counts',
  `  // Element counts: the kernels index with 32-bit integers.
{{#each buffers}}  const long long e_{{name}} = {{elems}};
{{/each}}`,
);
hb.registerPartial(
  'pointers',
  `  if (check_pointers) {
{{#each required}}    if ({{cond}}) return {{@root.name}}_fail(ATTNC_ERR_MISSING_TENSOR, "{{message}}");
{{/each}}  }
`,
);
hb.registerPartial(
  'workspace',
  `  // Workspace: {{#each workspace}}{{name}} {{/each}}(256-byte aligned slices).
  size_t off = 0;
{{#each workspace}}  p->ws_off[{{@index}}] = off;
  off += attnc_align256((size_t)({{count}}) * {{bytes}});
{{/each}}  p->ws_bytes = off;
{{#each unused}}  (void){{this}};
{{/each}}`,
);
hb.registerPartial(
  'launches',
  `{{#if tokinfo}}  int* tokinfo = (int*)(ws + p->ws_off[{{tokinfoSlot}}]);
  if (p->N > 0) {
    {{@root.name}}__tokinfo<<<(unsigned)p->N, 256, 0, stream>>>(cu, (int)p->T, tokinfo);
    if ((e = {{@root.name}}_check_launch("{{@root.name}}__tokinfo")) != cudaSuccess) return e;
  }
{{/if}}{{#each launches}}  // {{kernel}}
  if (p->grid[{{@index}}][0] > 0 && p->grid[{{@index}}][1] > 0 && p->grid[{{@index}}][2] > 0) {
{{#if dynamic}}    e = cudaFuncSetAttribute({{symbol}}, cudaFuncAttributeMaxDynamicSharedMemorySize, {{dynamic}});
    if (e != cudaSuccess) {
      {{@root.name}}_fail(ATTNC_ERR_CUDA, "{{symbol}} needs %d bytes of shared memory per block, more than this device allows (%s: %s)", {{dynamic}}, cudaGetErrorName(e), cudaGetErrorString(e));
      return e;
    }
{{/if}}    const dim3 grid((unsigned)p->grid[{{@index}}][0], (unsigned)p->grid[{{@index}}][1], (unsigned)p->grid[{{@index}}][2]);
    {{symbol}}<<<grid, {{threads}}, {{dynamic}}, stream>>>(
        p->prm{{#each args}},
        {{this}}{{/each}});
    if ((e = {{@root.name}}_check_launch("{{symbol}}")) != cudaSuccess) return e;
  }
{{/each}}`,
);

const HEADER = hb.compile(
  `/*
 * {{file}}.h — the C ABI of the CUDA kernels attnc {{version}} generated for the spec '{{spec}}'
 * ({{target}}, {{dtypeName}} inputs and outputs; float32 states and arithmetic).{{#if source}}
 * Spec file: {{source}}.{{/if}} Definitions: {{file}}.cu. Do not edit: regenerate with
 *   attnc compile {{#if source}}{{source}}{{else}}SPEC{{/if}} --target cuda --cuda-profile {{target}} --dtype {{dtype}}
 *
 * Layout (FLA's): per-token inputs [B, T, heads, …] and the output [B, T, H, {{valueDim}}], contiguous,
 * row-major, on the device. A packed batch of variable-length sequences has B = 1 and
 * cu_seqlens = [0, …, T] (int32, on the device).{{#if recurrent}} States are float32 [N, H, {{keyDim}}, {{valueDim}}]
 * with N = B, or num_seqs with cu_seqlens.{{/if}}
 *
 * Usage:
 *   {{name}}_args a = {0};                       the shape and device pointers (NULL for absent options)
 *   size_t n; {{name}}_workspace_bytes(&a, &n);  then a.workspace = n device bytes, a.workspace_bytes = n
 *   int st = {{name}}_forward(&a, stream);       enqueued on the stream: ATTNC_OK or an error code
 *   if (st) fprintf(stderr, "%s: %s\\n", {{name}}_status_string(st), {{name}}_last_error());
 * forward() checks the shapes and head counts it is given (not the contents of cu_seqlens, which
 * stay on the device: they must be non-decreasing, start at 0 and end at T). It is thread-safe;
 * last_error() is per thread.{{#if multi}}
 * Runs of few chains (sequences × heads: {{shapeConditions}}) take other kernels (shape plans), whose
 * workspace may be larger than a larger batch's: ask workspace_bytes() for each shape; given a
 * workspace too small for the shape plan, forward() takes the default plan if that fits.{{/if}}
 */
#ifndef ATTNC_{{upper}}_H
#define ATTNC_{{upper}}_H

#include <stddef.h>
#include <stdint.h>
#include <cuda_runtime_api.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef ATTNC_STATUS_CODES
#define ATTNC_STATUS_CODES
/* Status codes shared by every attnc-generated library. */
{{#each status}}#define {{name}} {{value}}{{pad}}/* {{text}} */
{{/each}}#endif

#ifndef ATTNC_API
#  if defined(__GNUC__)
#    define ATTNC_API __attribute__((visibility("default")))
#  else
#    define ATTNC_API
#  endif
#endif

#define {{upperName}}_KEY_DIM {{keyDim}}
#define {{upperName}}_VALUE_DIM {{valueDim}}

typedef struct {{name}}_args {
{{#each fields}}  {{decl}}{{pad}}/* {{doc}} */
{{/each}}{{rb}} {{name}}_args;

/* Bytes of device workspace forward() needs for this shape (pointers need not be set yet). */
ATTNC_API int {{name}}_workspace_bytes(const {{name}}_args* a, size_t* bytes);

/* Enqueue the kernels on the stream. Returns ATTNC_OK, or an error code (nothing enqueued unless ATTNC_ERR_CUDA). */
ATTNC_API int {{name}}_forward(const {{name}}_args* a, cudaStream_t stream);

/* A short name of a status code. */
ATTNC_API const char* {{name}}_status_string(int status);

/* What the last failing call on this thread found, in a sentence ("" after success). */
ATTNC_API const char* {{name}}_last_error(void);

#ifdef __cplusplus
}
#endif

#endif /* ATTNC_{{upper}}_H */
`,
  { noEscape: true, strict: true },
);

const CU = hb.compile(
  `// {{file}}.cu — CUDA kernels and host launchers attnc {{version}} generated for the spec '{{spec}}'
// ({{target}}, {{dtypeName}} inputs and outputs, float32 states and arithmetic; {{form}} form).
// The C ABI is in {{file}}.h; {{file}}.manifest.json describes the kernels. Do not edit.
//
{{#each notes}}// {{this}}
{{/each}}
#include <cuda_runtime.h>
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include "{{file}}.h"

// ── device helpers ─────────────────────────────────────────────────────────────
{{helpers}}

// The uniform params every kernel receives (the host contract).
typedef struct {{name}}_params {
{{#each uniforms}}  int {{this}};
{{/each}}{{rb}} {{name}}_params;

// ── kernels ────────────────────────────────────────────────────────────────────
{{#each kernels}}
{{this}}{{/each}}
{{#if tokinfo}}
// Per-token [position in its sequence, sequence length], one block per sequence.
extern "C" __global__ void __launch_bounds__(256) {{name}}__tokinfo(const int* __restrict__ cu, const int T, int* __restrict__ tokinfo) {
  const int start = attnc_seq_start(cu, blockIdx.x, T);
  const int len = attnc_seq_start(cu, blockIdx.x + 1, T) - start;
  for (int t = threadIdx.x; t < len; t += blockDim.x) {
    tokinfo[2 * (start + t)] = t;
    tokinfo[2 * (start + t) + 1] = len;
  }
}
{{/if}}
// ── host side ──────────────────────────────────────────────────────────────────
static thread_local char {{name}}_msg[512];

static int {{name}}_fail(int status, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf({{name}}_msg, sizeof {{name}}_msg, fmt, ap);
  va_end(ap);
  return status;
}

{{#if minll}}static long long attnc_min_ll(long long a, long long b) { return a < b ? a : b; }
{{/if}}{{#if maxll}}static long long attnc_max_ll(long long a, long long b) { return a > b ? a : b; }
{{/if}}{{#if align256}}static size_t attnc_align256(size_t n) { return (n + 255) / 256 * 256; }
{{/if}}

typedef struct {{name}}_plan {
  {{name}}_params prm;
  long long N, T;{{#if multi}}
  int variant;  // 0: the default plan; else the shape plan taken for this run (make_plan){{/if}}
  long long grid[{{kernelCount}}][3];
  size_t ws_off[{{wsCount}}];
  size_t ws_bytes;
} {{name}}_plan;

// Shapes → uniform params, buffer sizes, grids and the workspace layout; checks every limit.
// shape_plans = 0 takes the default plan at every shape.
static int {{name}}_make_plan(const {{name}}_args* a, {{name}}_plan* p, int check_pointers, int shape_plans) {
  {{name}}_msg[0] = 0;
  if (!a) return {{name}}_fail(ATTNC_ERR_INVALID_ARGS, "the args pointer is NULL");
  const long long B = a->B, T = a->T, H = a->H;
  if (B < 0 || T < 0 || H < 1) return {{name}}_fail(ATTNC_ERR_BAD_SHAPE, "B = %lld, T = %lld, H = %lld: B and T must be >= 0 and H >= 1", B, T, H);
  long long N = B, MAXLEN = T;
  if (a->cu_seqlens) {
    if (B != 1) return {{name}}_fail(ATTNC_ERR_BAD_SEQLENS, "a packed batch (cu_seqlens) has B = 1; found B = %lld: flatten the sequences into the time axis", B);
    if (a->num_seqs < 0) return {{name}}_fail(ATTNC_ERR_BAD_SEQLENS, "num_seqs = %d must be >= 0", a->num_seqs);
    N = a->num_seqs;
    MAXLEN = a->max_seqlen > 0 ? a->max_seqlen : T;
    if (MAXLEN > T) return {{name}}_fail(ATTNC_ERR_BAD_SEQLENS, "max_seqlen = %lld exceeds T = %lld", MAXLEN, T);
  }
{{#each heads}}  const long long {{param}} = a->{{field}} > 0 ? a->{{field}} : H;
  if ({{param}} > H || H % {{param}} != 0) return {{../name}}_fail(ATTNC_ERR_BAD_HEADS, "{{input}} has %lld heads, which must divide H = %lld (GQA/GVA)", {{param}}, H);
{{/each}}  const long long NT = B * T;
  const long long HAS_INIT = {{hasInit}};
  const long long STORE_FINAL = {{storeFinal}};
  if (NT > INT_MAX || N > 65535) return {{name}}_fail(ATTNC_ERR_TOO_LARGE, "B·T = %lld tokens and %lld sequences: at most %d tokens and 65535 sequences per call", NT, N, INT_MAX);
{{#each uniforms}}  p->prm.{{this}} = (int){{this}};
{{/each}}  p->N = N;
  p->T = T;
{{#each alternates}}  // {{title}}, where the kernels' 32-bit indices and CUDA's grid limits hold its sizes.
  if (shape_plans && N * H <= {{maxChains}}) {
{{#indent}}{{> counts}}  // Grids (blocks along x, y, z) of the kernels, in launch order.
{{#each grids}}  p->grid[{{@index}}][0] = {{x}};
  p->grid[{{@index}}][1] = {{y}};
  p->grid[{{@index}}][2] = {{z}};
{{/each}}  if ({{#each buffers}}e_{{name}} <= INT_MAX && {{/each}}{{#each grids}}p->grid[{{@index}}][0] <= INT_MAX && p->grid[{{@index}}][1] <= 65535 && p->grid[{{@index}}][2] <= 65535{{#unless @last}} && {{/unless}}{{/each}}) {
    p->variant = {{id}};
{{#indent}}{{> pointers}}{{> workspace}}{{/indent}}    return ATTNC_OK;
  }
{{/indent}}  }
{{/each}}{{#if multi}}  // The default plan.
  p->variant = 0;
{{/if}}{{#with default}}  // Element counts: the kernels index with 32-bit integers.
{{#each buffers}}  const long long e_{{name}} = {{elems}};
  if (e_{{name}} > INT_MAX) return {{../../name}}_fail(ATTNC_ERR_TOO_LARGE, "{{name}} would hold %lld elements; the kernels index with 32-bit integers (at most %d): split the batch", e_{{name}}, INT_MAX);
{{/each}}{{> pointers}}  // Grids (blocks along x, y, z) of the kernels, in launch order.
{{#each grids}}  p->grid[{{@index}}][0] = {{x}};
  p->grid[{{@index}}][1] = {{y}};
  p->grid[{{@index}}][2] = {{z}};
  if (p->grid[{{@index}}][0] > INT_MAX || p->grid[{{@index}}][1] > 65535 || p->grid[{{@index}}][2] > 65535) return {{../../name}}_fail(ATTNC_ERR_TOO_LARGE, "kernel {{kernel}} needs %lld x %lld x %lld blocks; CUDA allows 2^31-1 x 65535 x 65535", p->grid[{{@index}}][0], p->grid[{{@index}}][1], p->grid[{{@index}}][2]);
{{/each}}{{> workspace}}{{/with}}{{#each unused}}  (void){{this}};
{{/each}}{{#unless multi}}  (void)shape_plans;
{{/unless}}  return ATTNC_OK;
}

static cudaError_t {{name}}_check_launch(const char* kernel) {
  const cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) {{name}}_fail(ATTNC_ERR_CUDA, "launching %s: %s (%s)", kernel, cudaGetErrorName(e), cudaGetErrorString(e));
  return e;
}

static cudaError_t {{name}}_launch(const {{name}}_args* a, const {{name}}_plan* p, char* ws, cudaStream_t stream) {
  cudaError_t e = cudaSuccess;
  // NULL without cu_seqlens: the kernels take sequence n's first token as n·T (attnc_seq_start).
  const int* cu = (const int*)a->cu_seqlens;
{{#each alternates}}  if (p->variant == {{id}}) {  // {{title}}
{{#indent}}{{> launches}}{{/indent}}    return cudaSuccess;
  }
{{/each}}{{#with default}}{{> launches}}{{/with}}  (void)ws;
  return cudaSuccess;
}

extern "C" ATTNC_API int {{name}}_workspace_bytes(const {{name}}_args* a, size_t* bytes) {
  {{name}}_plan p;
  const int st = {{name}}_make_plan(a, &p, 0, 1);
  if (st != ATTNC_OK) return st;
  if (bytes) *bytes = p.ws_bytes;
  return ATTNC_OK;
}

extern "C" ATTNC_API int {{name}}_forward(const {{name}}_args* a, cudaStream_t stream) {
  {{name}}_plan p;
  int st = {{name}}_make_plan(a, &p, 1, 1);
{{#if multi}}  // A workspace the caller sized for the default plan (a larger batch, say) takes the default plan.
  if (st == ATTNC_OK && p.variant != 0 && a->workspace && a->workspace_bytes < p.ws_bytes) st = {{name}}_make_plan(a, &p, 1, 0);
{{/if}}  if (st != ATTNC_OK) return st;
  char* ws = (char*)a->workspace;
  void* owned = NULL;
  if (p.ws_bytes > 0) {
    if (!ws) {
      const cudaError_t e = cudaMallocAsync(&owned, p.ws_bytes, stream);
      if (e != cudaSuccess) return {{name}}_fail(ATTNC_ERR_CUDA, "allocating %zu workspace bytes: %s (%s)", p.ws_bytes, cudaGetErrorName(e), cudaGetErrorString(e));
      ws = (char*)owned;
    } else if (a->workspace_bytes < p.ws_bytes) {
      return {{name}}_fail(ATTNC_ERR_WORKSPACE, "the workspace has %zu bytes; this shape needs %zu ({{name}}_workspace_bytes)", a->workspace_bytes, p.ws_bytes);
    } else if ((uintptr_t)ws % 16 != 0) {
      return {{name}}_fail(ATTNC_ERR_WORKSPACE, "the workspace must be 16-byte aligned");
    }
  }
  const cudaError_t e = {{name}}_launch(a, &p, ws, stream);
  if (owned) cudaFreeAsync(owned, stream);
  return e == cudaSuccess ? ATTNC_OK : ATTNC_ERR_CUDA;
}

extern "C" ATTNC_API const char* {{name}}_status_string(int status) {
  switch (status) {
{{#each status}}    case {{name}}: return "{{text}}";
{{/each}}    default: return "unknown status";
  }
}

extern "C" ATTNC_API const char* {{name}}_last_error(void) { return {{name}}_msg; }
`,
  { noEscape: true, strict: true },
);

const pad = (s: string, w: number) => ' '.repeat(Math.max(1, w - s.length));

/** Where a kernel buffer comes from on the host: an args field, the workspace, or cu. */
function bufferSource(b: BufferDecl, fields: AbiField[]): { kind: 'field'; field: AbiField } | { kind: 'cu' } | { kind: 'workspace' } {
  if (b.name === 'cu') return { kind: 'cu' };
  const f = fields.find((x) => x.buffer === b.name);
  if (f) return { kind: 'field', field: f };
  if (b.role === 'scratch' || b.role === 'meta') return { kind: 'workspace' };
  throw new Error(`internal: no host source for the ${b.role} buffer ${b.name}`);
}

function bytesOf(d: Dtype): number {
  return d === 'f16' || d === 'bf16' ? 2 : 4;
}

function manifestBuffers(program: Program, fields: AbiField[]): CudaManifest['buffers'] {
  return program.buffers.map((b) => {
    const src = bufferSource(b, fields);
    return { name: b.name, role: b.role, dtype: dtypeName(b.dtype), elems: b.elems, source: src.kind === 'field' ? `args.${src.field.name}` : src.kind === 'cu' ? 'args.cu_seqlens, else n·T (no buffer)' : 'workspace' };
  });
}

function manifestKernels(kernels: CudaKernel[], program: Program): CudaManifest['kernels'] {
  return kernels.map((k, i) => ({
    name: k.name,
    symbol: k.symbol,
    threads: k.threads,
    launchBounds: [k.threads, k.minBlocks] as [number, number],
    grid: program.kernels[i]!.grid,
    sharedBytes: k.sharedBytes,
    dynamicSharedBytes: k.dynamicSharedBytes,
    unusedSharedBytes: k.unusedSharedBytes,
    registerWords: k.registerWords,
    args: k.buffers.map((b) => ({ buffer: b.name, ctype: `${b.readOnly ? 'const ' : ''}${b.ctype}*`, readOnly: b.readOnly })),
  }));
}

/** One plan's share of the launchers: its kernels, buffers, grids, workspace and launches. */
function variantParts(program: Program, fields: AbiField[], kernels: CudaKernel[]) {
  // The workspace: tokinfo and scratch (the sequence offsets are the caller's cu_seqlens, or n·T).
  const wsBuffers = program.buffers.filter((b) => bufferSource(b, fields).kind === 'workspace');
  const workspace = wsBuffers.map((b) => ({ name: b.name, count: `e_${b.name}`, bytes: bytesOf(b.dtype) }));
  const slot = (buf: string) => workspace.findIndex((w) => w.name === buf);
  const tokinfo = program.buffers.some((b) => b.name === 'tokinfo');
  const fieldOf = (buf: string) => fields.find((f) => f.buffer === buf);
  // Pointers a run must have (those whose buffer is non-empty, and states only when asked for).
  const required: { cond: string; message: string }[] = [];
  for (const b of program.buffers) {
    const f = fieldOf(b.name);
    if (!f) continue;
    let when = `e_${b.name} > 0`;
    if (b.role === 'state-in') {
      if (b.name === 'initial_state') continue;
      when = `HAS_INIT && ${when}`;
    }
    if (b.role === 'state-out') {
      if (b.name === 'final_state') continue;
      when = `STORE_FINAL && ${when}`;
    }
    const what = b.role === 'state-in' ? ' (it comes with initial_state)' : b.role === 'state-out' ? ' (it comes with final_state)' : '';
    required.push({ cond: `!a->${f.name} && ${when}`, message: `${f.name} ${f.shape} is NULL${what}` });
  }
  const launches = kernels.map((k) => ({
    kernel: k.name,
    symbol: k.symbol,
    threads: k.threads,
    dynamic: k.dynamicSharedBytes,
    args: k.buffers.map((b) => {
      const decl = program.buffers.find((x) => x.name === b.name) ?? program.kernels.flatMap((x) => x.buffers).find((x) => x.name === b.name)!;
      const src = bufferSource(decl, fields);
      const ptr = `(${b.readOnly ? 'const ' : ''}${b.ctype}*)`;
      if (src.kind === 'cu') return b.readOnly ? 'cu' : `${ptr}cu`;
      if (src.kind === 'field') return `${ptr}a->${src.field.name}`;
      if (b.name === 'tokinfo') return b.readOnly ? `(const int*)tokinfo` : 'tokinfo';
      return `${ptr}(ws + p->ws_off[${slot(b.name)}])`;
    }),
  }));
  const grids = program.kernels.map((k) => ({ kernel: k.name, x: hostExpr(k.grid[0]), y: hostExpr(k.grid[1]), z: hostExpr(k.grid[2]) }));
  const buffers = program.buffers.map((b) => ({ name: b.name, elems: hostExpr(b.elems) }));
  // Names the plan's size, grid, pointer and workspace expressions use.
  const used = new Set<string>();
  const scan = (x: string) => {
    for (const m of x.matchAll(/[A-Za-z_]\w*/g)) used.add(m[0]);
  };
  for (const b of buffers) scan(b.elems);
  for (const g of grids) scan(`${g.x} ${g.y} ${g.z}`);
  for (const r of required) scan(r.cond);
  for (const w of workspace) scan(w.count);
  const unused = program.buffers.map((b) => `e_${b.name}`).filter((l) => !used.has(l));
  const hostText = [...buffers.map((b) => b.elems), ...grids.flatMap((g) => [g.x, g.y, g.z])].join(' ');
  return { workspace, tokinfo, tokinfoSlot: slot('tokinfo'), required, launches, grids, buffers, used, unused, hostText };
}

export function cudaProgram(ir: AttentionIR, program: Program, o: CudaOptions): CudaProgram {
  const name = `attnc_${ir.name}`;
  const prof = o.profile;
  if (prof.backend !== 'cuda' || !prof.sm) throw new Error(`internal: ${prof.name} is not a CUDA profile`);
  const fields = abiFields(ir, o.dtype);
  const recurrent = ir.family === 'recurrent';
  const emit = (p: Program, prefix?: string) =>
    p.kernels.map((k) => emitCudaKernel(k, { paramsType: `${name}_params`, sharedLimit: prof.limits.sharedBytes, unit: prof.limits.unit, ...(prefix ? { symbolPrefix: prefix } : {}) }));
  // The default plan is variant 0; shape plans follow, 1, 2, …, in the order the launchers try them.
  const base = { program, kernels: emit(program) };
  const alternates = (o.alternates ?? []).map((a, i) => ({ ...a, id: i + 1, kernels: emit(a.program, `attnc_${a.shape.tag}__`) }));
  const plans = [base, ...alternates];
  const variants = plans.map((v) => variantParts(v.program, fields, v.kernels));
  const kernels = plans.flatMap((v) => v.kernels);
  const uniforms = [...new Set(plans.flatMap((v) => v.program.params.map((p) => p.name)))];
  const realInputs = ir.inputs.filter((i) => i.type === 'real');
  const locals = ['B', 'T', 'H', 'N', 'NT', 'MAXLEN', 'HAS_INIT', 'STORE_FINAL', ...realInputs.map((i) => `H_${i.name}`)];
  const usedAnywhere = new Set([...variants.flatMap((v) => [...v.used]), ...(alternates.length ? ['N', 'H'] : [])]);
  const unused = locals.filter((l) => !usedAnywhere.has(l));
  const dtypeN = dtypeName(o.dtype);
  const kernelNotes = (ks: CudaKernel[]) => ks.filter((k) => k.unusedSharedBytes > 0).map((k) => `${k.name}: ${k.unusedSharedBytes} bytes of tiles the kernel IR declares are never touched (not allocated here)`);
  const notes = [
    `target ${prof.name} (sm_${prof.sm}): ${prof.description}`,
    ...program.notes,
    ...kernelNotes(base.kernels),
    ...alternates.flatMap((a) => [
      `shape plan ${a.shape.tag}, taken where ${shapeCondition(a.shape)} (${a.shape.why}): kernels ${a.kernels.map((k) => k.symbol).join(', ')}`,
      ...[...a.program.notes, ...kernelNotes(a.kernels)].map((n) => `${a.shape.tag}: ${n}`),
    ]),
  ];
  const hostText = variants.map((v) => v.hostText).join(' ');
  // Warpgroup MMA (wgmma.ts) needs the architecture-specific target and its helpers.
  const wgmma = [...new Set(kernels.flatMap((k) => k.wgmmaHelpers))];
  const arch = wgmma.length ? `sm_${prof.sm}a` : `sm_${prof.sm}`;
  const helpers = wgmma.length ? [WGMMA_ARCH_CHECK, DEVICE_HELPERS, WGMMA_HELPERS, ...wgmma].join('\n') : DEVICE_HELPERS;
  const cu = CU({
    minll: hostText.includes('attnc_min_ll'),
    maxll: hostText.includes('attnc_max_ll'),
    name,
    rb: '}',
    file: ir.name,
    version: VERSION,
    spec: ir.name,
    target: prof.name,
    dtypeName: dtypeN,
    form: program.form,
    notes,
    helpers,
    uniforms,
    kernels: kernels.map((k) => k.code),
    tokinfo: variants.some((v) => v.tokinfo),
    kernelCount: Math.max(1, ...variants.map((v) => v.launches.length)),
    wsCount: Math.max(1, ...variants.map((v) => v.workspace.length)),
    heads: realInputs.map((i) => ({ input: i.name, param: `H_${i.name}`, field: `heads_${i.name}` })),
    hasInit: recurrent ? '(a->initial_state != NULL) ? 1 : 0' : '0',
    storeFinal: recurrent ? '(a->final_state != NULL) ? 1 : 0' : '0',
    multi: alternates.length > 0,
    default: variants[0],
    alternates: alternates.map((a, i) => ({ id: a.id, title: `shape plan ${a.shape.tag} (${shapeCondition(a.shape)})`, maxChains: a.shape.maxChains, ...variants[i + 1]! })),
    align256: variants.some((v) => v.workspace.length > 0),
    unused,
    status: STATUS,
  });
  const fieldDecl = (f: AbiField) => {
    return `${f.ctype} ${f.name};`;
  };
  const width = Math.max(...fields.map((f) => fieldDecl(f).length)) + 2;
  const header = HEADER({
    multi: alternates.length > 0,
    shapeConditions: alternates.map((a) => `${a.shape.tag}: ${shapeCondition(a.shape)}`).join('; '),
    name,
    rb: '}',
    file: ir.name,
    version: VERSION,
    spec: ir.name,
    target: prof.name,
    dtype: o.dtype,
    dtypeName: dtypeN,
    source: o.source ?? '',
    recurrent,
    keyDim: ir.keyDim,
    valueDim: ir.valueDim,
    upper: ir.name.toUpperCase(),
    upperName: name.toUpperCase(),
    status: STATUS.map((s) => ({ ...s, pad: pad(`${s.name} ${s.value}`, 34) })),
    fields: fields.map((f) => {
      const decl = fieldDecl(f);
      const what = f.shape ? `${f.shape} ${f.dtype}: ${f.doc}` : f.doc;
      return { decl, pad: pad(decl, width), doc: what.replace(/\*\//g, '* /') };
    }),
  });
  const manifest: CudaManifest = {
    format: 1,
    generator: `attnc ${VERSION}`,
    spec: ir.name,
    target: prof.name,
    sm: prof.sm,
    arch,
    form: program.form,
    family: ir.family,
    dtype: dtypeN,
    keyDim: ir.keyDim,
    valueDim: ir.valueDim,
    normalizer: ir.normalizer,
    inputs: ir.inputs.map((i) => ({ name: i.name, field: fieldName(i.name), type: i.type, shape: [...i.shape] })),
    params: ir.params.map((p) => ({ name: p.name, field: fieldName(p.name), perHead: p.perHead, shape: [...p.shape] })),
    uniforms,
    buffers: manifestBuffers(program, fields),
    kernels: manifestKernels(base.kernels, program),
    ...(alternates.length
      ? {
          shapePlans: alternates.map((a) => ({
            tag: a.shape.tag,
            maxChains: a.shape.maxChains,
            condition: shapeCondition(a.shape),
            why: a.shape.why,
            buffers: manifestBuffers(a.program, fields),
            kernels: manifestKernels(a.kernels, a.program),
          })),
        }
      : {}),
    abi: {
      header: `${ir.name}.h`,
      forward: `${name}_forward`,
      workspaceBytes: `${name}_workspace_bytes`,
      statusString: `${name}_status_string`,
      lastError: `${name}_last_error`,
      args: fields.map((f) => ({ name: f.name, ctype: f.ctype, ...(f.shape ? { shape: f.shape } : {}), ...(f.dtype ? { dtype: f.dtype } : {}), doc: f.doc })),
      status: STATUS,
    },
    notes,
  };
  return { name, cu, header, manifest, kernels, fields };
}
