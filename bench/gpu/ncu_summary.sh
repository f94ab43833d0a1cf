#!/usr/bin/env bash
# Nsight Compute summary of the main generated CUDA kernels at one shape (default B=4 T=4096):
# per kernel its time, DRAM throughput, tensor-pipe activity, active warps, registers and L1/TEX
# throughput, one launch each (after the warm-up calls of kernel_times.py). On the GPU machine:
#
#   source .gpu/prelude.sh && bash bench/gpu/ncu_summary.sh [DIR] [BxT]
#
# DIR defaults to .gpu/compare (bench/gpu/prepare-compare.sh). ncu locks the SM clock lower than
# a normal run, so its durations exceed compare.py's.
set -uo pipefail
cd "$(dirname "$0")/../.."
dir=${1:-.gpu/compare}
shape=${2:-4x4096}
metrics=gpu__time_duration.sum,dram__throughput.avg.pct_of_peak_sustained_elapsed,sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active,sm__warps_active.avg.pct_of_peak_sustained_active,launch__registers_per_thread,l1tex__throughput.avg.pct_of_peak_sustained_elapsed
profile() { # spec kernel-regex launches
  timeout 90 ncu --kernel-name "regex:$2" --launch-skip 2 --launch-count "$3" --metrics "$metrics" \
    python3 bench/gpu/kernel_times.py "$dir" --only "$1" --shape "$shape" --reps 1 2>/dev/null |
    grep -E '^  attnc_|gpu__time|dram__|hmma|warps_active|registers|l1tex' || echo "  $1: ncu failed"
}
for s in gated_deltanet deltanet kda gla rwkv6 linear_attention retnet; do profile "$s" "${s}_(chunk|intra)" 2; done
for s in softmax swa_sink; do profile "$s" "${s}_attention" 1; done
