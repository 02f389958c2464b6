#!/usr/bin/env bash
# Here (no GPU): packs a CUDA build for one lease of the GPU machine, so that no device minute goes to compiling.
#   bash bench/pack_for_gpu.sh BUILD_DIR      (a build with CUDA, for sm_90 among its architectures)
# Writes gpu_carry/ in the repository root (ignored by git; name it in the device tool's `carry`):
#   sgml, tests/sgml_tests, bench/*_bench and the CTest files, laid out as in the build tree;
#   libs.tar.xz: every shared library the binaries need except glibc's, libstdc++/libgcc and CUDA's own (cuBLAS,
#   cuDNN), which the GPU machine has. bench/gpu_session.sh links in only those its system lacks.
#   commit: the tree the build came from; source_dir, binary_dir: the absolute paths compiled into the tests (SGML_SOURCE_DIR, SGML_BINARY_DIR).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$(cd "${1:?usage: pack_for_gpu.sh BUILD_DIR}" && pwd)"
ldd "$build/sgml" | grep -q libcudnn || { echo "$build/sgml is not a CUDA build (configure with -DSGML_CUDA=ON)" >&2; exit 1; }
carry="$root/gpu_carry"
rm -rf "$carry" && mkdir -p "$carry/tests" "$carry/bench" "$carry/libs"
cp "$build/sgml" "$carry/"
cp "$build/tests/sgml_tests" "$build"/tests/*.cmake "$carry/tests/"
cp "$build/CTestTestfile.cmake" "$carry/"
cp "$build"/bench/*_bench "$carry/bench/" 2>/dev/null || true
sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$build/CMakeCache.txt" > "$carry/source_dir"
echo "$build" > "$carry/binary_dir"
git -C "$root" describe --always --dirty > "$carry/commit"
ldd "$carry/sgml" "$carry/tests/sgml_tests" | awk '/=>/ && $3 ~ /^\// {print $1, $3}' | sort -u |
  grep -v -E '^(libc|libm|libdl|libpthread|librt|libresolv|libstdc\+\+|libgcc_s|libcublas|libcublasLt|libcudnn[a-z_]*)\.' |
  while read -r name path; do cp -L "$path" "$carry/libs/$name"; done
tar -C "$carry/libs" -cJf "$carry/libs.tar.xz" . && rm -rf "$carry/libs"
grep -qx '/gpu_carry/' "$root/.git/info/exclude" 2>/dev/null || echo '/gpu_carry/' >> "$root/.git/info/exclude"
du -sh "$carry"
