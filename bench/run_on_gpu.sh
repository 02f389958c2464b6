#!/usr/bin/env bash
# On the GPU machine (device tool): build for the card, run the whole test suite (GPU tests included), then the
# side-by-side benchmarks, ours and PyTorch's in the same run on the same GPU. Results go to $OUT (or ./bench_out).
#   bash bench/run_on_gpu.sh [quick]
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${OUT:-$root/bench_out}"
mkdir -p "$out"
cd "$root"
{
  echo "commit: $(git rev-parse HEAD 2>/dev/null || echo unknown)"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  nvcc --version | tail -1
  python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)"
} | tee "$out/device.txt"

apt_missing=""
for h in /usr/include/stb/stb_image.h /usr/include/jpeglib.h /usr/include/nlohmann/json.hpp; do [ -f "$h" ] || apt_missing=1; done
[ -n "$apt_missing" ] && scripts/setup.sh build

export SGML_BUILD_DIR="$root/build-gpu" SGML_CUDA=ON SGML_CUDA_ARCHITECTURES="${SGML_CUDA_ARCHITECTURES:-90}"
cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DSGML_CUDA=ON -DSGML_CUDA_ARCHITECTURES="$SGML_CUDA_ARCHITECTURES" >/dev/null
cmake --build build-gpu -j "$(nproc)" 2>&1 | tail -3

# GPU tests first (CUDA vs CPU for every op, losses, Adam, search), then everything.
SGML_PYTHON=python3 ./build-gpu/tests/sgml_tests --gtest_filter='*Cuda*:*Gpu*' 2>&1 | tail -40 | tee "$out/gpu_tests.txt"
if [ "${1:-}" != "quick" ]; then
  (cd build-gpu && SGML_PYTHON=python3 ctest --output-on-failure -j 8 2>&1 | tail -30) | tee "$out/ctest.txt"
fi

# Side by side, same GPU, same session.
{
  for p in fp32 tf32 bf16; do python3 bench/torch_sgml_step.py --precision "$p" --json; done
  python3 bench/torch_sgml_step.py --precision bf16 --compile --json || true
  ./build-gpu/sgml bench train --device cuda --json
  ./build-gpu/sgml bench eval --device cuda --json
} 2>&1 | tee "$out/bench.jsonl"
