/**
 * Generated TypeScript bindings: they typecheck against @webgpu/types, and running them through
 * Dawn gives the reference output; bad buffers give errors that name the tensor and its size.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compileIR } from '../../compiler/compile.ts';
import { interpret } from '../../compiler/interp/interpret.ts';
import { randomInputs } from '../../compiler/interp/random.ts';
import { compareTensors } from '../../compiler/interp/tensor.ts';
import { runtimeFiles } from '../../bin/paths.ts';
import { REPO } from '../helpers/baseline.ts';
import { stdlibIR } from '../helpers/ir.ts';
import { releaseGpu, scoped, testGpu } from '../helpers/gpu.ts';

async function generate(name: string, profile = 'webgpu-default') {
  const ir = stdlibIR(name, { K: 16, V: 16, D: 16 });
  const res = compileIR(ir, { targets: ['wgsl', 'ts'], webgpuProfile: profile, specText: `# ${name}\n`, source: `${name}.attn` });
  assert.equal(res.diagnostics.filter((d) => d.severity === 'error'), []);
  const dir = mkdtempSync(join(tmpdir(), 'attnc-bindings-'));
  const rt = await runtimeFiles();
  mkdirSync(join(dir, name), { recursive: true });
  for (const a of res.artifacts) writeFileSync(join(dir, a.path), a.contents);
  writeFileSync(join(dir, name, 'attnc-runtime.js'), rt.js);
  writeFileSync(join(dir, name, 'attnc-runtime.d.ts'), rt.dts);
  return { ir, dir: join(dir, name) };
}

test('the generated bindings typecheck (strict, with @webgpu/types)', async () => {
  const { dir } = await generate('gated_deltanet');
  const tsc = join(REPO, 'node_modules/typescript/bin/tsc');
  const out = (() => {
    try {
      execFileSync(process.execPath, [tsc, '--noEmit', '--strict', '--target', 'es2022', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--skipLibCheck', '--typeRoots', join(REPO, 'node_modules'), '--types', '@webgpu/types', join(dir, 'gated_deltanet.ts')], { cwd: REPO, stdio: 'pipe' });
      return '';
    } catch (e) {
      return String((e as { stdout?: Buffer }).stdout ?? e);
    }
  })();
  assert.is(out, '', out);
});

test('the generated bindings run on WebGPU and match the reference (packed bindings, initial and final state)', async () => {
  const { ir, dir } = await generate('gated_deltanet');
  const mod = (await import(pathToFileURL(join(dir, 'gated_deltanet.ts')).href)) as Record<string, unknown>;
  const gpu = await testGpu();
  const Cls = mod['GatedDeltanet'] as new (d: GPUDevice) => { run: (t: object, d: object, s?: object) => Promise<{ output: Float32Array; finalState?: { S: Float32Array } }>; destroy(): void; bufferSizes(d: object): Record<string, number> };
  assert.ok(Array.isArray(mod['requiredFeatures']));
  const k = new Cls(gpu.device);
  const inputs = randomInputs(ir, { B: 2, T: 50, H: 2, seed: 3, initialState: true });
  const tensors = Object.fromEntries(Object.entries(inputs.tensors).map(([n, t]) => [n, t.data]));
  const res = await scoped(gpu.device, () => k.run(tensors, { B: 2, T: 50, H: 2 }, { S: inputs.initialState!.S.data }));
  const ref = interpret(ir, inputs, { form: 'recurrent', outputFinalState: true });
  assert.ok(compareTensors(Float64Array.from(res.output), ref.output!.data).relErr < 1e-4);
  assert.ok(compareTensors(Float64Array.from(res.finalState!.S), ref.finalState!.S.data).relErr < 1e-4);
  const sizes = k.bufferSizes({ B: 2, T: 50, H: 2 });
  assert.is(sizes['q'], 2 * 50 * 2 * 16 * 4);
  assert.is(sizes['out'], 2 * 50 * 2 * 16 * 4);
  k.destroy();
});

test('buffer and tensor errors name the tensor and the size it needs', async () => {
  const { ir, dir } = await generate('gla', 'webgpu-large');
  const mod = (await import(pathToFileURL(join(dir, 'gla.ts')).href)) as Record<string, unknown>;
  const gpu = await testGpu();
  const Cls = mod['Gla'] as new (d: GPUDevice, o?: { maxCachedShapes?: number }) => { run: (t: object, d: object) => Promise<unknown>; encode: (e: GPUCommandEncoder, b: object, d: object) => void; kernels: { maxCachedShapes: number } };
  const k = new Cls(gpu.device);
  assert.is(k.kernels.maxCachedShapes, 8, 'the runtime default');
  assert.is(new Cls(gpu.device, { maxCachedShapes: 2 }).kernels.maxCachedShapes, 2, 'the bindings pass options to the runtime');
  const inputs = randomInputs(ir, { B: 1, T: 10, H: 2, seed: 4 });
  const tensors: Record<string, Float64Array> = Object.fromEntries(Object.entries(inputs.tensors).map(([n, t]) => [n, t.data]));
  tensors['q'] = tensors['q']!.slice(0, 5);
  let msg = '';
  try {
    await k.run(tensors, { B: 1, T: 10, H: 2 });
  } catch (e) {
    msg = (e as Error).message;
  }
  assert.match(msg, /tensor 'q' has 5 values; shape \[1, 10, 2, 16\] needs 320/);
  const small = gpu.device.createBuffer({ size: 64, usage: 0x80 });
  const enc = gpu.device.createCommandEncoder();
  msg = '';
  try {
    k.encode(enc, { q: small }, { B: 1, T: 10, H: 2 });
  } catch (e) {
    msg = (e as Error).message;
  }
  assert.match(msg, /buffer 'q' has 64 bytes; shape \[1, 10, 2, 16\] \(f32\) needs 1280/);
  small.destroy();
});

test('dispatches past the per-dimension limit are split (a device that allows 3 workgroups per dimension)', async () => {
  const { ir, dir } = await generate('gated_deltanet', 'webgpu-large');
  const mod = (await import(pathToFileURL(join(dir, 'gated_deltanet.ts')).href)) as Record<string, unknown>;
  const gpu = await testGpu();
  // The same device, reporting a tiny limit: the runtime must split every x grid into dispatches of ≤ 3.
  const limits = new Proxy(gpu.device.limits, { get: (t, p) => (p === 'maxComputeWorkgroupsPerDimension' ? 3 : Reflect.get(t, p)) });
  let dispatches = 0;
  const device = new Proxy(gpu.device, {
    get(t, p) {
      if (p === 'limits') return limits;
      if (p === 'createCommandEncoder')
        return (d?: GPUCommandEncoderDescriptor) => {
          const enc = t.createCommandEncoder(d);
          return new Proxy(enc, {
            get(e, q) {
              if (q === 'beginComputePass')
                return (pd?: GPUComputePassDescriptor) => {
                  const pass = e.beginComputePass(pd);
                  return new Proxy(pass, {
                    get(ps, r) {
                      if (r === 'dispatchWorkgroups')
                        return (x: number, y?: number, z?: number) => {
                          assert.ok(x <= 3, `dispatch of ${x} workgroups along x`);
                          dispatches++;
                          ps.dispatchWorkgroups(x, y, z);
                        };
                      const v = Reflect.get(ps, r);
                      return typeof v === 'function' ? v.bind(ps) : v;
                    },
                  });
                };
              const v = Reflect.get(e, q);
              return typeof v === 'function' ? v.bind(e) : v;
            },
          });
        };
      const v = Reflect.get(t, p);
      return typeof v === 'function' ? v.bind(t) : v;
    },
  });
  const Cls = mod['GatedDeltanet'] as new (d: GPUDevice) => { run: (t: object, d: object) => Promise<{ output: Float32Array }>; destroy(): void };
  const k = new Cls(device);
  const inputs = randomInputs(ir, { B: 2, T: 200, H: 2, seed: 5 });
  const tensors = Object.fromEntries(Object.entries(inputs.tensors).map(([n, t]) => [n, t.data]));
  const res = await scoped(gpu.device, () => k.run(tensors, { B: 2, T: 200, H: 2 }));
  const ref = interpret(ir, inputs, { form: 'recurrent' });
  assert.ok(compareTensors(Float64Array.from(res.output), ref.output!.data).relErr < 1e-4);
  assert.ok(dispatches > 4, `${dispatches} dispatches`);
  k.destroy();
});

test.after(async () => {
  await releaseGpu();
});

test.run();
