/**
 * A standalone probe of the warpgroup-MMA facts the CUDA printer relies on (backends/cuda/wgmma.ts),
 * apart from any generated kernel: one block of 128 threads computes, with the same helpers,
 *   S = A·Bᵀ  (A [128, 128] with its rows permuted as an A operand, B [64, 128]; both K-major by
 *             descriptor; S as m64n64k16 accumulators, 2 row tiles a warp), and
 *   O = P·V   (P [128, 64] from registers packed from the accumulator layout; V [64, 128] read
 *             MN-major by descriptor; O as m64n128k16 accumulators),
 * and prints the largest error of each against a float reference on the host. Where a flash kernel
 * built with warpgroupMma fails its check, this tells the layout and descriptors (probe fails) from
 * the printer's use of them (probe passes).
 *
 *   node --import tsx bench/gpu/wgmma_probe.ts OUT.cu
 *   on the GPU machine: nvcc -arch=sm_90a -std=c++17 -o probe OUT.cu && ./probe
 */
import { writeFileSync } from 'node:fs';
import { DEVICE_HELPERS } from '../../backends/cuda/emit.ts';
import { coreByteOffset, coreStride, descriptorOffsets, WGMMA_ARCH_CHECK, WGMMA_HELPERS, wgmmaHelper, wgmmaName } from '../../backends/cuda/wgmma.ts';

const C = 128;
const cs = coreStride(C, C + C / 8);
const kMajor = descriptorOffsets(C, cs, true);
const mnMajor = descriptorOffsets(C, cs, false);
const ss = wgmmaName(64, 'bf16', false, false);
const rs = wgmmaName(128, 'bf16', true, true);
const rowBlock = coreByteOffset(64, 0, C, cs) / 16;
const kStep = coreByteOffset(0, 8, C, cs) / 16;
const vStep = coreByteOffset(8, 0, C, cs) / 16;

