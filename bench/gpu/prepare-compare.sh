#!/usr/bin/env bash
# Compiles the stdlib specs of bench/gpu/compare.py to CUDA (bf16, cuda-sm90) into DIR (default
# .gpu/compare, which ../shared/tools/gpu-carry.sh's .gpu folder carries to the GPU machine), with
# the decode (recurrent) form of Gated DeltaNet under DIR/decode and tile variants of its chunk
# form (--chunk, --tiles) under DIR/variants/NAME, plan-option variants of several specs
# (bench/gpu/compile_variant.ts) under DIR/plans/NAME, and softmax tile variants (query tile × key
# tile) under DIR/softmax-tiles/qQ_kK. All at K = V = 128, H-agnostic.
#
#   bash bench/gpu/prepare-compare.sh [DIR]
#   then on the GPU machine: python3 bench/gpu/compare.py DIR
#   the tile variants alone:  python3 bench/gpu/compare.py DIR --only gated_deltanet --skip-others --variants
#   softmax tiles:            for d in DIR/softmax-tiles/*; do python3 bench/gpu/kernel_times.py $d; done
#   plan variants:            bash bench/gpu/session.sh OUT plans (checked, then timed beside the default)
#   only some plan variants:  PLANS=a,b bash bench/gpu/prepare-compare.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=${1:-.gpu/compare}
rm -rf "$dir" && mkdir -p "$dir"
# Mamba-2 and Lightning have no FLA row in compare.py; they are here for the shapes step (their shape plans).
for s in linear_attention retnet simple_gla gla deltanet gated_deltanet kda softmax swa_sink alibi mamba2 lightning; do
  ./bin/attnc compile "stdlib/$s.attn" --target cuda --out "$dir" > /dev/null
done
# RWKV-6 is declared with K = V = 64; the comparison runs it at 128 like the others.
./bin/attnc compile stdlib/rwkv6.attn --target cuda --dims K=128,V=128 --out "$dir" > /dev/null
./bin/attnc compile stdlib/gated_deltanet.attn --target cuda --form recurrent --out "$dir/decode" > /dev/null
# Tile variants of Gated DeltaNet's chunk form, NAME:CHUNK:BV (the key slice stays the planner's
# choice); the default build above is the profile's chunkPlan, chunk 32 and value tiles of 32
# (`attnc explain stdlib/gated_deltanet.attn --target cuda-sm90` prints the plan).
variants=(c64_bv64:64:64 c64_bv32:64:32 c32_bv16:32:16 c16_bv32:16:32)
for v in "${variants[@]}"; do
  IFS=: read -r name chunk bv <<< "$v"
  ./bin/attnc compile stdlib/gated_deltanet.attn --target cuda --chunk "$chunk" --tiles "BV=$bv" --out "$dir/variants/$name" > /dev/null
