/**
 * The programmatic API. It has no Node-only imports: the same module runs in Node and in a
 * browser (dist/attnc.browser.js). Every function returns diagnostics as values; none throws on
 * bad input.
 *
 *   check(source)            parse and check: specs and diagnostics
 *   format(text)             canonical layout (comments kept)
 *   lower(source)            attention IRs (what the interpreter and the planner read)
 *   compile(source, opts)    WGSL kernels, manifest, TypeScript bindings, CUDA sources
 *   interpret(source, req)   the float64 reference interpreter on given or random inputs
 *
 * `source` is spec text, or the JSON form (an object or an array of objects; see specSchema).
 */
import type { CheckOptions } from './check/checker.ts';
import { parseAndCheck, parseAndCheckFile, type FrontendResult } from './frontend.ts';
import { diag, hasErrors, sortDiagnostics, type Diagnostic } from './diagnostics/diagnostic.ts';
import { NO_SPAN, SourceFile } from './diagnostics/source.ts';
import { renderDiagnostics, diagnosticToJson, plainStyle, type Style } from './diagnostics/render.ts';
import { format as formatAst } from '../dsl/format.ts';
import { parse } from '../dsl/parse.ts';
import { parseJsonSpec, specToJson, jsonToSource, specSchema, type SpecJson } from '../dsl/json.ts';
import { compileIR, planNotes, type Artifact, type TargetKind } from './compile.ts';
import type { AttentionIR, Form } from './ir/attention-ir.ts';
import { lowerSource } from './pipeline.ts';
import { interpret as interpretIR, defaultForm, type InterpretOptions } from './interp/interpret.ts';
import { expectedShapes, type RunInputs, type StateTensors } from './interp/inputs.ts';
import { randomInputs, type RandomOptions } from './interp/random.ts';
import { compareTensors, tensor, type Tensor } from './interp/tensor.ts';
import type { Dtype } from './kernel-ir/types.ts';
import type { KernelForm, TileRequest } from './passes/plan.ts';
import { PROFILES, type TargetProfile } from './targets/profiles.ts';
import type { WebGpuManifest } from '../backends/wgsl/manifest.ts';
import { AttentionKernels, AttncError, type RunResult } from '../backends/wgsl/runtime.ts';
import type { RunDims } from './kernel-ir/host-contract.ts';
import { typeName } from '../backends/ts/bindings.ts';
import { VERSION } from './version.ts';

export type { Diagnostic, FrontendResult, SpecJson, CheckOptions, Style };
export type { AttentionIR, Artifact, TargetKind, TargetProfile, WebGpuManifest, RunInputs, RandomOptions, StateTensors, Tensor, InterpretOptions, RunDims, RunResult, Dtype, KernelForm, Form, TileRequest };
export { VERSION, renderDiagnostics, diagnosticToJson, specSchema, specToJson, jsonToSource, hasErrors, plainStyle };
/** The float64 tensor helpers and random inputs the interpreter takes. */
export { tensor, compareTensors, randomInputs, expectedShapes };
/** The WebGPU runtime that generated bindings use: run a compiled manifest on your GPUDevice. */
export { AttentionKernels, AttncError, typeName };

/** Spec text, or the JSON form (one spec object or an array of them). */
export type SpecSource = string | SpecJson | SpecJson[];

/** The target profiles by name (webgpu-default, webgpu-large, webgpu-naga, cuda-sm80, cuda-sm90). */
export const profiles: readonly string[] = Object.keys(PROFILES);

function sourceText(source: SpecSource, name: string | undefined): { text: string; name: string } {
  if (typeof source === 'string') return { text: source, name: name ?? '<input>' };
  return { text: JSON.stringify(source), name: name ?? '<input>.json' };
}

