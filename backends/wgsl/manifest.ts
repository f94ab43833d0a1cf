/**
 * The WebGPU manifest: everything the runtime needs to run a compiled spec, as plain JSON data —
 * kernels (WGSL, grid, bindings), buffers (roles, sizes, packing), inputs and parameters, and the
 * device features and limits it requires.
 */
import type { AttentionIR } from '../../compiler/ir/attention-ir.ts';
import type { SizeExpr } from '../../compiler/kernel-ir/host-contract.ts';
import type { BufferRole, Dtype, Program } from '../../compiler/kernel-ir/types.ts';
import { sharedBytes } from '../../compiler/passes/pipeline.ts';
import type { TargetProfile } from '../../compiler/targets/profiles.ts';
import { VERSION } from '../../compiler/version.ts';
import { emitWgsl } from './emit.ts';

export interface KernelManifest {
  name: string;
  code: string;
  threads: number;
  grid: [SizeExpr, SizeExpr, SizeExpr];
  bindings: { name: string; binding: number; access: 'read' | 'read_write' }[];
  paramsBinding: number;
  sharedBytes: number;
}

export interface BufferManifest {
  name: string;
  role: BufferRole;
  dtype: Dtype;
  elems: SizeExpr;
  packedInto?: { buffer: string; offset: SizeExpr };
}

export interface WebGpuManifest {
  format: 1;
  generator: string;
  spec: string;
  target: string;
  form: string;
  family: 'recurrent' | 'softmax';
  /** Storage type of inputs and outputs. */
  dtype: Dtype;
  keyDim: number;
  valueDim: number;
  normalizer: 'none' | 'sum' | 'maxabs';
  inputs: { name: string; type: 'real' | 'int'; shape: number[] }[];
  params: { name: string; perHead: boolean; shape: number[] }[];
  /** Uniform params, in struct order (GX_OFFSET follows). */
  uniforms: string[];
  buffers: BufferManifest[];
  kernels: KernelManifest[];
  requiredFeatures: string[];
  requiredLimits: Record<string, number>;
}

export function webgpuManifest(ir: AttentionIR, p: Program, target: TargetProfile, dtype: Dtype): WebGpuManifest {
  const wgsl = emitWgsl(p, target, VERSION);
  const kernels: KernelManifest[] = p.kernels.map((k, i) => ({
    name: k.name,
    code: wgsl[i]!.code,
    threads: k.threads,
    grid: k.grid as KernelManifest['grid'],
    bindings: wgsl[i]!.bindings.map(({ name, binding, access }) => ({ name, binding, access })),
    paramsBinding: wgsl[i]!.paramsBinding,
    sharedBytes: sharedBytes(k),
  }));
  const features: string[] = [];
  if (p.buffers.some((b) => b.dtype === 'f16' && !b.packedInto)) features.push('shader-f16');
  if (wgsl.some((k) => k.subgroups)) features.push('subgroups');
  const maxShared = Math.max(...kernels.map((k) => k.sharedBytes));
  const maxThreads = Math.max(...kernels.map((k) => k.threads));
  const maxBindings = Math.max(...kernels.map((k) => k.bindings.length));
  const limits: Record<string, number> = {};
  if (maxShared > 16384) limits['maxComputeWorkgroupStorageSize'] = maxShared;
  if (maxThreads > 256) {
    limits['maxComputeInvocationsPerWorkgroup'] = maxThreads;
    limits['maxComputeWorkgroupSizeX'] = maxThreads;
  }
  if (maxBindings > 8) limits['maxStorageBuffersPerShaderStage'] = maxBindings;
  return {
    format: 1,
    generator: `attnc ${VERSION}`,
    spec: ir.name,
    target: target.name,
    form: p.form,
    family: ir.family,
    dtype,
    keyDim: ir.keyDim,
    valueDim: ir.valueDim,
    normalizer: ir.normalizer,
    inputs: ir.inputs.map((i) => ({ name: i.name, type: i.type, shape: [...i.shape] })),
    params: ir.params.map((x) => ({ name: x.name, perHead: x.perHead, shape: [...x.shape] })),
    uniforms: p.params.map((x) => x.name),
    buffers: p.buffers.map((b) => ({ name: b.name, role: b.role, dtype: b.dtype, elems: b.elems, ...(b.packedInto ? { packedInto: { buffer: b.packedInto.buffer, offset: b.packedInto.offset } } : {}) })),
    kernels,
    requiredFeatures: features,
    requiredLimits: limits,
  };
}