done
# Plan-option variants (bench/gpu/compile_variant.ts: PlanOptions attnc compile does not expose)
# under DIR/plans/NAME/SPEC, timed and checked by session.sh's `plans` step: NAME:SPEC:JSON. The
# delta rules' variants measured before cuda-sm90's deltaRegisterState pin "stateRegisters": false.
plans=(
  'retnet_k3c64kt16:retnet:{"outputKernel":true,"chunk":64,"stateKeyTile":16}'
  'retnet_k3c64kt32:retnet:{"outputKernel":true,"chunk":64,"stateKeyTile":32}'
  'simple_gla_k3c64kt32:simple_gla:{"outputKernel":true,"chunk":64,"stateKeyTile":32}'
  'gated_deltanet_ring2:gated_deltanet:{"prefetchDepth":2,"stateRegisters":false}'
  'deltanet_ring2:deltanet:{"prefetchDepth":2,"stateRegisters":false}'
  'kda_ring2:kda:{"prefetchDepth":2,"stateRegisters":false}'
  'gla_ring1:gla:{"prefetchDepth":1}'
  'retnet_one:retnet:{"shapePlans":false}'
  'simple_gla_one:simple_gla:{"shapePlans":false}'
  'mamba2_one:mamba2:{"shapePlans":false}'
  'lightning_one:lightning:{"shapePlans":false}'
  'retnet_half:retnet:{"halfOperands":true,"shapePlans":false}'
  'simple_gla_half:simple_gla:{"halfOperands":true,"shapePlans":false}'
  'gated_deltanet_k3c64h:gated_deltanet:{"outputKernel":true,"chunk":64,"halfOperands":true,"stateRegisters":false}'
  'deltanet_k3c64h:deltanet:{"outputKernel":true,"chunk":64,"halfOperands":true,"stateRegisters":false}'
  'gated_deltanet_bv16:gated_deltanet:{"tiles":{"BV":16},"stateRegisters":false}'
  'deltanet_bv16:deltanet:{"tiles":{"BV":16},"stateRegisters":false}'
  'gated_deltanet_h:gated_deltanet:{"halfOperands":true,"stateRegisters":false}'
  'gated_deltanet_k3h:gated_deltanet:{"outputKernel":true,"halfOperands":true,"stateRegisters":false}'
  'gated_deltanet_k3h_bv16:gated_deltanet:{"outputKernel":true,"halfOperands":true,"tiles":{"BV":16},"stateRegisters":false}'
  'gated_deltanet_k3c64h_ring2:gated_deltanet:{"outputKernel":true,"chunk":64,"halfOperands":true,"prefetchDepth":2,"stateRegisters":false}'
  'gated_deltanet_k3c64h_bv16:gated_deltanet:{"outputKernel":true,"chunk":64,"halfOperands":true,"tiles":{"BV":16},"stateRegisters":false}'
  'gated_deltanet_k3c64h_bv16r2:gated_deltanet:{"outputKernel":true,"chunk":64,"halfOperands":true,"tiles":{"BV":16},"prefetchDepth":2,"stateRegisters":false}'
  # FLA's layout with the state in registers (PlanOptions.stateRegisters): chunks of 64, 16-bit
  # operands, S and the corrected values as tensor-core accumulators, the chunk's loads a chunk ahead
  # (in registers; r2: by cp.async into a ring of 2 slots, asked for even where it costs blocks per
  # SM). Value tiles of 64 spill at 256 threads (128 registers).
  'gated_deltanet_k3c64hr:gated_deltanet:{"outputKernel":true,"chunk":64,"halfOperands":true,"stateRegisters":true}'
  'gated_deltanet_k3c64hr_bv16:gated_deltanet:{"outputKernel":true,"chunk":64,"halfOperands":true,"stateRegisters":true,"tiles":{"BV":16}}'
  'gated_deltanet_k3c64hr_r2:gated_deltanet:{"outputKernel":true,"chunk":64,"halfOperands":true,"stateRegisters":true,"prefetchDepth":2}'
  'gated_deltanet_k3c64hr_bv16r2:gated_deltanet:{"outputKernel":true,"chunk":64,"halfOperands":true,"stateRegisters":true,"tiles":{"BV":16},"prefetchDepth":2}'
  'gated_deltanet_k3c64hr_t128r2:gated_deltanet:{"outputKernel":true,"chunk":64,"halfOperands":true,"stateRegisters":true,"stateThreads":128,"prefetchDepth":2}'
  'gated_deltanet_k3hr:gated_deltanet:{"outputKernel":true,"halfOperands":true,"stateRegisters":true}'
  'gated_deltanet_k3r:gated_deltanet:{"outputKernel":true,"stateRegisters":true}'
  'deltanet_k3c64hr:deltanet:{"outputKernel":true,"chunk":64,"halfOperands":true,"stateRegisters":true}'
  # U and the corrected values in bf16 (PlanOptions.halfValues) on cuda-sm90's delta-rule default.
  'gated_deltanet_hv:gated_deltanet:{"halfValues":true}'
  'deltanet_hv:deltanet:{"halfValues":true}'
  'kda_hv:kda:{"halfValues":true}'
  # Chunks of 64 with U in bf16: value tiles of 32, and of 64 (one block per SM at 256 threads,
  # ptxas: no spill; without halfValues the (256, 2) build spills 12 bytes) — half the re-reads of W and k.
  'gated_deltanet_k3c64hr_r2hv:gated_deltanet:{"outputKernel":true,"chunk":64,"halfOperands":true,"stateRegisters":true,"prefetchDepth":2,"halfValues":true}'
  'gated_deltanet_k3c64hr_bv64r2hv:gated_deltanet:{"outputKernel":true,"chunk":64,"halfOperands":true,"stateRegisters":true,"tiles":{"BV":64},"prefetchDepth":2,"halfValues":true}'
  # The delta rules' plans before cuda-sm90's deltaRegisterState (two kernels for DeltaNet and
  # Gated DeltaNet; KDA's three with the state in shared memory and TF32 operands).
  'gated_deltanet_shared:gated_deltanet:{"stateRegisters":false}'
  'deltanet_shared:deltanet:{"stateRegisters":false}'
  'kda_shared:kda:{"stateRegisters":false}'
  # The additive three-kernel form with key tiles and 16-bit operands: k and v a chunk ahead (ring).
  'retnet_k3c64hkt32:retnet:{"outputKernel":true,"chunk":64,"stateKeyTile":32,"halfOperands":true}'
  'simple_gla_k3c64hkt32:simple_gla:{"outputKernel":true,"chunk":64,"stateKeyTile":32,"halfOperands":true}'
  # The flash kernel with the next key tile's K issued right after the scores (FlashAttention-2's order).
  'softmax_early:softmax:{"earlyKeyLoads":true}'
  'swa_sink_early:swa_sink:{"earlyKeyLoads":true}'
  'alibi_early:alibi:{"earlyKeyLoads":true}'
  # The flash kernel's two matmuls as warpgroup MMA (sm_90a wgmma; PlanOptions.warpgroupMma), at
  # the default tiles (query 128, key 64: 255 registers, no spill) and at query tiles of 64 (one
  # warpgroup row tile: 192 registers at key tiles of 128, 160 at 64).
  'softmax_wg:softmax:{"warpgroupMma":true}'
  'softmax_wg_q64k128:softmax:{"warpgroupMma":true,"chunk":64,"tiles":{"BK":128}}'
  'softmax_wg_q64:softmax:{"warpgroupMma":true,"chunk":64}'
  # Two warpgroups of one row tile each (256 threads): key tiles of 128 at 192 registers, 64 at 156.
  'softmax_wg_t256k128:softmax:{"warpgroupMma":true,"threads":256,"tiles":{"BK":128}}'
  'softmax_wg_t256:softmax:{"warpgroupMma":true,"threads":256}'
  'swa_sink_wg:swa_sink:{"warpgroupMma":true}'
  'swa_sink_wg_q64k128:swa_sink:{"warpgroupMma":true,"chunk":64,"tiles":{"BK":128}}'
  'alibi_wg:alibi:{"warpgroupMma":true}'
  'alibi_wg_q64k128:alibi:{"warpgroupMma":true,"chunk":64,"tiles":{"BK":128}}'
  # The row factors of l2norm(q), l2norm(k) by the prepare kernel again (PlanOptions.intraNorms
  # false: the plan before the intra-chunk kernel computed them), beside the default without it.
  'gated_deltanet_prep:gated_deltanet:{"intraNorms":false}'
  'deltanet_prep:deltanet:{"intraNorms":false}'
  'kda_prep:kda:{"intraNorms":false}'
  'kda_r:kda:{"stateRegisters":true}'
  'kda_hr:kda:{"halfOperands":true,"stateRegisters":true}'
)
# PLANS=a,b builds only those plan variants (and the *_one builds the shapes step times): each
# build is ~0.2 MB, and .gpu must stay within the 64 MiB a device call carries.
built=0
for v in "${plans[@]}"; do
  IFS=: read -r name spec json <<< "$v"
  if [ -n "${PLANS:-}" ] && [[ ",$PLANS," != *",$name,"* ]] && [[ "$name" != *_one ]]; then continue; fi
  node --import tsx bench/gpu/compile_variant.ts "$spec" "$dir/plans/$name" "$json" > /dev/null
  built=$((built + 1))