/** Parse and check spec text (or a JSON spec object), with every diagnostic. */
export function check(source: SpecSource, opts: CheckOptions & { name?: string } = {}): FrontendResult {
  if (typeof source === 'string') return parseAndCheck(source, opts.name ?? '<input>', opts);
  return parseAndCheckFile(JSON.stringify(source), opts.name ?? '<input>.json', opts);
}

/** Format spec text; undefined text (with diagnostics) when it does not parse. */
export function format(text: string, name = '<input>'): { text: string | undefined; diagnostics: Diagnostic[] } {
  const src = new SourceFile(name, text);
  const p = parse(src);
  if (hasErrors(p.diagnostics)) return { text: undefined, diagnostics: p.diagnostics };
  return { text: formatAst(p.file, src), diagnostics: p.diagnostics };
}

/** Spec text → JSON form (one object per spec). */
export function toJson(text: string, name = '<input>'): { json: SpecJson[]; diagnostics: Diagnostic[] } {
  const p = parse(text, name);
  return { json: hasErrors(p.diagnostics) ? [] : p.file.specs.map(specToJson), diagnostics: p.diagnostics };
}

export { parseJsonSpec };

export interface LowerOptions {
  /** The source's name in diagnostics (a name ending in `.json` reads text as the JSON form). */
  name?: string;
  /** Override declared dims, e.g. { K: 16, V: 16 }. */
  dims?: Record<string, number>;
}

export interface LowerResult {
  ok: boolean;
  irs: AttentionIR[];
  diagnostics: Diagnostic[];
}

/** Source → attention IRs (front end and lowering). */
export function lower(source: SpecSource, opts: LowerOptions = {}): LowerResult {
  const s = sourceText(source, opts.name);
  return lowerSource(s.text, s.name, opts.dims ? { dims: opts.dims } : {});
}

export interface CompileOptions extends LowerOptions {
  /** What to generate: 'wgsl' (kernels + manifest), 'ts' (bindings), 'cuda'. Default ['wgsl', 'ts']. */
  targets?: TargetKind[];
  /** Compile only this spec of a file with several (default: every spec). */
  spec?: string;
  /**
   * Target profile name or object; see `profiles`. A WebGPU profile (default 'webgpu-large') is for
   * the wgsl and ts targets; a CUDA profile is the same as `cudaProfile` (targets must include 'cuda').
   */
  profile?: string | TargetProfile;
  /** CUDA profile for the cuda target (default 'cuda-sm90'). */
  cudaProfile?: string | TargetProfile;
  /** Storage type of inputs and outputs (default f32 for WebGPU, bf16 for CUDA). */
  dtype?: Dtype;
  /** chunk / recurrent (decode) / parallel; default: the planner's choice. */
  form?: KernelForm;
  /** Chunk size (state-recurrent) or query tile (softmax). */
  chunk?: number;
  /**
   * Tiles instead of the planner's choice, e.g. { BV: 32, BK: 64 } (measured on a GPU, say): the
   * value tile and key slice of a state-recurrent spec, the key tile (BK only) of a softmax spec.
   * Powers of two from 8 up to the next power of two of V' or K' (256 for softmax key tiles); a
   * size the spec does not allow is ATTN4006, tiles that do not fit the profile ATTN4001.
   */
  tiles?: TileRequest;
}

export interface CompiledSpec {
  ir: AttentionIR;
  artifacts: Artifact[];
  manifest: WebGpuManifest | undefined;
  notes: string[];
}

export interface CompileResult {
  /** No error diagnostics, and every requested target produced its artefacts. */
  ok: boolean;
  /** Every diagnostic (errors, warnings), sorted; spans point into the source. */
  diagnostics: Diagnostic[];
  /** The first compiled spec's attention IR (or the one named by `spec`). */
  ir: AttentionIR | undefined;
  /** All artefacts: `NAME/KERNEL.wgsl`, `NAME/NAME.manifest.json`, `NAME/NAME.ts`, `NAME/cuda/…`. */
  artifacts: Artifact[];
  /** Per spec: its IR, artefacts, WebGPU manifest and planner notes. */
  specs: CompiledSpec[];
}

