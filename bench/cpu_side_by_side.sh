#!/usr/bin/env bash
# The CPU side of the side-by-side benchmark (issue 15): our `sgml bench train|eval --device cpu` and PyTorch's same
# SGML step and extraction (bench/torch_sgml_step.py --device cpu), same model, shape, batch and threads, run
# interleaved (ours, PyTorch's, ours, ...) so that a change in the machine's load falls on both. Prints one JSON line
# per run, then a table of medians and ratios. Measure on a quiet machine: PyTorch's threads suffer more from a
# compiler running beside them than ours.
#   bash bench/cpu_side_by_side.sh [BUILD_DIR] [rounds] [threads] [cases]
#   cases: a comma-separated subset of r18-64-train,r50-224-train,r101-224-train,r18-64-eval,r50-224-eval,r101-224-eval
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build}" rounds="${2:-3}" threads="${3:-$(nproc)}"
cases="${4:-r18-64-train,r50-224-train,r101-224-train,r18-64-eval,r50-224-eval,r101-224-eval}"
python="${SGML_PYTHON:-/usr/bin/python3}"
export OMP_NUM_THREADS="$threads" OPENBLAS_NUM_THREADS="$threads"
log="$(mktemp)"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $threads threads; commit $(git -C "$root" describe --always --dirty)"
for case in ${cases//,/ }; do
  IFS=- read -r model size what <<< "$case"
  model="resnet${model#r}"
  # The demo's batch at 64 px (8 classes x 4 images); 2 x 4 at 224 px, as in issue 15's measurements.
  if [ "$size" = 64 ]; then classes=8; else classes=2; fi
  batch=$((classes * 4)) steps=3
  [ "$model" = resnet18 ] && steps=5
  for _ in $(seq "$rounds"); do
    "$build/sgml" bench "$what" --device cpu --model "$model" --image-size "$size" --classes-per-batch "$classes" \
      --images-per-class 4 --batch-size "$batch" --warmup 1 --steps "$steps" --json 2>/dev/null | tee -a "$log"
    "$python" "$root/bench/torch_sgml_step.py" --device cpu --threads "$threads" --what "$what" --model "$model" \
      --size "$size" --classes "$classes" --batch "$batch" --warmup 1 --steps "$steps" --json | tee -a "$log"
  done
done
"$python" - "$log" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
cases = {}
for r in runs:
    key = (r["what"], r["model"], r["size"], r["batch"])
    cases.setdefault(key, {}).setdefault(r["framework"], []).append(r)
print(f"{'case':<28} {'ours img/s':>10} {'torch img/s':>11} {'ratio':>6} {'ours GiB':>9} {'torch GiB':>9}")
for (what, model, size, batch), by in cases.items():
    ours = statistics.median(r["images_per_s"] for r in by.get("sgml", [{"images_per_s": float("nan")}]))
    torch = statistics.median(r["images_per_s"] for r in by.get("pytorch", [{"images_per_s": float("nan")}]))
    om = max(r["peak_mem_gib"] for r in by.get("sgml", [{"peak_mem_gib": float("nan")}]))
    tm = max(r["peak_mem_gib"] for r in by.get("pytorch", [{"peak_mem_gib": float("nan")}]))
    print(f"{what + ' ' + model + '@' + str(size) + ' b' + str(batch):<28} {ours:>10.2f} {torch:>11.2f} "
          f"{ours / torch:>5.2f}x {om:>9.2f} {tm:>9.2f}")
PY
rm -f "$log"
