// The browser example's logic, free of the DOM so that it also runs in Node (the tests run it on
// Dawn through the `webgpu` package): compile a spec with attnc's programmatic API, and when a GPU
// is there run its kernels on random inputs and compare them with the float64 reference
// interpreter.

/**
 * @param {typeof import('../../compiler/api.ts')} attnc  the API (dist/attnc.browser.js)
 * @param {string} source  spec text
 * @param {{ dims?: Record<string, number>, shape?: { B: number, T: number, H: number }, gpu?: GPU, seed?: number }} options
 */
export async function compileAndRun(attnc, source, options = {}) {
  const shape = options.shape ?? { B: 1, T: 64, H: 2 };
  const t0 = performance.now();
  // webgpu-default: the limits every adapter guarantees; the device is asked for what the manifest says.
  const compiled = attnc.compile(source, { name: 'spec.attn', targets: ['wgsl'], profile: 'webgpu-default', ...(options.dims ? { dims: options.dims } : {}) });
  const compileMs = performance.now() - t0;
  const result = {
    ok: compiled.ok,
    compileMs,
    diagnostics: compiled.diagnostics.length ? attnc.renderText(compiled.diagnostics) : '',
    codes: compiled.diagnostics.map((d) => d.code),
    spec: compiled.ir?.name,
    kernels: (compiled.specs[0]?.manifest?.kernels ?? []).map((k) => ({ name: k.name, code: k.code })),
    run: undefined,
  };
  const spec = compiled.specs[0];
  if (!compiled.ok || !spec?.manifest) return result;
  if (!options.gpu) {
    result.run = { skipped: 'no WebGPU here (navigator.gpu is missing)' };
    return result;
  }
  const adapter = await options.gpu.requestAdapter();
  if (!adapter) {
    result.run = { skipped: 'no WebGPU adapter' };
    return result;
  }
  const m = spec.manifest;
  const missing = m.requiredFeatures.filter((f) => !adapter.features.has(f));
  if (missing.length) {
    result.run = { skipped: `the adapter lacks ${missing.join(', ')}` };
    return result;
  }
  const device = await adapter.requestDevice({ requiredFeatures: m.requiredFeatures, requiredLimits: m.requiredLimits });
  try {
    const ref = attnc.interpret(spec.ir, { random: { ...shape, seed: options.seed ?? 0 } });
    if (!ref.ok) {
      result.run = { skipped: attnc.renderText(ref.diagnostics) };
      return result;
    }
    const tensors = Object.fromEntries(Object.entries(ref.inputs.tensors).map(([name, t]) => [name, Float32Array.from(t.data)]));
    const kernels = new attnc.AttentionKernels(device, m);
    device.pushErrorScope('validation');
    await kernels.run(tensors, shape); // pipelines
    const t1 = performance.now();
    const { output } = await kernels.run(tensors, shape);
    const ms = performance.now() - t1;
    const err = await device.popErrorScope();
    kernels.destroy();
    if (err) throw new Error(`WebGPU validation error: ${err.message}`);
    const { relErr, maxAbs } = attnc.compareTensors(Float64Array.from(output), ref.output.data);
    result.run = { shape, ms, relErr, maxAbs, ok: relErr <= 1e-4, adapter: [adapter.info?.vendor, adapter.info?.architecture].filter(Boolean).join(' ') };
  } finally {
    device.destroy();
  }
  return result;
}

/** `K=16,V=16` → { K: 16, V: 16 }; undefined for an empty string; an Error for bad text. */
export function parseDims(text) {
  const out = {};
  for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([A-Za-z_]\w*)\s*=\s*(\d+)$/.exec(part);
    if (!m) return new Error(`dims are NAME=INTEGER pairs separated by commas, e.g. K=16,V=16 (found '${part}')`);
    out[m[1]] = Number(m[2]);
  }
  return Object.keys(out).length ? out : undefined;
}
