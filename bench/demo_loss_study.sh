#!/usr/bin/env bash
# The losses side by side on the built-in demo (issue 14): `sgml train DEMO` (configs/DEMO.json: ResNet-18 at 64 px
# from scratch, 8 classes x 4 images, 8 epochs, cosine lr 1e-3) once per loss and seed, only --loss differing, then
# `sgml eval DEMO` of last.safetensors; DEMO is demo (In-shop layout, the default) or demo-cub (CUB layout). Prints one line per run: loss, seed, Recall@1, MAP@R. The demo is small (180
# queries): one seed's figures move by several points with any change (README, Correctness), so compare seeds too.
# EXTRA_FLAGS go to every training run (e.g. "--rank-tau 0.1 --rank-rho 0.5" for a study of the rank loss's parameters).
#   bash bench/demo_loss_study.sh [BUILD_DIR] [OUT_DIR] [seeds] [losses] [DEMO] [EXTRA_FLAGS]
#   e.g. bash bench/demo_loss_study.sh build /tmp/study "0 1" "sgml metric rank rank-multitask" demo-cub
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build}" out="${2:-$root/runs/loss_study}" seeds="${3:-0}"
losses="${4:-sgml metric rank rank-multitask}" demo="${5:-demo}"
read -r -a extra <<< "${6:-}"
python="${SGML_PYTHON:-/usr/bin/python3}"
mkdir -p "$out"
for seed in $seeds; do
  for loss in $losses; do
    run="$out/run_${seed}_$loss"
    "$build/sgml" train "$demo" --data "$out/data" --out "$run" --loss "$loss" --seed "$seed" --eval-every 0 \
      --device cpu --workers 2 "${extra[@]}" > "$out/train_${seed}_$loss.log" 2>&1
    "$build/sgml" eval "$demo" --data "$out/data" --checkpoint "$run/last.safetensors" --json --device cpu --no-nmi \
      2>/dev/null > "$out/eval_${seed}_$loss.json"
    "$python" -c 'import json, sys
t = open(sys.argv[1]).read(); j = json.loads(t[t.find("{"):])
print("%-15s seed %s  Recall@1 %.4f  MAP@R %.4f" % (sys.argv[2], sys.argv[3], j["recall@1"], j["map@r"]))' \
      "$out/eval_${seed}_$loss.json" "$loss" "$seed"
  done
done
