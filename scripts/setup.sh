#!/usr/bin/env bash
# Installs the Debian packages the project needs (when run as root), or names the exact command otherwise.
#   scripts/setup.sh build   what building and running ./sgml needs
#   scripts/setup.sh test    that, plus the PyTorch reference the tests compare against
#   scripts/setup.sh fuzz    that, plus clang (libFuzzer, for scripts/fuzz.sh and CI's fuzz replay)
set -euo pipefail
profile="${1:-build}"

build_packages=(cmake g++ make libdnnl-dev libstb-dev libjpeg62-turbo-dev libmatio-dev nlohmann-json3-dev
                libgtest-dev)
# libopenblas0-pthread: Debian's torch, numpy and scipy take BLAS from the libblas.so.3 alternative, which without it
# is the unoptimised reference BLAS (slow references, and a handicapped PyTorch in bench/cpu_side_by_side.sh).
test_packages=(python3-torch python3-torchvision python3-numpy python3-scipy python3-sklearn python3-pil
               libopenblas0-pthread)

fuzz_packages=(clang)

case "$profile" in
  build|test|fuzz) ;;
  *) echo "sgml setup: unknown profile '$profile' (build, test or fuzz)" >&2; exit 2 ;;
esac
wanted=("${build_packages[@]}")
if [ "$profile" = "test" ] || [ "$profile" = "fuzz" ]; then wanted+=("${test_packages[@]}"); fi
if [ "$profile" = "fuzz" ]; then wanted+=("${fuzz_packages[@]}"); fi

missing=()
for pkg in "${wanted[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then missing+=("$pkg"); fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = "0" ]; then
  echo "sgml setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  # Without a network the package lists cannot be refreshed; the packages may still be in the local cache.
  apt-get update -qq >&2 || echo "sgml setup: apt-get update failed; installing from what apt has" >&2
  apt-get install -y -qq "${missing[@]}" >&2
else
  echo "sgml setup: missing Debian packages: ${missing[*]}" >&2
  echo "install them with:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
