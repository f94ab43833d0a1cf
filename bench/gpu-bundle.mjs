// Prepares .gpu/ (made by ../shared/tools/gpu-carry.sh) for the GPU machine, whose transfer limit
// is 64 MiB: bundles the benchmark scripts and the CLI into .gpu/bench/*.mjs (plain Node, no tsx)
// and trims .gpu/node_modules to the one native module they load at run time (webgpu).
//
//   bash ../shared/tools/gpu-carry.sh [FLA_GIT_DIR] && node bench/gpu-bundle.mjs
//   then on the GPU machine: source .gpu/prelude.sh && node .gpu/bench/webgpu.mjs --sweep
import { build } from 'esbuild';
import { existsSync, readdirSync, rmSync } from 'node:fs';

if (!existsSync('.gpu/prelude.sh')) {
  console.error('gpu-bundle: run ../shared/tools/gpu-carry.sh first');
  process.exit(2);
}
const entries = { webgpu: 'bench/webgpu/run.ts', attnc: 'bin/cli.ts', export_reference: 'bench/gpu/export_reference.ts', compile_variant: 'bench/gpu/compile_variant.ts' };
for (const [name, entry] of Object.entries(entries)) {
  await build({
    entryPoints: [entry],
    outfile: `.gpu/bench/${name}.mjs`,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    external: ['webgpu'],
    logLevel: 'warning',
    banner: { js: "import { createRequire as __r } from 'node:module'; const require = __r(import.meta.url);" },
  });
}
for (const dir of readdirSync('.gpu/node_modules')) if (dir !== 'webgpu') rmSync(`.gpu/node_modules/${dir}`, { recursive: true, force: true });
console.log(`bundled ${Object.keys(entries).map((n) => `.gpu/bench/${n}.mjs`).join(', ')}; .gpu/node_modules holds webgpu only`);
