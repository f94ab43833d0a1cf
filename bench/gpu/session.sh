#!/usr/bin/env bash
# Everything the GPU machine is needed for, in one call and in priority order, each step under its
# own time limit, results under OUT (logs, JSON). A session has 30 device minutes and a call at
# most 10: this fits one call.
#
#   here:   bash ../shared/tools/gpu-carry.sh FLA_GIT_DIR && node bench/gpu-bundle.mjs \
#             && bash bench/gpu/prepare-compare.sh
#   there:  source .gpu/prelude.sh && bash bench/gpu/session.sh "$OUT" [STEPS]
#
# STEPS (default: check,webgpu,variants,kernels,compare) picks and orders the steps:
#   check    CUDA equivalence of every stdlib spec (bf16, f16, f32; 3 cases) against the float64
#            reference (bench/gpu/check.py), references made there by the bundled exporter; then
#            the recurrent (decode) kernels of the specs that have them (bf16, f32)
#   webgpu   WebGPU table at B=4 T=4096 H=16 with each kernel timed alone, and the Gated DeltaNet
#            sweep against the token-sequential baseline (bench/webgpu/run.ts)
#   variants Gated DeltaNet's CUDA tile variants (prepare-compare.sh), attnc only
#   plans    the plan-option variants under .gpu/compare/plans (prepare-compare.sh; PLANS=a,b picks
#            some of them by name, e.g. PLANS=retnet_half,simple_gla_half): each checked
#            (bf16) against a reference export, then timed per kernel beside its spec's default at
#            B=4 T=4096 and B=1 T=16384 (kernel_times.py)
#   decode   Gated DeltaNet's decode variants (DIR/decode-variants/*, prepare-compare.sh): each checked
#            (bf16) against a recurrent-form export, then the decode step (B=64, one token, the state
#            in and out) timed per kernel and whole beside the default (DIR/decode)
#   shapes   whole calls of the specs with shape plans (RetNet, simple GLA, Mamba-2, Lightning: a
#            plan for few chains beside the default) against their default plan alone
#            (DIR/plans/*_one), at B=1, 2 (and 4)
#   flash    the softmax family's flash kernels: checked (bf16, f16, f32; 3 cases), then the kernel
#            alone at B=4 T=4096 and B=1 T=16384 (softmax, sliding window, ALiBi, and the softmax
#            tilings of DIR/softmax-tiles), then Flex ÷ attnc (compare.py)
#   wgmma    the warpgroup-MMA probe (bench/gpu/wgmma_probe.ts, built by prepare-compare.sh under
#            .gpu/probe): S = A·Bᵀ and O = P·V with the printer's layout, descriptors and helpers
#   ncu      Nsight Compute hot spots of the delta rules' and the flash kernels (ncu_hotspots.sh)
#   kernels  each generated CUDA kernel's time at B=4 T=4096 (bench/gpu/kernel_times.py)
#   compare  attnc CUDA vs FLA / SDPA / FlexAttention (bench/gpu/compare.py); FLA's Triton
#            autotuning makes the first call of each of its kernels slow, so this goes last
set -uo pipefail
cd "$(dirname "$0")/../.."
out=${1:?usage: session.sh OUT [STEPS]}
steps=${2:-check,webgpu,variants,kernels,compare}
mkdir -p "$out"
step() { # name seconds command...
  local name=$1 secs=$2
  shift 2
  echo "== $name (at most ${secs} s) =="
  local t0=$SECONDS
  timeout "$secs" "$@" > "$out/$name.log" 2>&1
  local rc=$?
  tail -n 40 "$out/$name.log"
  echo "== $name: exit $rc after $((SECONDS - t0)) s =="
}
for s in ${steps//,/ }; do
  case $s in
    check)
      step export 120 node .gpu/bench/export_reference.mjs --out /tmp/attnc-ref
      step check 150 python3 bench/gpu/check.py /tmp/attnc-ref
      step export-decode 60 node .gpu/bench/export_reference.mjs --out /tmp/attnc-ref-decode --form recurrent --dtypes bf16,f32
      step check-decode 90 python3 bench/gpu/check.py /tmp/attnc-ref-decode ;;
    webgpu)
      step webgpu 150 node .gpu/bench/webgpu.mjs --sweep --per-kernel --reps 5 --json "$out/webgpu.json" ;;
    variants)
      step variants 90 python3 bench/gpu/compare.py .gpu/compare --only gated_deltanet --skip-others --variants --reps 20 ;;
    plans)
      step plans 360 bash -c '
        dirs=$(for n in $(echo "${PLANS:-$(ls .gpu/compare/plans | paste -sd,)}" | tr , " "); do echo ".gpu/compare/plans/$n/"; done)
        specs=$(for d in $dirs; do ls "$d"; done | sort -u | paste -sd,)
        node .gpu/bench/export_reference.mjs --out /tmp/attnc-ref-plans --dtypes bf16 --specs "$specs" > /dev/null || exit 1
        for d in $dirs; do
          sp=$(ls "$d"); rm -rf /tmp/attnc-ref-plan && cp -r /tmp/attnc-ref-plans /tmp/attnc-ref-plan
          cp "$d/$sp/cuda/"* "/tmp/attnc-ref-plan/$sp/bf16/"
          echo "== $(basename "$d") ($sp): $(python3 bench/gpu/check.py /tmp/attnc-ref-plan --specs "$sp" --no-fla 2>&1 | tail -1)"
        done
        for sh in 4x4096 1x16384; do
          echo "-- defaults $sh"; python3 bench/gpu/kernel_times.py .gpu/compare --only "$specs" --shape "$sh" --reps 5 2>&1 | grep "^| [a-z]"
          for d in $dirs; do
            sp=$(ls "$d"); echo "-- $(basename "$d") $sh"
            python3 bench/gpu/kernel_times.py "$d" --only "$sp" --shape "$sh" --reps 5 2>&1 | grep "^| $sp"
          done
        done' ;;
    decode)
      step decode 150 bash -c '
        node .gpu/bench/export_reference.mjs --out /tmp/attnc-ref-dv --form recurrent --dtypes bf16 --specs gated_deltanet > /dev/null || exit 1
        for d in .gpu/compare/decode-variants/*/; do
          rm -rf /tmp/attnc-ref-dv1 && cp -r /tmp/attnc-ref-dv /tmp/attnc-ref-dv1 && cp "$d/gated_deltanet/cuda/"* /tmp/attnc-ref-dv1/gated_deltanet/bf16/
          echo "== $(basename "$d"): $(python3 bench/gpu/check.py /tmp/attnc-ref-dv1 --specs gated_deltanet --no-fla 2>&1 | tail -1)"
        done
        for round in 1 2; do
          for d in .gpu/compare/decode .gpu/compare/decode-variants/*; do
            echo "-- $d (round $round)"; python3 bench/gpu/kernel_times.py "$d" --only gated_deltanet --shape 64x1 --state --reps 30 2>&1 | grep -E "^\\| gated|whole"
          done
        done' ;;
    shapes)
      step shapes 200 bash -c '
        for d in .gpu/compare .gpu/compare/plans/retnet_one .gpu/compare/plans/simple_gla_one; do
          echo "-- $d"; python3 bench/gpu/compare.py "$d" --only retnet,simple_gla --skip-others --shapes 1x16384,2x8192,4x4096 --reps 15 2>&1 | grep "attnc "
        done
        for s in mamba2 lightning; do
          for d in .gpu/compare .gpu/compare/plans/${s}_one; do
            for sh in 1x16384 2x8192; do
              echo "-- $d $s $sh"; python3 bench/gpu/kernel_times.py "$d" --only "$s" --shape "$sh" --reps 10 2>&1 | grep "whole call"
            done
          done
        done' ;;
    flash)
      step flash 240 bash -c '
        sm=softmax,swa_sink,alibi,forgetting_attention,gated_softmax
        node .gpu/bench/export_reference.mjs --out /tmp/attnc-ref-flash --specs "$sm" > /dev/null || exit 1
        python3 bench/gpu/check.py /tmp/attnc-ref-flash 2>&1 | tail -1
        for sh in 4x4096 1x16384; do
          echo "-- default $sh"; python3 bench/gpu/kernel_times.py .gpu/compare --only softmax,swa_sink,alibi --shape "$sh" --reps 10 2>&1 | grep "_attention"
          for t in .gpu/compare/softmax-tiles/*/; do
            echo "-- $(basename "$t") $sh"; python3 bench/gpu/kernel_times.py "$t" --only "$(ls "$t")" --shape "$sh" --reps 10 2>&1 | grep "_attention"
          done
        done
        python3 bench/gpu/compare.py .gpu/compare --only softmax,swa_sink,alibi --shapes 4x4096,1x16384 --reps 15 2>&1 | grep "÷"' ;;
    ncu)
      # Nsight Compute hot spots (bench/gpu/ncu_hotspots.sh) of the kernels that hold the gap to FLA
      # and Flex: the delta rules' intra-chunk kernel (chunks of 32: the default; of 64: the few-chains
      # plan's), their state and output kernels, and the causal flash kernel, at B=4 T=4096.
      step ncu 420 env OUTDIR="$out/ncu" bash -c '
        for k in "gated_deltanet gated_deltanet_intra" "gated_deltanet gated_deltanet_chunk" "gated_deltanet gated_deltanet_output" "softmax softmax_attention" "gated_deltanet few__gated_deltanet_intra"; do
          set -- $k; echo "=== $2"; bash bench/gpu/ncu_hotspots.sh "$OUTDIR" .gpu/compare "$1" "$2" "$([ "${2#few}" != "$2" ] && echo 1x16384 || echo 4x4096)" 25
        done' ;;
    wgmma)
      step wgmma 90 bash -c 'nvcc -arch=sm_90a -std=c++17 -O3 -o /tmp/attnc-wgmma-probe .gpu/probe/wgmma_probe.cu && /tmp/attnc-wgmma-probe' ;;
    kernels)
      step kernels 120 python3 bench/gpu/kernel_times.py .gpu/compare --reps 5 ;;
    compare)
      step compare 240 python3 bench/gpu/compare.py .gpu/compare --reps 20 --json "$out/compare.json" ;;
    *) echo "unknown step '$s' (check, webgpu, variants, plans, decode, shapes, flash, wgmma, ncu, kernels, compare)"; exit 2 ;;
  esac
done
