#!/usr/bin/env bash
# tau/rho study and learned-beta study on demo, re-measured after 14a3137
set -u
cd /work/main
B=build-cpu  # a CPU-only Release build of 5e6f296
O=/tmp/study/out
mkdir -p $O
run() { # name flags loss
  echo "== $1 ($3; $2)" ; bash bench/demo_loss_study.sh $B $O/$1 "0 1" "$3" demo "$2"; }
for tr in "0.01 0.2" "0.02 0.2" "0.05 0.2" "0.1 0.2" "0.3 0.2" "0.05 0.1" "0.05 0.5" "0.05 2" "0.01 0.5" "0.01 0.1"; do
  set -- $tr
  run tau$1_rho$2 "--rank-tau $1 --rank-rho $2" rank
done
run beta_fixed "" margin
run beta_learned "--learn-beta" margin
run beta_learned_5e-3 "--learn-beta --beta-lr 5e-3" margin
echo ALLDONE