const TARGETS: readonly TargetKind[] = ['wgsl', 'ts', 'cuda'];
const DTYPES: readonly Dtype[] = ['f32', 'f16', 'bf16'];
const FORMS: readonly KernelForm[] = ['chunk', 'recurrent', 'parallel'];
const TILE_KEYS: readonly string[] = ['BV', 'BK'] satisfies (keyof TileRequest)[];

/** The backend of a profile given by name or object; undefined for an unknown name (the planner reports it). */
function profileBackend(p: string | TargetProfile | undefined): 'wgsl' | 'cuda' | undefined {
  if (p === undefined) return undefined;
  return typeof p === 'string' ? PROFILES[p]?.backend : p.backend;
}
const profileName = (p: string | TargetProfile) => (typeof p === 'string' ? p : p.name);

/** `profile` and `cudaProfile` sorted by backend: a CUDA `profile` is the CUDA profile. */
function profilesOf(o: CompileOptions): { webgpu?: string | TargetProfile; cuda?: string | TargetProfile } {
  if (profileBackend(o.profile) === 'cuda') return { cuda: o.profile! };
  return { ...(o.profile !== undefined ? { webgpu: o.profile } : {}), ...(o.cudaProfile !== undefined ? { cuda: o.cudaProfile } : {}) };
}

function optionErrors(o: CompileOptions): Diagnostic[] {
  const bad = (m: string) => diag('BadOption', NO_SPAN, [m]);
  const out: Diagnostic[] = [];
  const targets = o.targets ?? ['wgsl', 'ts'];
  for (const t of o.targets ?? []) if (!TARGETS.includes(t)) out.push(bad(`unknown target '${t}' (${TARGETS.join(', ')})`));
  const cudaProfiles = Object.values(PROFILES).filter((p) => p.backend === 'cuda').map((p) => p.name);
  // A profile is a known name or a TargetProfile object; anything else is reported here, whatever
  // the targets (a profile no requested target uses would otherwise be dropped silently).
  let malformed = false;
  for (const [key, p] of [['profile', o.profile], ['cudaProfile', o.cudaProfile]] as const) {
    if (p === undefined) continue;
    if (typeof p === 'string') {
      if (!PROFILES[p]) out.push(diag('UnknownTarget', NO_SPAN, [p, Object.keys(PROFILES).join(', ')]));
    } else if (typeof p !== 'object' || p === null || typeof p.name !== 'string' || (p.backend !== 'wgsl' && p.backend !== 'cuda') || typeof p.limits !== 'object' || p.limits === null || typeof p.features !== 'object' || p.features === null) {
      out.push(bad(`${key} takes a profile name (${Object.keys(PROFILES).join(', ')}) or a TargetProfile object (name, backend, limits, features, …)`));
      malformed = true;
    }
  }
  // The checks below read profile fields: not of a malformed object.
  if (malformed) return out;
  if (o.profile !== undefined && profileBackend(o.profile) === 'cuda') {
    const name = profileName(o.profile);
    if (!targets.includes('cuda')) out.push(bad(`profile '${name}' is a CUDA profile, but targets has no 'cuda' (targets: ${targets.join(', ')})`));
    if (o.cudaProfile !== undefined && profileName(o.cudaProfile) !== name) out.push(bad(`profile '${name}' and cudaProfile '${profileName(o.cudaProfile)}' name two CUDA profiles; give one`));
  } else if (o.profile !== undefined && profileBackend(o.profile) === 'wgsl' && !targets.some((t) => t === 'wgsl' || t === 'ts')) {
    out.push(bad(`profile '${profileName(o.profile)}' is a WebGPU profile, but targets has neither 'wgsl' nor 'ts' (targets: ${targets.join(', ')})`));
  }
  if (o.cudaProfile !== undefined && profileBackend(o.cudaProfile) === 'wgsl') out.push(bad(`cudaProfile '${profileName(o.cudaProfile)}' is a WebGPU profile (CUDA profiles: ${cudaProfiles.join(', ')})`));
  if (o.dtype !== undefined && !DTYPES.includes(o.dtype)) out.push(bad(`dtype is ${DTYPES.join(', ')}, found '${o.dtype}'`));
  if (o.form !== undefined && !FORMS.includes(o.form)) out.push(bad(`form is ${FORMS.join(', ')}, found '${o.form}'`));
  if (o.chunk !== undefined && !(Number.isInteger(o.chunk) && o.chunk > 0)) out.push(bad(`chunk takes a positive integer, found ${o.chunk}`));
  if (o.tiles !== undefined) {
    if (typeof o.tiles !== 'object' || o.tiles === null || Array.isArray(o.tiles)) out.push(bad(`tiles takes an object { BV?, BK? } of positive integers, found ${JSON.stringify(o.tiles)}`));
    else
      for (const [k, v] of Object.entries(o.tiles)) {
        if (!TILE_KEYS.includes(k)) out.push(bad(`tiles takes BV and BK, found '${k}'`));
        else if (v !== undefined && !(Number.isInteger(v) && v > 0)) out.push(bad(`tiles: ${k} takes a positive integer, found ${JSON.stringify(v)}`));
      }
  }
  for (const [k, v] of Object.entries(o.dims ?? {})) if (!(Number.isInteger(v) && v > 0)) out.push(bad(`dims: ${k} must be a positive integer, found ${v}`));
  return out;
}

