#!/usr/bin/env bash
# The suite under several oneDNN instruction sets and thread counts, to show that no test depends on the CPU it runs
# on.
#
# oneDNN (the CPU convolutions and matrix products) JIT-compiles its kernels for the best instruction set it finds
# (AVX-512 or AVX2: blocks of 16 or 8 channels, other summation orders), and the rounding changes with the kernel,
# the matrix shape and the thread count. CI runs on whichever machine it gets (AMD or Intel), so every test must pass
# with any kernel: this script builds once, then runs ctest with oneDNN capped at each instruction set in turn
# (ONEDNN_MAX_CPU_ISA; a cap above what the CPU has changes nothing, and the script says which ISA oneDNN reports)
# and with 1 and 2 threads for our OpenMP loops and oneDNN. Not part of CI (four suite runs); run it by hand after a
# change to numerics and record the result in the closing note.
#
#   scripts/test_cpu_variants.sh                        # AVX2 and AVX512_CORE, 1 and 2 threads, whole suite
#   SGML_CPU_ISAS="AVX2" SGML_THREAD_COUNTS=1 scripts/test_cpu_variants.sh -R Retrieval
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${SGML_BUILD_DIR:-$root/build}"
isas="${SGML_CPU_ISAS:-AVX2 AVX512_CORE}"
thread_counts="${SGML_THREAD_COUNTS:-1 2}"

"$root/scripts/setup.sh" test
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSGML_CUDA="${SGML_CUDA:-AUTO}" \
  -DSGML_CUDA_ARCHITECTURES="${SGML_CUDA_ARCHITECTURES:-80;90}" >/dev/null
cmake --build "$build" -j "$(nproc)"

# A few lines that ask oneDNN which instruction set it uses under the cap.
probe="$build/onednn_isa"
printf '#include <oneapi/dnnl/dnnl.h>\n#include <stdio.h>\nint main(void){printf("%%d\\n",(int)dnnl_get_effective_cpu_isa());return 0;}\n' |
  cc -x c - -o "$probe" -ldnnl

failed=0
summary=""
for isa in $isas; do
  for threads in $thread_counts; do
    used="$(ONEDNN_MAX_CPU_ISA="$isa" "$probe")"
    echo "=== ONEDNN_MAX_CPU_ISA=$isa (oneDNN's effective ISA code: $used, dnnl_cpu_isa_t), $threads thread(s)"
    if (cd "$build" && ONEDNN_MAX_CPU_ISA="$isa" OMP_NUM_THREADS="$threads" \
          ctest --output-on-failure -j "$(nproc)" "$@" 2>&1 | tail -n 25); then
      line="oneDNN up to $isa ($used), $threads thread(s): passed"
    else
      line="oneDNN up to $isa ($used), $threads thread(s): FAILED"
      failed=1
    fi
    summary+="$line"$'\n'
  done
done
echo "=== summary"
printf '%s' "$summary"
exit "$failed"
