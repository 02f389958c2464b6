#!/usr/bin/env bash
# Runs the GPU tests' own logic on a machine without a GPU, before a rare GPU lease spends device time on them.
#
# In a throw-away worktree of HEAD (uncommitted changes are not in it), the tests are patched so that
# SGML_SKIP_WITHOUT_GPU skips nothing, Device::cuda() is the CPU, `--device cuda` means the CPU and the tests'
# `ASSERT_TRUE(x.is_cuda())` lines are dropped; then a CPU build runs every GPU test. Each "GPU" result is then a
# CPU result, so a comparison with the CPU twin checks nothing about CUDA: what can fail is the test around it (a
# state loaded into an optimiser without its groups, a shape or an argument the API refuses, a check that cannot
# hold), which on the GPU machine would cost a lease to find. Tests about CUDA itself are left out (they cannot hold
# on the CPU): TF32's error (MathPrecisionCuda.Tf32ProductsCarry...) and failed CUDA library calls (OpsCudaErrors).
#
# usage: scripts/dry_run_gpu_tests.sh [WORKTREE_DIR]   (default /tmp/sgml_gpu_dry_run; about 10 minutes on 2 cores)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
dir=$(realpath -m "${1:-/tmp/sgml_gpu_dry_run}")
python=/usr/bin/python3

git -C "$repo" worktree prune
if [ -e "$dir" ]; then
  # Only a worktree of this repository is replaced: any other folder is the user's.
  if git -C "$repo" worktree list --porcelain | grep -qxF "worktree $dir"; then
    git -C "$repo" worktree remove --force "$dir"
  else
    echo "dry_run_gpu_tests.sh: '$dir' exists and is not a worktree of this repository: remove it or name another" \
      "folder" >&2
    exit 2
  fi
fi
git -C "$repo" worktree add --detach --force "$dir" HEAD >/dev/null
echo "dry run of the GPU tests at $(git -C "$dir" log --oneline -1) in $dir"

"$python" - "$dir" <<'EOF'
import glob, re, sys
root = sys.argv[1]

def patch(path, old, new, regex=False):
    text = open(path).read()
    patched = re.sub(old, new, text) if regex else text.replace(old, new)
    if patched == text:
        sys.exit(f"dry_run_gpu_tests.sh: {path} no longer holds what the script patches ({old!r}): update the script")
    open(path, "w").write(patched)

patch(f"{root}/tests/support/test_support.h", r"#define SGML_SKIP_WITHOUT_GPU\(\)[^\n]*\\\n(?:[^\n]*\\\n)*[^\n]*",
      "#define SGML_SKIP_WITHOUT_GPU() do {} while (0)", regex=True)
patch(f"{root}/engine/device.h", "static Device cuda(int index = 0) { return {DeviceType::CUDA, index}; }",
      "static Device cuda(int index = 0) { (void)index; return {DeviceType::CPU, 0}; }")
patch(f"{root}/engine/device.cpp",
      """if (!problem.empty()) SGML_FAIL("device '", text, "' cannot be used: ", problem, " (use --device cpu)");""",
      "(void)problem;")
for path in glob.glob(f"{root}/tests/*.cpp"):
    text = open(path).read()
    if "is_cuda())" in text:
        open(path, "w").write(re.sub(r"ASSERT_TRUE\([\w.]+\.is_cuda\(\)\)( << \w+)?;", "(void)0;", text))
EOF

cmake -S "$dir" -B "$dir/build" -DCMAKE_BUILD_TYPE=Release -DSGML_CUDA=OFF >/dev/null
cmake --build "$dir/build" -j "$(nproc)" --target sgml sgml_tests >/dev/null
cd "$dir/build"
filter='*Cuda*:*Gpu*-GpuSkip.*:DeviceParse.*:OpsCudaErrors.*:MathPrecisionCuda.Tf32ProductsCarryTf32ErrorAndFp32ProductsDoNot'
status=0
./tests/sgml_tests --gtest_filter="$filter" --gtest_brief=1 || status=$?
echo "dry run: exit $status (worktree $dir; remove it with: git -C $repo worktree remove --force $dir)"
exit $status