/**
 * Compile spec source to artefacts. Diagnostics are values: a broken spec gives `ok: false`, no
 * artefacts and diagnostics with codes and spans.
 */
export function compile(source: SpecSource, options: CompileOptions = {}): CompileResult {
  const targets = options.targets ?? ['wgsl', 'ts'];
  const result: CompileResult = { ok: false, diagnostics: optionErrors(options), ir: undefined, artifacts: [], specs: [] };
  if (result.diagnostics.length) return result;
  const s = sourceText(source, options.name);
  const l = lowerSource(s.text, s.name, options.dims ? { dims: options.dims } : {});
  const diagnostics = [...l.diagnostics];
  if (!l.ok) return { ...result, diagnostics };
  let irs = l.irs;
  if (options.spec !== undefined) {
    irs = irs.filter((i) => i.name === options.spec);
    if (!irs.length) return { ...result, diagnostics: [...diagnostics, diag('BadOption', NO_SPAN, [`no spec named '${options.spec}' (the source has: ${l.irs.map((i) => i.name).join(', ')})`])] };
  }
  const profiles = profilesOf(options);
  for (const ir of irs) {
    const c = compileIR(ir, {
      targets,
      ...(profiles.webgpu ? { webgpuProfile: profiles.webgpu } : {}),
      ...(profiles.cuda ? { cudaProfile: profiles.cuda } : {}),
      ...(options.form ? { form: options.form } : {}),
      ...(options.dtype ? { dtype: options.dtype } : {}),
      ...(options.chunk ? { chunk: options.chunk } : {}),
      ...(options.tiles ? { tiles: { ...options.tiles } } : {}),
      specText: s.text,
      source: s.name,
    });
    diagnostics.push(...c.diagnostics);
    result.specs.push({ ir, artifacts: c.artifacts, manifest: c.manifest, notes: planNotes(c.plans) });
    result.artifacts.push(...c.artifacts);
  }
  result.diagnostics = sortDiagnostics(diagnostics);
  result.ir = result.specs[0]?.ir;
  result.ok = !hasErrors(result.diagnostics);
  return result;
}

