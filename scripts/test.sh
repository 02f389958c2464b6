#!/usr/bin/env bash
# The whole test suite from a fresh clone: installs what is missing, builds everything, runs ctest.
# GPU tests skip cleanly on a machine without a GPU. Extra arguments go to ctest (e.g. -R OpsVsTorch).
#
#   scripts/test.sh --sanitize [ctest args]
#     The suite under AddressSanitizer + UndefinedBehaviorSanitizer (CPU only, build folder build-sanitize/, or
#     $SGML_BUILD_DIR). Every report fails the run: UBSan does not recover, ASan halts at the first error, and
#     LeakSanitizer checks every process at exit (scripts/lsan.supp holds the suppressions, each with its reason).
#     ASan and LSan reports go to build-sanitize/sanitizer_logs/, so that a report from a child process (the tests
#     run the sgml program) fails the run even when the test only looked at the exit status; they are printed at the
#     end. (UBSan, built into the ASan runtime, writes to stderr whatever log_path says: its report ends the process
#     with status 86, which every test that runs the program checks, and is shown with the failing test's output.)
#     $SGML_SANITIZE_EXCLUDE: a ctest -E regex of tests left out of the sanitized run (default: none).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

sanitize=0
ctest_args=()
for arg in "$@"; do
  if [ "$arg" = "--sanitize" ]; then sanitize=1; else ctest_args+=("$arg"); fi
done

"$root/scripts/setup.sh" test
# setup.sh installed the references' interpreter modules (torch, torchvision, scipy): a test that finds one missing
# fails rather than skips (tests/support/test_support.h).
export SGML_REQUIRE_REFERENCE="${SGML_REQUIRE_REFERENCE:-1}"

if [ "$sanitize" = 0 ]; then
  build="${SGML_BUILD_DIR:-$root/build}"
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSGML_CUDA="${SGML_CUDA:-AUTO}" \
    -DSGML_CUDA_ARCHITECTURES="${SGML_CUDA_ARCHITECTURES:-80;90}" >/dev/null
  cmake --build "$build" -j "$(nproc)"
  cd "$build"
  exec ctest --output-on-failure -j "$(nproc)" ${ctest_args[@]+"${ctest_args[@]}"}
fi

build="${SGML_BUILD_DIR:-$root/build-sanitize}"
logs="$build/sanitizer_logs"
# halt_on_error/exitcode: the first report ends the process with status 86 (never mistaken for a clean error exit);
# log_path: one file per reporting process; detect_leaks: LeakSanitizer at every exit.
export ASAN_OPTIONS="halt_on_error=1:exitcode=86:detect_leaks=1:strict_string_checks=1:check_initialization_order=1:log_path=$logs/asan"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:exitcode=86:log_path=$logs/ubsan"
export LSAN_OPTIONS="suppressions=$root/scripts/lsan.supp:print_suppressions=0"
mkdir -p "$build"
rm -rf "$logs"
mkdir -p "$logs"
# Prints every report; returns 1 when there is one.
print_reports() {
  local reports=("$logs"/*)
  [ -e "${reports[0]}" ] || return 0
  echo "sanitizer reports (${#reports[@]} processes; in $logs):" >&2
  for report in "${reports[@]}"; do
    echo "==== $report" >&2
    cat "$report" >&2
  done
  return 1
}
# Configuring and building run under the same options (gtest discovery runs the test program at build time).
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSGML_CUDA=OFF -DSGML_SANITIZE=ON >/dev/null
cmake --build "$build" -j "$(nproc)" || { print_reports || true; exit 1; }
cd "$build"
excluded=()
if [ -n "${SGML_SANITIZE_EXCLUDE:-}" ]; then
  excluded=(-E "$SGML_SANITIZE_EXCLUDE")
  echo "sanitized suite: leaving out tests matching '$SGML_SANITIZE_EXCLUDE'"
fi
status=0
ctest --output-on-failure -j "$(nproc)" ${excluded[@]+"${excluded[@]}"} ${ctest_args[@]+"${ctest_args[@]}"} || status=$?
if print_reports; then
  echo "sanitizers: no reports"
elif [ "$status" = 0 ]; then
  status=1
fi
exit "$status"
