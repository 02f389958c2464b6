#!/usr/bin/env bash
# On the GPU machine, one lease planned ahead (issue 11). Runs the carried build from bench/pack_for_gpu.sh:
#   bash bench/gpu_session.sh [deadline_seconds] [full|recheck]        (device tool: carry ["gpu_carry"])
# Steps in order of value, each under its own timeout and all under one deadline, so that a slow step cannot eat
# the lease. full: the GPU tests (SGML_REQUIRE_GPU=1: no silent skip), the side-by-side training-step and
# extraction benchmarks (ours vs PyTorch on this card), compute-sanitizer, the search benchmark, the whole suite.
# recheck: after a change, the GPU tests of the ops, precision, losses and training, the side-by-side training-step
# and extraction benchmarks at tf32 and fp32, the op profile, and the sanitizers over the changed kernels (batch norm,
# the float4 ReLU backward, the rank and margin losses, dropout).
# Our binaries use the cuDNN that PyTorch bundles when there is one (the version we compile against); PyTorch runs
# without our library path, on its own libraries.
# Results go to $OUT (at most 8 files come back): device.txt gpu_tests.log gpu_tests.xml bench.log sanitizer.log
# suite.log session.log.
set -uo pipefail
root="$(pwd)"
out="${OUT:-$root/bench_out}"
mkdir -p "$out"
carry="$root/gpu_carry"
deadline=$(( $(date +%s) + ${1:-540} ))
plan="${2:-full}"
exec > >(tee -a "$out/session.log") 2>&1

# step NAME TIMEOUT LOG COMMAND...: runs COMMAND with its output appended to LOG, under min(TIMEOUT, time left).
step() {
  local name="$1" limit="$2" log="$3"; shift 3
  local left=$(( deadline - $(date +%s) ))
  (( limit > left )) && limit=$left
  if (( limit < 15 )); then echo "== $name: skipped, ${left}s left"; return; fi
  echo "== $name (limit ${limit}s, $(date +%T))" | tee -a "$log"
  local t0=$(date +%s)
  timeout -k 5 "$limit" "$@" >> "$log" 2>&1
  local rc=$?
  echo "== $name: rc=$rc in $(( $(date +%s) - t0 ))s" | tee -a "$log"
}

# The carried tests have the build machine's paths compiled in: make them resolve here.
src_dir="$(cat "$carry/source_dir")" bin_dir="$(cat "$carry/binary_dir")"
for pair in "$src_dir:$root" "$bin_dir:$carry"; do
  link="${pair%%:*}" target="${pair#*:}"
  [ "$link" = "$target" ] && continue
  if [ -e "$link" ] && [ ! -L "$link" ]; then echo "$link exists here: the carried tests' paths cannot be mapped"; exit 1; fi
  mkdir -p "$(dirname "$link")" && ln -sfn "$target" "$link"
done

# Libraries: CUDA's own from this machine; from the carried set only what this system lacks.
mkdir -p "$carry/lib_all" "$carry/lib"
tar -C "$carry/lib_all" -xJf "$carry/libs.tar.xz"
find_lib() { find "${@:2}" -name "$1" 2>/dev/null | head -1; }
cudnn="$(find_lib 'libcudnn.so.9' /opt /usr/local/cuda/ /usr/lib)" cublas="$(find_lib 'libcublas.so.13' /usr/local/cuda/ /opt /usr/lib)"
ours_path="$carry/lib:$(dirname "${cudnn:-/x/x}"):$(dirname "${cublas:-/x/x}")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export LD_LIBRARY_PATH="$ours_path"
for _ in 1 2 3 4 5; do
  for name in $(ldd "$carry/sgml" "$carry/tests/sgml_tests" | awk '/not found/ {print $1}' | sort -u); do
    [ -e "$carry/lib_all/$name" ] && ln -sf "../lib_all/$name" "$carry/lib/$name"
  done
done

