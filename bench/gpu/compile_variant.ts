/**
 * A stdlib spec compiled to CUDA with plan options that `attnc compile` does not expose (the
 * measurement options of PlanOptions: prefetchDepth, asyncState, outputKernel, stateKeyTile,
 * halfOperands, …), for timing and checking variants against the default on a GPU machine:
 *
 *   node --import tsx bench/gpu/compile_variant.ts SPEC OUTDIR '{"outputKernel":true,"chunk":64}'
 *        [--dtype bf16] [--profile cuda-sm90] [--dims K=128,V=128]
 *
 * writes OUTDIR/SPEC/cuda/{SPEC.cu, SPEC.h, SPEC.manifest.json, SPEC_torch.py} — the layout that
 * compare.py, kernel_times.py and host_overhead.py read (`kernel_times.py OUTDIR --only SPEC`), and
 * that check.py reads once the files replace an export's DIR/SPEC/DTYPE/ (export_reference.ts) —
 * and prints the plan's notes.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileCuda } from '../../backends/cuda/index.ts';
import { renderDiagnostics } from '../../compiler/diagnostics/render.ts';
import type { Dtype } from '../../compiler/kernel-ir/types.ts';
import type { PlanOptions } from '../../compiler/passes/plan.ts';
import { lowerSource } from '../../compiler/pipeline.ts';

function flag(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
}

export function main(argv: string[]): number {
  const [spec, out, json] = argv.filter((a, i) => !a.startsWith('--') && !argv[i - 1]?.startsWith('--'));
  if (!spec || !out) {
    console.error("usage: compile_variant.ts SPEC OUTDIR '{plan options as JSON}' [--dtype bf16] [--profile cuda-sm90] [--dims K=128,V=128]");
    return 2;
  }
  // `"shapePlans": false` compiles the default plan alone (no plans for few chains beside it).
  let options: PlanOptions & { form?: PlanOptions['form']; shapePlans?: boolean };
  try {
    options = JSON.parse(json ?? '{}');
  } catch (e) {
    console.error(`compile_variant: the plan options are not JSON: ${(e as Error).message}`);
    return 2;
  }
  const dims = flag(argv, 'dims') ? Object.fromEntries(flag(argv, 'dims')!.split(',').map((kv) => [kv.split('=')[0]!, Number(kv.split('=')[1])])) : undefined;
  const file = join('stdlib', `${spec}.attn`);
  const low = lowerSource(readFileSync(file, 'utf8'), file, dims ? { dims } : {});
  const ir = low.irs[0];
  if (!low.ok || !ir) {
    console.error(renderDiagnostics(low.diagnostics));
    return 1;
  }
  const { form, chunk, tiles, dtype: _dtype, shapePlans, ...plan } = options;
  const r = compileCuda(ir, {
    profile: flag(argv, 'profile') ?? 'cuda-sm90',
    dtype: (flag(argv, 'dtype') ?? 'bf16') as Dtype,
    source: file,
    ...(form ? { form } : {}),
    ...(chunk ? { chunk } : {}),
    ...(tiles ? { tiles } : {}),
    ...(shapePlans === false ? { shapePlans } : {}),
    plan,
  });
  if (!r.files.length) {
    console.error(renderDiagnostics(r.diagnostics));
    return 1;
  }
  const dir = join(out, spec, 'cuda');
  mkdirSync(dir, { recursive: true });
  for (const f of r.files) writeFileSync(join(dir, f.path), f.contents);
  console.log(`${dir}: ${JSON.stringify(options)}`);
  for (const n of r.plan?.notes ?? []) console.log(`  ${n}`);
  return 0;
}

process.exitCode = main(process.argv.slice(2));