const text = `#include <cuda_runtime.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
${WGMMA_ARCH_CHECK}
${DEVICE_HELPERS}
${WGMMA_HELPERS}
${wgmmaHelper(64, 'bf16', false, false)}
${wgmmaHelper(128, 'bf16', true, true)}

// Slot s of a row-owned [128, n] tile (4 warps, 2 row tiles of 16 a warp, n/8 column tiles).
__device__ int slot_row(int lid, int s, int nb) { return 16 * ((lid >> 5) * 2 + (s >> 2) / nb) + ((lid & 31) >> 2) + 8 * ((s >> 1) & 1); }
__device__ int slot_col(int lid, int s, int nb) { return 8 * ((s >> 2) % nb) + 2 * (lid & 3) + (s & 1); }

__global__ void __launch_bounds__(128, 1) probe(const __nv_bfloat16* a, const __nv_bfloat16* b, const __nv_bfloat16* p, const __nv_bfloat16* v, float* s_out, float* o_out) {
  extern __shared__ __align__(16) float smem[];
  __nv_bfloat16* const As = reinterpret_cast<__nv_bfloat16*>(smem);
  __nv_bfloat16* const Bs = As + 128 * ${C + C / 8};
  __nv_bfloat16* const Vs = Bs + 64 * ${C + C / 8};
  const int lid = threadIdx.x;
  for (int e = lid; e < 128 * 128; e += 128) As[attnc_core_at(attnc_wg_row(e / 128, 2), e % 128, ${C / 8}, ${cs})] = a[e];
  for (int e = lid; e < 64 * 128; e += 128) {
    Bs[attnc_core_at(e / 128, e % 128, ${C / 8}, ${cs})] = b[e];
    Vs[attnc_core_at(e / 128, e % 128, ${C / 8}, ${cs})] = v[e];
  }
  attnc_fence_async_shared();
  __syncthreads();
  float S[64];
  float O[128];
  {
    const unsigned long long da = attnc_wgmma_desc(As, ${kMajor.lbo}u, ${kMajor.sbo}u);
    const unsigned long long db = attnc_wgmma_desc(Bs, ${kMajor.lbo}u, ${kMajor.sbo}u);
    attnc_wgmma_fence();
    #pragma unroll
    for (int x = 0; x < 128; x += 16) {
      #pragma unroll
      for (int t = 0; t < 2; t += 1) ${ss}(S + 32 * t, da + (unsigned long long)(t * ${rowBlock} + (x / 8) * ${kStep}), db + (unsigned long long)((x / 8) * ${kStep}), x > 0);
    }
    attnc_wgmma_commit();
    attnc_wgmma_wait();
    #pragma unroll
    for (int z = 0; z < 64; z += 1) attnc_wgmma_hold(S[z]);
  }
  #pragma unroll
  for (int s = 0; s < 64; s += 1) s_out[slot_row(lid, s, 8) * 64 + slot_col(lid, s, 8)] = S[s];
  // P into the score layout, then O = P·V with P from registers.
  float P[64];
  #pragma unroll
  for (int s = 0; s < 64; s += 1) P[s] = __bfloat162float(p[slot_row(lid, s, 8) * 64 + slot_col(lid, s, 8)]);
  {
    unsigned af[8][4];
    #pragma unroll
    for (int x = 0; x < 64; x += 16) {
      #pragma unroll
      for (int t = 0; t < 2; t += 1) {
        const float* q = P + 4 * (t * 8 + (x >> 3));
        af[t * 4 + x / 16][0] = attnc_pack_bf16(q[0], q[1]);
        af[t * 4 + x / 16][1] = attnc_pack_bf16(q[2], q[3]);
        af[t * 4 + x / 16][2] = attnc_pack_bf16(q[4], q[5]);
        af[t * 4 + x / 16][3] = attnc_pack_bf16(q[6], q[7]);
      }
    }
    const unsigned long long dv = attnc_wgmma_desc(Vs, ${mnMajor.lbo}u, ${mnMajor.sbo}u);
    #pragma unroll
    for (int z = 0; z < 32; z += 1) attnc_wgmma_hold(af[z >> 2][z & 3]);
    attnc_wgmma_fence();
    #pragma unroll
    for (int x = 0; x < 64; x += 16) {
      #pragma unroll
      for (int t = 0; t < 2; t += 1) ${rs}(O + 64 * t, af[t * 4 + x / 16], dv + (unsigned long long)((x / 8) * ${vStep}), x > 0);
    }
    attnc_wgmma_commit();
    attnc_wgmma_wait();
    #pragma unroll
    for (int z = 0; z < 128; z += 1) attnc_wgmma_hold(O[z]);
  }
  #pragma unroll
  for (int s = 0; s < 128; s += 1) o_out[slot_row(lid, s, 16) * 128 + slot_col(lid, s, 16)] = O[s];
}

static float rnd(unsigned* st) { *st = *st * 1664525u + 1013904223u; return ((*st >> 8) & 0xFFFF) / 32768.0f - 1.0f; }

int main() {
  const int nA = 128 * 128, nB = 64 * 128, nP = 128 * 64, nV = 64 * 128;
  __nv_bfloat16 *ha = (__nv_bfloat16*)malloc(nA * 2), *hb = (__nv_bfloat16*)malloc(nB * 2), *hp = (__nv_bfloat16*)malloc(nP * 2), *hv = (__nv_bfloat16*)malloc(nV * 2);
  unsigned st = 12345u;
  for (int i = 0; i < nA; i++) ha[i] = __float2bfloat16(rnd(&st));
  for (int i = 0; i < nB; i++) hb[i] = __float2bfloat16(rnd(&st));
  for (int i = 0; i < nP; i++) hp[i] = __float2bfloat16(rnd(&st));
  for (int i = 0; i < nV; i++) hv[i] = __float2bfloat16(rnd(&st));
  __nv_bfloat16 *da, *db, *dp, *dv;
  float *ds, *doo;
  cudaMalloc(&da, nA * 2); cudaMalloc(&db, nB * 2); cudaMalloc(&dp, nP * 2); cudaMalloc(&dv, nV * 2);
  cudaMalloc(&ds, 128 * 64 * 4); cudaMalloc(&doo, 128 * 128 * 4);
  cudaMemcpy(da, ha, nA * 2, cudaMemcpyHostToDevice); cudaMemcpy(db, hb, nB * 2, cudaMemcpyHostToDevice);
  cudaMemcpy(dp, hp, nP * 2, cudaMemcpyHostToDevice); cudaMemcpy(dv, hv, nV * 2, cudaMemcpyHostToDevice);
  const int smem = (128 + 64 + 64) * ${C + C / 8} * 2;
  cudaFuncSetAttribute(probe, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
  probe<<<1, 128, smem>>>(da, db, dp, dv, ds, doo);
  cudaError_t e = cudaDeviceSynchronize();
  if (e != cudaSuccess) { printf("wgmma probe: launch failed: %s\\n", cudaGetErrorString(e)); return 1; }
  float* hs = (float*)malloc(128 * 64 * 4); float* ho = (float*)malloc(128 * 128 * 4);
  cudaMemcpy(hs, ds, 128 * 64 * 4, cudaMemcpyDeviceToHost); cudaMemcpy(ho, doo, 128 * 128 * 4, cudaMemcpyDeviceToHost);
  double es = 0, eo = 0;
  for (int r = 0; r < 128; r++) for (int c = 0; c < 64; c++) {
    double acc = 0; for (int k = 0; k < 128; k++) acc += (double)__bfloat162float(ha[r * 128 + k]) * __bfloat162float(hb[c * 128 + k]);
    es = fmax(es, fabs(acc - hs[r * 64 + c]));
  }
  for (int r = 0; r < 128; r++) for (int c = 0; c < 128; c++) {
    double acc = 0; for (int k = 0; k < 64; k++) acc += (double)__bfloat162float(hp[r * 64 + k]) * __bfloat162float(hv[k * 128 + c]);
    eo = fmax(eo, fabs(acc - ho[r * 128 + c]));
  }
  const int ok = es < 1e-3 && eo < 1e-3;
  printf("wgmma probe: S = A·Bᵀ (ss, K-major) max error %.3g; O = P·V (rs, V MN-major) max error %.3g: %s\\n", es, eo, ok ? "ok" : "FAIL");
  return ok ? 0 : 1;
}
`;

const out = process.argv[2];
if (!out) {
  console.error('usage: wgmma_probe.ts OUT.cu');
  process.exit(2);
}
writeFileSync(out, text);
console.log(`wrote ${out}`);
