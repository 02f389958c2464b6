#!/usr/bin/env bash
# Interleaved before/after: ours at 3d4cfe2 (/tmp/before) and 4f59320 (build-cpu).
set -u
export OMP_NUM_THREADS=2
out=/tmp/bench_acc/interleaved.jsonl; : > $out
for round in 1 2 3 4 5; do
  for bin in /tmp/before/build/sgml /work/main/build-cpu/sgml; do
    $bin bench train --device cpu --model resnet18 --image-size 64 --classes-per-batch 8 --images-per-class 4 --batch-size 32 --warmup 1 --steps 5 --json 2>/dev/null | sed "s|}$|, \"binary\": \"$bin\"}|" >> $out
    $bin bench train --device cpu --model resnet50 --image-size 224 --classes-per-batch 2 --images-per-class 4 --batch-size 8 --warmup 1 --steps 3 --json 2>/dev/null | sed "s|}$|, \"binary\": \"$bin\"}|" >> $out
  done
done
for bin in /tmp/before/build/sgml /work/main/build-cpu/sgml; do
  echo "== $bin"
  $bin bench train --device cpu --model resnet50 --image-size 224 --classes-per-batch 2 --images-per-class 4 --batch-size 8 --warmup 1 --steps 3 --profile 2>&1 | head -30
done > /tmp/bench_acc/profile_r50_224.txt
echo finished >> /tmp/bench_acc/profile_r50_224.txt
