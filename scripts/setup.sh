#!/usr/bin/env bash
# The README's first command: install everything attnc needs, build it, and run the main job
# (compile a standard-library spec and run it on the default WebGPU adapter, checking it against
# the float64 reference interpreter).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup-system.sh          # Vulkan driver for WebGPU (Mesa lavapipe >= 25 on Debian 12)
npm ci --no-audit --no-fund
npm run build

echo
echo "main job: check the standard library, then compile Gated DeltaNet and run it on the default"
echo "WebGPU adapter, comparing with the float64 reference interpreter"
./bin/attnc check stdlib/
./bin/attnc run stdlib/gated_deltanet.attn --backend webgpu --check --shape B=2,T=256,H=4
