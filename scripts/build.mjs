// Bundles the CLI (dist/attnc.js, Node) and the compiler core (dist/attnc.browser.js, browsers) with esbuild.
import { build } from 'esbuild';
import { mkdirSync } from 'node:fs';
import { buildRuntime } from './build-runtime.mjs';

mkdirSync('dist', { recursive: true });
const common = { bundle: true, format: 'esm', sourcemap: true, logLevel: 'warning', legalComments: 'none' };

await build({
  ...common,
  entryPoints: ['bin/cli.ts'],
  outfile: 'dist/attnc.js',
  platform: 'node',
  target: 'node20',
  // The WebGPU binding is a native module: load it from node_modules at run time.
  external: ['webgpu'],
  // CommonJS dependencies call require() for Node built-ins.
  banner: { js: "import { createRequire as __attncRequire } from 'node:module'; const require = __attncRequire(import.meta.url);" },
});

await build({
  ...common,
  entryPoints: ['compiler/api.ts'],
  outfile: 'dist/attnc.browser.js',
  platform: 'browser',
  target: 'es2022',
});
await buildRuntime();
console.log('built dist/attnc.js, dist/attnc.browser.js and the WebGPU runtime dist/attnc-runtime.{js,d.ts}');
