#!/usr/bin/env bash
# Peak resident memory of one training step: 3d4cfe2 (/tmp/before), b1ef567 (build-cpu) and PyTorch, same step.
set -u
export OMP_NUM_THREADS=2
out=${1:-/tmp/bench_acc/memory.jsonl}; : > $out
for case in "resnet18 64 8" "resnet50 224 2" "resnet50 224 4" "resnet101 224 2"; do
  read -r model size classes <<< "$case"; batch=$((classes * 4))
  for bin in /tmp/before/build/sgml /work/main/build-cpu/sgml; do
    $bin bench train --device cpu --model $model --image-size $size --classes-per-batch $classes --images-per-class 4 --batch-size $batch --warmup 1 --steps 2 --json 2>/dev/null | sed "s|}$|, \"binary\": \"$bin\"}|" >> $out
  done
  /usr/bin/python3 /work/main/bench/torch_sgml_step.py --device cpu --threads 2 --what train --model $model --size $size --classes $classes --batch $batch --warmup 1 --steps 2 --json >> $out
done
echo finished >> $out