{
  echo "commit: $(cat "$carry/commit") (carried build of $bin_dir)"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader
  nvcc --version | tail -1
  env -u LD_LIBRARY_PATH python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'cudnn', torch.backends.cudnn.version())"
  echo "cudnn: $cudnn"; echo "cublas: $cublas"
  echo "linked from the carried set: $(ls "$carry/lib" | tr '\n' ' ')"
  ldd "$carry/sgml" "$carry/tests/sgml_tests" | grep -E "not found|cudnn|cublas|openblas" | sort -u
  nproc; free -g | head -2
} 2>&1 | tee "$out/device.txt"

export SGML_PYTHON=python3 SGML_REQUIRE_GPU=1
tests="$carry/tests/sgml_tests"
cd "$carry"
# A build that cannot start here fails in seconds: stop then, keep the lease for a corrected second try.
if ! timeout 60 "$tests" --gtest_filter='CudaDevices.MemoryCountersFollowAllocations' > "$out/gpu_tests.log" 2>&1; then
  cat "$out/gpu_tests.log"; echo "== the carried build does not run on this GPU: stopping"; exit 1
fi

if [ "$plan" = recheck ]; then
  # The kernels a change touches, the trainer, precision and parity; then the side-by-side in order of value
  # (tf32, fp32 training steps; extraction), the op profile, and the sanitizers over the changed kernels.
  step "GPU tests (recheck)" 150 "$out/gpu_tests.log" "$tests" \
    '--gtest_filter=MathPrecision*:RetrievalKnnCuda.RanksInFp32UnderTf32:Ops/OpsCuda.*:CudaConvFallback.*:TrainCuda.*:RankLossCuda.*:MetricLossCuda.*:MarginLossCuda.*:DropoutCuda.*:AdamCuda.*:*OnTheGpu/resnet101:OpProfile.*' \
    "--gtest_output=xml:$out/gpu_tests.xml"
  grep -E "^\[  (FAILED|PASSED|SKIPPED) |relative error|no strict-fp32|no fp32 or TF32|tests ran" "$out/gpu_tests.log" | sort | uniq -c
  b="$out/bench.log"
  torch_step=(env -u LD_LIBRARY_PATH python3 "$root/bench/torch_sgml_step.py" --json)
  step "sgml train tf32" 60 "$b" ./sgml bench train --device cuda --json --warmup 3 --steps 10 --precision tf32
  step "torch train tf32" 45 "$b" "${torch_step[@]}" --what train --precision tf32 --warmup 5 --steps 15
  step "sgml train fp32" 60 "$b" ./sgml bench train --device cuda --json --warmup 3 --steps 10
  step "torch train fp32" 45 "$b" "${torch_step[@]}" --what train --precision fp32 --warmup 5 --steps 15
  step "sgml eval tf32" 40 "$b" ./sgml bench eval --device cuda --json --warmup 2 --steps 10 --precision tf32
  step "torch eval tf32" 40 "$b" "${torch_step[@]}" --what eval --precision tf32 --warmup 3 --steps 15
  step "sgml eval fp32" 40 "$b" ./sgml bench eval --device cuda --json --warmup 2 --steps 10
  step "torch eval fp32" 40 "$b" "${torch_step[@]}" --what eval --precision fp32 --warmup 3 --steps 15
  step "sgml train tf32 + profile" 50 "$b" ./sgml bench train --device cuda --json --warmup 3 --steps 5 --precision tf32 --profile
  step "sgml train fp32 + profile" 50 "$b" ./sgml bench train --device cuda --json --warmup 3 --steps 5 --profile
  s="$out/sanitizer.log"
  sanitize=(compute-sanitizer --error-exitcode 9 --print-limit 20)
  step "memcheck" 60 "$s" "${sanitize[@]}" --tool memcheck "$tests" "--gtest_filter=Ops/OpsCuda.*batch_norm*:Ops/OpsCuda.*relu*:RankLossCuda.*:MarginLossCuda.*:DropoutCuda.*"
  step "racecheck" 40 "$s" "${sanitize[@]}" --tool racecheck "$tests" "--gtest_filter=Ops/OpsCuda.*batch_norm*:RankLossCuda.*"
  grep -E "ERROR SUMMARY|RACECHECK SUMMARY|^== " "$s"
  # PyTorch's best includes torch.compile (its compilation takes minutes: last, under the deadline).
  step "torch train tf32 compile" 170 "$b" "${torch_step[@]}" --what train --precision tf32 --compile --warmup 5 --steps 15
  step "torch eval tf32 compile" 100 "$b" "${torch_step[@]}" --what eval --precision tf32 --compile --warmup 3 --steps 15
  grep -E '^\{' "$b"
  echo "== done, $(( deadline - $(date +%s) ))s before the deadline"
  exit 0