export interface InterpretRequest extends InterpretOptions, LowerOptions {
  /** The spec to run when the source has several (default: the first). */
  spec?: string;
  /** Given inputs (float64 tensors [B, T, H_x, …]); otherwise random ones of `random`'s shape. */
  inputs?: RunInputs;
  /** Seeded random inputs: { B, T, H, seed?, heads?, cuSeqlens?, initialState? }. */
  random?: RandomOptions;
}

export interface InterpretApiResult {
  ok: boolean;
  diagnostics: Diagnostic[];
  ir: AttentionIR | undefined;
  /** The inputs that were run (the random ones when `random` was given). */
  inputs: RunInputs | undefined;
  /** [B, T, H, V'] in float64. */
  output: Tensor | undefined;
  finalState: StateTensors | undefined;
  form: Form | undefined;
}

/** Run the float64 reference interpreter on a spec (source or IR) with given or random inputs. */
export function interpret(source: SpecSource | AttentionIR, request: InterpretRequest = {}): InterpretApiResult {
  const none: InterpretApiResult = { ok: false, diagnostics: [], ir: undefined, inputs: undefined, output: undefined, finalState: undefined, form: undefined };
  let ir: AttentionIR | undefined;
  const diagnostics: Diagnostic[] = [];
  if (isIR(source)) ir = source;
  else {
    const l = lower(source, request);
    diagnostics.push(...l.diagnostics);
    if (!l.ok) return { ...none, diagnostics };
    ir = request.spec !== undefined ? l.irs.find((i) => i.name === request.spec) : l.irs[0];
    if (!ir) return { ...none, diagnostics: [...diagnostics, diag('BadOption', NO_SPAN, [`no spec named '${request.spec}' (the source has: ${l.irs.map((i) => i.name).join(', ')})`])] };
  }
  if (!request.inputs && !request.random) return { ...none, ir, diagnostics: [...diagnostics, diag('BadOption', NO_SPAN, ['interpret needs `inputs` or `random` (a shape { B, T, H } for seeded random inputs)'])] };
  if (request.random) {
    const r = request.random;
    const badShape = (['B', 'T', 'H'] as const).find((k) => !(Number.isInteger(r[k]) && r[k] > 0));
    if (badShape) return { ...none, ir, diagnostics: [...diagnostics, diag('BadShapeOption', NO_SPAN, [`random.${badShape} must be a positive integer, found ${r[badShape]}`])] };
  }
  if (request.chunkSize !== undefined && !(Number.isInteger(request.chunkSize) && request.chunkSize > 0)) return { ...none, ir, diagnostics: [...diagnostics, diag('BadOption', NO_SPAN, [`chunkSize takes a positive integer, found ${request.chunkSize}`])] };
  if (request.form !== undefined && !['recurrent', 'parallel', 'chunk'].includes(request.form)) return { ...none, ir, diagnostics: [...diagnostics, diag('BadOption', NO_SPAN, [`form is recurrent, parallel or chunk, found '${request.form}'`])] };
  const inputs = request.inputs ?? randomInputs(ir, request.random!);
  const form = request.form ?? defaultForm(ir);
  const opts: InterpretOptions = { form, ...(request.chunkSize ? { chunkSize: request.chunkSize } : {}), ...(request.tiles ? { tiles: request.tiles } : {}), ...(request.outputFinalState ? { outputFinalState: true } : {}) };
  const r = interpretIR(ir, inputs, opts);
  diagnostics.push(...r.diagnostics);
  return { ok: !hasErrors(diagnostics) && r.output !== undefined, diagnostics: sortDiagnostics(diagnostics), ir, inputs, output: r.output, finalState: r.finalState, form };
}

function isIR(x: SpecSource | AttentionIR): x is AttentionIR {
  return typeof x === 'object' && !Array.isArray(x) && 'family' in x && 'features' in x && 'keyDim' in x;
}

/** Diagnostics as text with code frames (no colour), e.g. for a <pre> element. */
export function renderText(ds: readonly Diagnostic[]): string {
  return renderDiagnostics(ds, plainStyle);
}
