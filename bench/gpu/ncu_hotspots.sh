#!/usr/bin/env bash
# Where one generated CUDA kernel spends its time (Nsight Compute, one launch after the warm-up
# calls of kernel_times.py): speed of light, occupancy, warp states and scheduler statistics, then
# the CUDA source lines (the loaders build with -lineinfo) with the most stall samples and the
# stall reasons of each. On the GPU machine:
#
#   source .gpu/prelude.sh && bash bench/gpu/ncu_hotspots.sh OUT DIR SPEC KERNEL_REGEX [BxT] [TOP]
#
# e.g. bash bench/gpu/ncu_hotspots.sh $OUT .gpu/compare/plans/gated_deltanet_k3c64hr gated_deltanet
# gated_deltanet_intra. Writes OUT/NAME.ncu-rep (NAME: the regex's word characters) and
# OUT/NAME.source.csv and prints the summary. ncu locks the SM clock lower than a normal run, so
# its durations exceed kernel_times.py's.
set -uo pipefail
cd "$(dirname "$0")/../.."
out=${1:?usage: ncu_hotspots.sh OUT DIR SPEC KERNEL_REGEX [BxT] [TOP]}
dir=$2 spec=$3 regex=$4 shape=${5:-4x4096} top=${6:-25}
name=$(echo "$regex" | tr -c 'A-Za-z0-9_\n' _)
mkdir -p "$out"
timeout 240 ncu --kernel-name "regex:$regex" --launch-skip 2 --launch-count 1 \
  --section SpeedOfLight --section Occupancy --section LaunchStats --section WarpStateStats \
  --section SchedulerStats --section MemoryWorkloadAnalysis --section SourceCounters \
  --import-source yes -f -o "$out/$name" \
  python3 bench/gpu/kernel_times.py "$dir" --only "$spec" --shape "$shape" --reps 1 > "$out/$name.log" 2>&1 \
  || { echo "ncu failed for $regex:"; tail -5 "$out/$name.log"; exit 1; }
ncu --import "$out/$name.ncu-rep" --print-details all 2>/dev/null |
  grep -vE '^\s*(-{5,}|Section:)' | grep -E 'Duration|Throughput|Registers|Achieved Occupancy|Theoretical Occupancy|Block Limit|Eligible|Issued Warp|No Eligible|Active Warps|Warp Cycles|Shared Memory Configuration|Dynamic Shared|Waves|attnc_|Executed Ipc|L1/TEX Hit|Bank' | sed 's/^ *//'
ncu --import "$out/$name.ncu-rep" --page source --print-source cuda --csv > "$out/$name.source.csv" 2>/dev/null
python3 - "$out/$name.source.csv" "$top" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline='')))
hdr_i = next((i for i, r in enumerate(rows) if any('Warp Stall Sampling (All' in c for c in r)), None)
if hdr_i is None:
    print('no source counters in', sys.argv[1]); sys.exit(0)
hdr = rows[hdr_i]
col = lambda pat: next(i for i, c in enumerate(hdr) if pat in c)
src, samp = col('Source'), col('Warp Stall Sampling (All')
stall_cols = [(i, c) for i, c in enumerate(hdr) if c.startswith('stall_') or c.startswith('smsp__pcsamp_warps_issue_stalled_')]
lines = []
for r in rows[hdr_i + 1:]:
    try:
        n = float(r[samp] or 0)
    except (ValueError, IndexError):
        continue
    if n > 0:
        lines.append((n, r))
total = sum(n for n, _ in lines) or 1
print(f'\nCUDA lines by stall samples (of {total:.0f}):')
for n, r in sorted(lines, key=lambda t: -t[0])[:int(sys.argv[2])]:
    why = sorted(((float(r[i] or 0), c.replace('smsp__pcsamp_warps_issue_stalled_', '')) for i, c in stall_cols if (r[i] or '0').replace('.', '', 1).isdigit()), reverse=True)[:3]
    print(f'{100 * n / total:5.1f} %  {r[0]:>5}  {r[src].strip()[:110]}   [{", ".join(f"{c} {v:.0f}" for v, c in why if v > 0)}]')
PY
