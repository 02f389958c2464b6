#!/usr/bin/env bash
# Divide & Conquer beside SGML on the built-in demo (issue 12): `sgml train demo` (configs/demo.json: ResNet-18 at
# 64 px from scratch, 8 classes x 4 images, 8 epochs, cosine lr 1e-3) as SGML, then with --method dnc
# (configs/dnc-demo.json: margin loss, distance-weighted sampling, embedding 128) with --learners 1 (the plain
# margin-loss baseline) and 4 (D&C), same seed and epochs; then `sgml eval demo` of last.safetensors. Prints one
# line per run: name, seed, Recall@1, MAP@R. The demo is small (180 queries): figures move by several points between
# seeds (README, Correctness), so compare seeds too. dnc_k4_linear is D&C with the authors' head (--head linear);
# dnc_k4_authors adds their transforms (--train-crop random-resized, --eval-resize 73: their 256 for 224, at 64 px).
# dnc_k4_masks is the authors' TPAMI follow-up's learned masks with the authors' head (--learner-masks learned; the
# masks' rate --mask-lr-mult 1, i.e. 1e-3: the follow-up's absolute rate, 100 x their 1e-5); dnc_k4_hier_masks adds
# its hierarchical division (--division hierarchical: 1, 2, 4 learners at epochs 1, 3, 5); dnc_k4_hier is that
# division with the slices (the follow-up's "fixed" variant); dnc_k4_follow_up adds to dnc_k4_hier_masks the
# authors' batch sampler (--class-balance adaptive) and their embedding initialisation (--embedding-init torch).
#   bash bench/demo_dnc_study.sh [BUILD_DIR] [OUT_DIR] [seeds] [runs: default "sgml margin_k1 dnc_k4"]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build}" out="${2:-$root/runs/dnc_study}" seeds="${3:-0}" names="${4:-sgml margin_k1 dnc_k4}"
python="${SGML_PYTHON:-/usr/bin/python3}"
mkdir -p "$out"
for seed in $seeds; do
  for name in $names; do
    case "$name" in
      sgml) args=() ;;
      margin_k1) args=(--method dnc --learners 1) ;;
      dnc_k4) args=(--method dnc --learners 4) ;;
      dnc_k4_linear) args=(--method dnc --learners 4 --head linear) ;;
      dnc_k4_authors) args=(--method dnc --learners 4 --head linear --train-crop random-resized --eval-resize 73) ;;
      dnc_k4_hier) args=(--method dnc --learners 4 --head linear --division hierarchical) ;;
      dnc_k4_masks) args=(--method dnc --learners 4 --head linear --learner-masks learned --mask-lr-mult 1) ;;
      dnc_k4_hier_masks) args=(--method dnc --learners 4 --head linear --learner-masks learned --mask-lr-mult 1
                               --division hierarchical) ;;
      dnc_k4_follow_up) args=(--method dnc --learners 4 --head linear --learner-masks learned --mask-lr-mult 1
                              --division hierarchical --class-balance adaptive --embedding-init torch) ;;
      *) echo "unknown run '$name': expected sgml, margin_k1, dnc_k4, dnc_k4_linear, dnc_k4_authors, dnc_k4_hier," \
           "dnc_k4_masks, dnc_k4_hier_masks or dnc_k4_follow_up" >&2; exit 2 ;;
    esac
    run="$out/run_${seed}_$name"
    "$build/sgml" train demo --data "$out/data" --out "$run" "${args[@]}" --seed "$seed" --eval-every 0 \
      --device cpu --workers 2 > "$out/train_${seed}_$name.log" 2>&1
    "$build/sgml" eval demo --data "$out/data" --checkpoint "$run/last.safetensors" --json --device cpu --no-nmi \
      2>/dev/null > "$out/eval_${seed}_$name.json"
    "$python" -c 'import json, sys
t = open(sys.argv[1]).read(); j = json.loads(t[t.find("{"):])
print("%-10s seed %s  Recall@1 %.4f  MAP@R %.4f" % (sys.argv[2], sys.argv[3], j["recall@1"], j["map@r"]))' \
      "$out/eval_${seed}_$name.json" "$name" "$seed"
  done
done
