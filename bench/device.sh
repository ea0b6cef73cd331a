#!/usr/bin/env bash
# On an NVIDIA machine: build, run the CUDA tests, benchmark the fused LoRA linear on CUDA, and
# compare with PyTorch running PEFT's unfused LoRA at the same shapes. Under 5 minutes.
# Needs: node 20 + node_modules (npm ci), nvcc or libnvrtc, python3 with torch (for the comparison).
# Usage, from the repository root: bash bench/device.sh
set -euo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-$(mktemp -d)}"
echo "== device"; nvidia-smi -L || { echo "no NVIDIA GPU visible (nvidia-smi failed)"; exit 1; }
[ -d node_modules ] || npm ci --no-audit --no-fund
echo "== build"; npx tsc -p tsconfig.json
echo "== tests: CUDA parity, device layer, nvcc compile"
timeout 120 npx vitest run test/kernels/cuda-parity.test.ts test/device test/kernels/nvcc.test.ts 2>&1 | tail -25
echo "== medctc CUDA benchmark (full CT-CLIP shapes)"
timeout 150 node bench/lora-linear/bench.mjs --backend cuda --reps 10 | tee "$out/medctc.txt"
if python3 -c 'import torch; assert torch.cuda.is_available()' 2>/dev/null; then
  echo "== PyTorch unfused LoRA (f32, TF32 off)"
  timeout 60 python3 bench/lora-linear/torch_lora.py --reps 10 | tee "$out/torch.txt"
  echo "== medctc fused vs PyTorch"
  node -e '
    const fs = require("fs");
    const lines = (f) => fs.readFileSync(f, "utf8").split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
    const m = lines(process.argv[1]), t = lines(process.argv[2]);
    console.log("| shape | r | medctc fused fwd ms | torch unfused fwd ms | torch/medctc | medctc fused bwd ms | torch unfused bwd ms | torch/medctc | medctc base fwd ms | torch base fwd ms |");
    console.log("|---|---|---|---|---|---|---|---|---|---|");
    for (const a of m) {
      const b = t.find((x) => x.shape === a.shape && x.r === a.r);
      if (!b) continue;
      console.log(`| ${a.shape} | ${a.r} | ${a.fused_fwd_ms} | ${b.torch_unfused_fwd_ms} | ${(b.torch_unfused_fwd_ms / a.fused_fwd_ms).toFixed(2)} | ${a.fused_bwd_ms} | ${b.torch_unfused_bwd_ms} | ${(b.torch_unfused_bwd_ms / a.fused_bwd_ms).toFixed(2)} | ${a.base_fwd_ms} | ${b.torch_base_fwd_ms} |`);
    }' "$out/medctc.txt" "$out/torch.txt"
else
  echo "PyTorch with CUDA not found: skipping the comparison"
fi
