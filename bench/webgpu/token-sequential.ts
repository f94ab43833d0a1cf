/**
 * The token-sequential baseline for Gated DeltaNet on WebGPU: the design of the hand-written
 * kernels in llama.cpp's and ORT-Web's WebGPU backends (written here from that description, not
 * copied). One workgroup of V = 128 invocations per (head, sequence); invocation j keeps column j
 * of the state S (K = 128 values) in registers and walks the tokens in order:
 *
 *   load q_t, k_t into workgroup memory; barrier
 *   S[:, j] ← exp(g_t) S[:, j];  d = β_t (v_t[j] − k_tᵀ S[:, j]);  S[:, j] += k_t d;  o_t[j] = q_tᵀ S[:, j]
 *   barrier
 *
 * Two barriers per token. It takes q and k already normalised, and the log-gate g and β already
 * computed, per token and head (the benchmark feeds it the prepared tensors, which favours it).
 */
export const K = 128;
export const V = 128;

export const TOKEN_SEQUENTIAL_WGSL = /* wgsl */ `
struct Params { T: u32, H: u32, }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;     // [B·T, H, K]
@group(0) @binding(2) var<storage, read> k: array<f32>;     // [B·T, H, K]
@group(0) @binding(3) var<storage, read> v: array<f32>;     // [B·T, H, V]
@group(0) @binding(4) var<storage, read> g: array<f32>;     // [B·T, H]  log-space decay
@group(0) @binding(5) var<storage, read> beta: array<f32>;  // [B·T, H]
@group(0) @binding(6) var<storage, read_write> o: array<f32>; // [B·T, H, V]

var<workgroup> qs: array<f32, ${K}>;
var<workgroup> ks: array<f32, ${K}>;

@compute @workgroup_size(${V})
fn main(@builtin(local_invocation_index) j: u32, @builtin(workgroup_id) wg: vec3<u32>) {
  let h = wg.x;
  let b = wg.y;
  let H = params.H;
  let T = params.T;
  var s: array<f32, ${K}>;
  for (var i = 0u; i < ${K}u; i++) { s[i] = 0.0; }
  for (var t = 0u; t < T; t++) {
    let tok = b * T + t;
    let row = tok * H + h;
    qs[j] = q[row * ${K}u + j];
    ks[j] = k[row * ${K}u + j];
    workgroupBarrier();
    let decay = exp(g[row]);
    var kv = 0.0;
    for (var i = 0u; i < ${K}u; i++) {
      s[i] = s[i] * decay;
      kv += s[i] * ks[i];
    }
    let d = beta[row] * (v[row * ${V}u + j] - kv);
    var acc = 0.0;
    for (var i = 0u; i < ${K}u; i++) {
      s[i] += ks[i] * d;
      acc += s[i] * qs[i];
    }
    o[row * ${V}u + j] = acc;
    workgroupBarrier();
  }
}
`;

/** The same recurrence as a spec, so the baseline is checked against the reference interpreter. */
export const TOKEN_SEQUENTIAL_SPEC = `attention gdn_prepared {
  dims      K = ${K}, V = ${V}
  input     q: [K], k: [K], v: [V], g: scalar, beta: scalar
  gate      -softplus(g)
  update    delta(beta = beta)
  mask      causal
}
`;

const STORAGE = 0x80;
const COPY_DST = 0x08;
const COPY_SRC = 0x04;
const UNIFORM = 0x40;

export interface TokenSequentialBuffers {
  q: GPUBuffer;
  k: GPUBuffer;
  v: GPUBuffer;
  g: GPUBuffer;
  beta: GPUBuffer;
  o: GPUBuffer;
}

/** The baseline kernel with its pipeline; `encode` records one call into an encoder. */
export class TokenSequential {
  private pipeline: GPUComputePipeline;
  private params: GPUBuffer;
  constructor(private device: GPUDevice) {
    const module = device.createShaderModule({ code: TOKEN_SEQUENTIAL_WGSL, label: 'token-sequential gated delta' });
    this.pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: 'token-sequential gated delta' });
    this.params = device.createBuffer({ size: 16, usage: UNIFORM | COPY_DST });
  }

  /** The gate buffer holds softplus arguments: g_t = −softplus(x) is applied as in the spec. */
  static gateFromArgument(x: Float32Array<ArrayBuffer>): Float32Array<ArrayBuffer> {
    return x.map((a) => -(Math.max(a, 0) + Math.log1p(Math.exp(-Math.abs(a)))));
  }

  makeBuffers(B: number, T: number, H: number): TokenSequentialBuffers {
    const mk = (n: number, label: string) => this.device.createBuffer({ size: n * 4, usage: STORAGE | COPY_DST | COPY_SRC, label });
    const NT = B * T;
    return { q: mk(NT * H * K, 'q'), k: mk(NT * H * K, 'k'), v: mk(NT * H * V, 'v'), g: mk(NT * H, 'g'), beta: mk(NT * H, 'beta'), o: mk(NT * H * V, 'o') };
  }

  encode(encoder: GPUCommandEncoder, bufs: TokenSequentialBuffers, B: number, T: number, H: number): void {
    this.device.queue.writeBuffer(this.params, 0, new Uint32Array([T, H, 0, 0]));
    const entries: GPUBindGroupEntry[] = [this.params, bufs.q, bufs.k, bufs.v, bufs.g, bufs.beta, bufs.o].map((buffer, binding) => ({ binding, resource: { buffer } }));
    const pass = encoder.beginComputePass({ label: 'token-sequential' });
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(0, this.device.createBindGroup({ layout: this.pipeline.getBindGroupLayout(0), entries }));
    pass.dispatchWorkgroups(H, B, 1);
    pass.end();
  }

  destroy(): void {
    this.params.destroy();
  }
}
