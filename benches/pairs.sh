#!/usr/bin/env bash
# Supervised F1 beside the plain baseline on every labelled benchmark found, and (with
# --unsupervised) the unsupervised F1: one line per benchmark.
#
#   bash benches/pairs.sh [--unsupervised] [--logistic JSON] [--shared DIR]
#
# Benchmarks: the four in datasets/benchmarks/, and the WDC Products training sizes found in
# DIR/wdc_products/{computers,cameras}/ (train_S.csv with valid_S.csv, against test.csv).
# Needs `cargo build --release -p crossleak-eval --example match_pairs`.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=target/release/examples/match_pairs
unsupervised=false
logistic='{}'
shared=""
while [ $# -gt 0 ]; do
  case "$1" in
    --unsupervised) unsupervised=true; shift ;;
    --logistic) logistic="$2"; shift 2 ;;
    --shared) shared="$2"; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
f1() { sed -n 's/.*f1=\([0-9.]*\).*/\1/p' | tail -1; }
run() { # name train valid test
  out=$("$bin" --train "$2" --valid "$3" --test "$4" --logistic "$logistic")
  line="$1 supervised=$(echo "$out" | tail -1 | f1) baseline=$(echo "$out" | grep '^baseline' | f1)"
  if $unsupervised; then
    line="$line unsupervised=$("$bin" --unsupervised --train "$2" --valid "$3" --test "$4" | f1)"
  fi
  echo "$line"
}
d=datasets/benchmarks
for b in abt_buy amazon_google; do
  run "$b" "$d/$b/train.csv.gz" "$d/$b/valid.csv.gz" "$d/$b/test.csv.gz"
done
for c in computers cameras; do
  run "wdc_${c}_small" "$d/wdc_$c/train_small.csv.gz" "$d/wdc_$c/valid_small.csv.gz" "$d/wdc_$c/test.csv.gz"
  if [ -n "$shared" ]; then
    for size in medium large; do
      w="$shared/wdc_products/$c"
      if [ -f "$w/train_$size.csv" ] && [ -f "$w/valid_$size.csv" ]; then
        run "wdc_${c}_$size" "$w/train_$size.csv" "$w/valid_$size.csv" "$w/test.csv"
      fi
    done
  fi
done