fi

step "GPU tests" 240 "$out/gpu_tests.log" "$tests" '--gtest_filter=*Cuda*:*Gpu*:*Device*:ResNetParity*' \
  "--gtest_output=xml:$out/gpu_tests.xml"
grep -E "^\[  (FAILED|PASSED|SKIPPED) |relative error|no strict-fp32|tests ran" "$out/gpu_tests.log" | sort | uniq -c | head -60

b="$out/bench.log"
# Arrays, not functions: timeout cannot run a shell function.
torch_step=(env -u LD_LIBRARY_PATH python3 "$root/bench/torch_sgml_step.py" --json)
step "sgml train fp32" 120 "$b" ./sgml bench train --device cuda --json --warmup 3 --steps 10
step "torch train fp32" 60 "$b" "${torch_step[@]}" --what train --precision fp32 --warmup 5 --steps 20
step "torch train tf32" 60 "$b" "${torch_step[@]}" --what train --precision tf32 --warmup 5 --steps 20
step "torch train bf16" 60 "$b" "${torch_step[@]}" --what train --precision bf16 --warmup 5 --steps 20
step "sgml eval fp32" 60 "$b" ./sgml bench eval --device cuda --json --warmup 2 --steps 10
step "torch eval fp32" 45 "$b" "${torch_step[@]}" --what eval --precision fp32 --warmup 3 --steps 20
step "torch eval tf32" 45 "$b" "${torch_step[@]}" --what eval --precision tf32 --warmup 3 --steps 20
step "torch eval bf16" 45 "$b" "${torch_step[@]}" --what eval --precision bf16 --warmup 3 --steps 20
grep -E '^\{' "$b"

s="$out/sanitizer.log"
kernels='Ops/OpsCuda.*:MetricLossCuda.*:BceCuda.*:AdamCuda.*:RetrievalKnnCuda.*:RetrievalKMeansCuda.*'
sanitize=(compute-sanitizer --error-exitcode 9 --print-limit 20)
step "memcheck" 150 "$s" "${sanitize[@]}" --tool memcheck "$tests" "--gtest_filter=$kernels"
step "racecheck" 90 "$s" "${sanitize[@]}" --tool racecheck "$tests" "--gtest_filter=MetricLossCuda.*:BceCuda.*:RetrievalKnnCuda.*:RetrievalKMeansCuda.*:Ops/OpsCuda.*batch_norm*:Ops/OpsCuda.*pool*"
step "initcheck" 90 "$s" "${sanitize[@]}" --tool initcheck "$tests" "--gtest_filter=$kernels"
step "synccheck" 60 "$s" "${sanitize[@]}" --tool synccheck "$tests" "--gtest_filter=MetricLossCuda.*:BceCuda.*:RetrievalKnnCuda.*:Ops/OpsCuda.*batch_norm*"
grep -E "ERROR SUMMARY|^== " "$s"

step "search bench" 60 "$b" ./bench/search_bench cuda 3 all
# CliWrapper runs the repository's ./sgml wrapper, which rebuilds a stale build: the carried one has no CMake cache.
# GpuOnCpu.*: the GPU tests with the CPU standing in, which CI runs; here they would only cost device time.
step "whole suite" 150 "$out/suite.log" ctest --test-dir "$carry" -j 16 --timeout 120 -E 'CliWrapper|^GpuOnCpu\.'
grep -E "tests passed|tests failed|\*\*\*|Failed|Timeout" "$out/suite.log" | head -30
step "torch train bf16 compile" 150 "$b" "${torch_step[@]}" --what train --precision bf16 --compile --warmup 5 --steps 20
grep -E '^\{' "$b"
echo "== done, $(( deadline - $(date +%s) ))s before the deadline"
