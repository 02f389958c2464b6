#!/usr/bin/env bash
# The suite under several OpenBLAS kernels, oneDNN instruction sets and thread counts, to show that no test depends on
# the CPU it runs on.
#
# OpenBLAS (Debian's build selects its kernel at run time) rounds differently with each kernel, matrix shape and
# thread count, and CI runs on whichever machine it gets (AMD or Intel). oneDNN (the CPU convolutions) likewise JIT-
# compiles kernels for the best instruction set it finds (AVX-512 or AVX2 blocks of 16 or 8 channels). Every test must
# therefore pass with any kernel: this script builds once, then runs ctest with OPENBLAS_CORETYPE set to each kernel in
# turn, oneDNN capped at that kernel's instruction set (ONEDNN_MAX_CPU_ISA: AVX2 for Haswell and Zen, AVX512_CORE for
# SkylakeX; a cap above what the CPU has changes nothing), and with 1 and 2
# threads for both OpenBLAS and our OpenMP loops, and prints the kernel OpenBLAS really used (an unknown or
# unsupported name silently falls back to the detected one). Not part of CI (four suite runs); run it by hand after a
# change to numerics and record the result in the closing note.
#
#   scripts/test_cpu_variants.sh                        # Haswell and SkylakeX (or Zen), 1 and 2 threads, whole suite
#   SGML_BLAS_KERNELS="Zen Haswell" SGML_THREAD_COUNTS=1 scripts/test_cpu_variants.sh -R Retrieval
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${SGML_BUILD_DIR:-$root/build}"
kernels="${SGML_BLAS_KERNELS:-Haswell SkylakeX}"
thread_counts="${SGML_THREAD_COUNTS:-1 2}"

"$root/scripts/setup.sh" test
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSGML_CUDA="${SGML_CUDA:-AUTO}" \
  -DSGML_CUDA_ARCHITECTURES="${SGML_CUDA_ARCHITECTURES:-80;90}" >/dev/null
cmake --build "$build" -j "$(nproc)"

# A two-line program that asks OpenBLAS which kernel it chose.
probe="$build/openblas_corename"
printf 'const char* openblas_get_corename(void);\n#include <stdio.h>\nint main(void){puts(openblas_get_corename());return 0;}\n' |
  cc -x c - -o "$probe" -lopenblas

failed=0
summary=""
for kernel in $kernels; do
  for threads in $thread_counts; do
    used="$(OPENBLAS_CORETYPE="$kernel" "$probe")"
    case "$kernel" in SkylakeX|Cooperlake|SapphireRapids) isa=AVX512_CORE ;; *) isa=AVX2 ;; esac
    echo "=== OPENBLAS_CORETYPE=$kernel (OpenBLAS uses: $used), ONEDNN_MAX_CPU_ISA=$isa, $threads thread(s)"
    if (cd "$build" && OPENBLAS_CORETYPE="$kernel" ONEDNN_MAX_CPU_ISA="$isa" OPENBLAS_NUM_THREADS="$threads" \
          OMP_NUM_THREADS="$threads" ctest --output-on-failure -j "$(nproc)" "$@" 2>&1 | tail -n 25); then
      line="$kernel ($used), oneDNN up to $isa, $threads thread(s): passed"
    else
      line="$kernel ($used), oneDNN up to $isa, $threads thread(s): FAILED"
      failed=1
    fi
    summary+="$line"$'\n'
  done
done
echo "=== summary"
printf '%s' "$summary"
exit "$failed"
