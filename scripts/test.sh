#!/usr/bin/env bash
# The whole test suite from a fresh clone: installs what is missing, builds everything, runs ctest.
# GPU tests skip cleanly on a machine without a GPU. Extra arguments go to ctest (e.g. -R OpsVsTorch).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${SGML_BUILD_DIR:-$root/build}"
"$root/scripts/setup.sh" test
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSGML_CUDA="${SGML_CUDA:-AUTO}" \
  -DSGML_CUDA_ARCHITECTURES="${SGML_CUDA_ARCHITECTURES:-80;90}" >/dev/null
cmake --build "$build" -j "$(nproc)"
cd "$build"
ctest --output-on-failure -j "$(nproc)" "$@"