done
# Decode variants of Gated DeltaNet (the recurrent form) under DIR/decode-variants/NAME, timed and
# checked by session.sh's `decode` step: NAME:JSON. rf128: the register floor of 128 (4 blocks of
# 128 per SM, 102 registers) that cuda-sm90's recurrentRegisterFloor of 88 replaced (77 registers).
# bv32 / bv128: value tiles of 32 (twice the blocks, 17 KB of state each) and 128 (one block per
# head, 66 KB); t256: 256 threads a block.
decodes=('rf128:{"form":"recurrent","registerFloor":128}' 'bv32:{"form":"recurrent","tiles":{"BV":32}}' 'bv128:{"form":"recurrent","tiles":{"BV":128}}' 't256:{"form":"recurrent","threads":256}')
for v in "${decodes[@]}"; do
  IFS=: read -r name json <<< "$v"
  node --import tsx bench/gpu/compile_variant.ts gated_deltanet "$dir/decode-variants/$name" "$json" > /dev/null
done
tiles=(32:32 64:32 64:64 128:32 128:64 32:64)
for t in "${tiles[@]}"; do
  IFS=: read -r bq bk <<< "$t"
  ./bin/attnc compile stdlib/softmax.attn --target cuda --chunk "$bq" --tiles "BK=$bk" --out "$dir/softmax-tiles/q${bq}_k${bk}" > /dev/null
done
# ALiBi with key tiles of 64: without a spill since its relative term is a column term (row-terms.ts).
./bin/attnc compile stdlib/alibi.attn --target cuda --tiles BK=64 --out "$dir/softmax-tiles/alibi_k64" > /dev/null
# The warpgroup-MMA probe (session.sh's `wgmma` step): the layout and descriptors alone.
mkdir -p "$(dirname "$dir")/probe" && node --import tsx bench/gpu/wgmma_probe.ts "$(dirname "$dir")/probe/wgmma_probe.cu" > /dev/null
echo "compiled $(ls "$dir" | grep -vcE '^(decode|decode-variants|variants|plans|softmax-tiles)$') specs, the decode form, ${#decodes[@]} decode variants, ${#variants[@]} tile variants, $built plan variants and ${#tiles[@]} softmax tilings into $dir"
