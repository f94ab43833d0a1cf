/**
 * The CUDA twin of the WebGPU chunk kernels, for profiling: Nsight Compute cannot profile Vulkan,
 * so this prints the kernel IR that the WebGPU profile of an H100 gets (48 KiB of workgroup
 * memory, 256 threads, no tensor cores, f32 storage, the WebGPU `chunkPlan`) through the CUDA
 * backend instead of the WGSL one. Same tiles, phases, barriers and element loops; the CUDA
 * printer's own extras (16-byte loads, warp-shuffle folds, launch bounds) differ, so read its
 * profile for where the time goes, not for the WebGPU kernel's exact figures.
 *
 *   node --import tsx bench/gpu/webgpu-twin.ts DIR [spec …]   (default: gated_deltanet gla linear_attention)
 *   then on the GPU machine: python3 bench/gpu/kernel_times.py DIR, or ncu on it (bench/gpu/README.md)
 *
 * Variants: SPEC:split or SPEC:fused, and :C=N / :BV=N suffixes (gated_deltanet:split:C=32).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileCuda } from '../../backends/cuda/index.ts';
import { lowerSource } from '../../compiler/pipeline.ts';
import { PROFILES, type TargetProfile } from '../../compiler/targets/profiles.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const KiB = 1024;

const base = PROFILES['cuda-sm90']!;
const web = PROFILES['webgpu-large']!;
/** cuda-sm90 with the limits and features the WebGPU profile has on an H100 (`webgpu-large@device`). */
const twin: TargetProfile = {
  ...base,
  name: 'cuda-webgpu-twin',
  description: 'cuda-sm90 limited to what WebGPU gives on an H100: 48 KiB workgroup memory, 256 threads, no tensor cores',
  limits: { ...base.limits, sharedBytes: 48 * KiB, threadsPerGroup: 256 },
  features: { ...base.features, mma: [], tf32: false, asyncCopy: false },
  ...(web.chunkPlan ? { chunkPlan: web.chunkPlan } : {}),
};

const [dir, ...args] = process.argv.slice(2);
if (!dir) {
  process.stderr.write('usage: webgpu-twin.ts DIR [spec[:split|:fused][:C=N][:BV=N] …]\n');
  process.exit(2);
}
const specs = args.length ? args : ['gated_deltanet', 'gla', 'linear_attention'];
for (const arg of specs) {
  const [name, ...opts] = arg.split(':');
  const file = join(REPO, 'stdlib', `${name}.attn`);
  const l = lowerSource(readFileSync(file, 'utf8'), file);
  if (!l.ok) throw new Error(`${name}: does not compile`);
  const ir = l.irs[0]!;
  const prof: TargetProfile = { ...twin };
  let chunk: number | undefined;
  let BV: number | undefined;
  for (const o of opts) {
    if (o === 'split' || o === 'fused') prof.chunkPlan = { kernels: o, chunk: prof.chunkPlan?.chunk ?? 16 };
    else if (o.startsWith('C=')) chunk = Number(o.slice(2));
    else if (o.startsWith('BV=')) BV = Number(o.slice(3));
    else throw new Error(`unknown option ${o}`);
  }
  // The twin has one plan, like the WebGPU programs it stands for: no shape plans.
  const r = compileCuda(ir, { profile: prof, dtype: 'f32', form: 'chunk', shapePlans: false, ...(chunk ? { chunk } : {}), ...(BV ? { tiles: { BV } } : {}) });
  if (!r.program) throw new Error(`${arg}: ${r.diagnostics.map((d) => d.message).join('; ')}`);
  // One folder per variant, named like a spec so that kernel_times.py finds it.
  const label = opts.length ? `${ir.name}_${opts.join('_').replace(/=/g, '')}` : ir.name;
  const vdir = join(dir, label, 'cuda');
  mkdirSync(vdir, { recursive: true });
  for (const f of r.files) {
    // kernel_times.py loads DIR/NAME/cuda/NAME_torch.py: variants get their own NAME.
    const path = f.path === `${ir.name}_torch.py` ? `${label}_torch.py` : f.path;
    writeFileSync(join(vdir, path), f.contents);
  }
  process.stdout.write(`${label}: ${r.plan?.tiling?.why ?? ''}\n`);
}
