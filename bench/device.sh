#!/usr/bin/env bash
# On the borrowed NVIDIA machine: CUDA parity of every kernel in the test suite's parity list
# (bench/device-check.mjs), the fused LoRA linear benchmark on CUDA at full CT-CLIP shapes, and
# PyTorch running PEFT's unfused LoRA at the same shapes, timed the same way. Under 5 minutes.
#
# How to run it (the device tool), after building dist/ on the development machine:
#   npx tsc -p tsconfig.json
#   run  carry: ["dist", "node_modules/koffi", "node_modules/@koromix"]
#        command: "bash bench/device.sh"   timeout_s: 300
# That machine is offline and gets the git working tree plus the carried paths (<= 64 MiB): no
# node_modules, no npm, no vitest. Everything here runs from dist/ and koffi (its native binary is
# node_modules/@koromix/koffi-linux-x64: ~4 MiB with koffi itself). It has node 20, an NVIDIA
# driver, NVRTC (CUDA toolkit, or pip's nvidia-cuda-nvrtc wheel next to torch), python3 + torch.
#
# Every step has a timeout (they sum to 260 s); a failing step is reported and the next one runs;
# the exit status is 1 if any step failed. Outputs also go to $OUT (the device tool's folder) when set.
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-$(mktemp -d)}"
mkdir -p "$out"
failed=""

# step NAME TIMEOUT_S LOGFILE CMD...: runs CMD under a timeout, output to the terminal and $out/LOGFILE.
step() {
  local name=$1 limit=$2 log=$3; shift 3
  echo "== $name (timeout ${limit}s)"
  timeout "$limit" "$@" 2>&1 | tee "$out/$log"
  local rc=${PIPESTATUS[0]}
  if [ "$rc" -ne 0 ]; then
    [ "$rc" -eq 124 ] && echo "!! $name: timed out after ${limit}s" || echo "!! $name: failed (exit $rc)"
    failed="$failed $name"
  fi
  return 0
}

# Fail fast where there is nothing to measure.
echo "== device"
if ! command -v nvidia-smi >/dev/null 2>&1 || ! timeout 10 nvidia-smi -L; then
  echo "device.sh: no NVIDIA GPU visible (nvidia-smi missing or failing): this script needs the GPU machine" >&2
  exit 1
fi
for p in dist/runtime/device/cuda/device.js node_modules/koffi node_modules/@koromix; do
  if [ ! -e "$p" ]; then
    echo "device.sh: $p is missing: build dist/ with \`npx tsc -p tsconfig.json\` and carry dist, node_modules/koffi, node_modules/@koromix" >&2
    exit 1
  fi
done
node --version

# NVRTC: the toolkit next to nvcc first (it matches the machine's driver best), then pip's
# nvidia-cuda-nvrtc wheel (torch depends on it), then the loader cache.
# runtime/device/cuda/driver.ts takes an explicit library through MEDCTC_LIBNVRTC.
if [ -z "${CUDA_HOME:-}" ] && command -v nvcc >/dev/null 2>&1; then export CUDA_HOME="$(dirname "$(dirname "$(readlink -f "$(command -v nvcc)")")")"; fi
newest() { ls "$@" 2>/dev/null | grep -v builtins | sort -V | tail -1; }
if [ -z "${MEDCTC_LIBNVRTC:-}" ]; then
  nvrtc=""
  [ -n "${CUDA_HOME:-}" ] && nvrtc=$(newest "$CUDA_HOME"/lib64/libnvrtc.so* "$CUDA_HOME"/targets/*/lib/libnvrtc.so*)
  if [ -z "$nvrtc" ]; then
    for d in $(timeout 10 python3 - 2>/dev/null <<'PY'
import importlib, os
for mod in ('nvidia.cuda_nvrtc', 'nvidia.cu13', 'nvidia'):
    try:
        m = importlib.import_module(mod)
    except Exception:
        continue
    for p in getattr(m, '__path__', []):
        for sub in ('lib', 'cuda_nvrtc/lib', 'cu13/lib'):
            if os.path.isdir(os.path.join(p, sub)):
                print(os.path.join(p, sub))
PY
    ); do
      nvrtc=$(newest "$d"/libnvrtc.so*)
      [ -n "$nvrtc" ] && break
    done
  fi
  [ -z "$nvrtc" ] && nvrtc=$(ldconfig -p 2>/dev/null | awk '/libnvrtc\.so/ && !/builtins/ {print $NF}' | sort -V | tail -1)
  if [ -n "$nvrtc" ]; then export MEDCTC_LIBNVRTC="$nvrtc"; fi
fi
echo "NVRTC: ${MEDCTC_LIBNVRTC:-search of ${CUDA_HOME:-/usr/local/cuda} and the usual library folders}"

step "CUDA parity (test/kernels/specs.ts vs the CPU reference)" 80 device-check.txt node bench/device-check.mjs
step "medctc fused LoRA linear on CUDA (full CT-CLIP shapes)" 100 medctc.txt node bench/lora-linear/bench.mjs --backend cuda --reps 10 --iters 8
step "PyTorch unfused LoRA (f32, TF32 off)" 55 torch.txt python3 bench/lora-linear/torch_lora.py --reps 10 --iters 8
if grep -q '^{' "$out/medctc.txt" 2>/dev/null && grep -q '^{' "$out/torch.txt" 2>/dev/null; then
  step "medctc fused vs PyTorch" 5 compare.txt node -e '
    const fs = require("fs");
    const lines = (f) => fs.readFileSync(f, "utf8").split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
    const m = lines(process.argv[1]), t = lines(process.argv[2]);
    const r = (a, b) => (a / b).toPrecision(3);
    console.log("Both timed as host wall clock over 8 dispatches + one synchronize, median of 10 rounds (ms).");
    console.log("| shape | r | medctc fused fwd | torch unfused fwd | torch/medctc | medctc fused bwd | torch unfused bwd | torch/medctc | medctc base fwd | torch base fwd | medctc base bwd | torch base bwd |");
    console.log("|---|---|---|---|---|---|---|---|---|---|---|---|");
    let n = 0;
    for (const a of m) {
      const b = t.find((x) => x.shape === a.shape && x.r === a.r);
      if (!b) continue;
      n++;
      console.log(`| ${a.shape} | ${a.r} | ${a.fused_fwd_ms} | ${b.torch_unfused_fwd_ms} | ${r(b.torch_unfused_fwd_ms, a.fused_fwd_ms)} | ${a.fused_bwd_ms} | ${b.torch_unfused_bwd_ms} | ${r(b.torch_unfused_bwd_ms, a.fused_bwd_ms)} | ${a.base_fwd_ms} | ${b.torch_base_fwd_ms} | ${a.base_bwd_ms} | ${b.torch_base_bwd_ms} |`);
    }
    if (!n) { console.error("no (shape, rank) measured by both"); process.exit(1); }' "$out/medctc.txt" "$out/torch.txt"
else
  echo "!! comparison skipped: medctc or PyTorch produced no measurements"
  failed="$failed comparison"
fi

echo "== outputs in $out"
if [ -n "$failed" ]; then echo "device.sh: failed steps:$failed"; exit 1; fi
echo "device.sh: all steps passed"
