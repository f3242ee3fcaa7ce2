#!/usr/bin/env bash
# Detector scores over seeded synthetic worlds, with and without followers.
# Usage: bash benches/worlds.sh [FIRST_SEED] [LAST_SEED] [SCALE]
set -euo pipefail
cd "$(dirname "$0")/.."
first=${1:-7}; last=${2:-16}; scale=${3:-1308}
cargo build --release --quiet -p crossleak-eval --example synth
cargo build --release --quiet --example detect
bin="${CARGO_TARGET_DIR:-target}/release/examples"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for followers in 6 0; do
  for seed in $(seq "$first" "$last"); do
    w="$tmp/w-$seed-$followers"
    "$bin/synth" --scale "$scale" --seed "$seed" --followers "$followers" --out "$w" >/dev/null
    out=$("$bin/detect" --sales "$w/sales.parquet" --products "$w/products.csv" \
      --catalog "$w/catalog.csv" --truth-alerts "$w/truth_alerts.csv" \
      --truth-sellers "$w/truth_sellers.csv" --truth-onsets "$w/truth_onsets.csv" --out "$w/out")
    flagged=$(grep -E '^sellers' <<<"$out" | sed -E 's/^sellers [0-9]+  flagged ([0-9]+).*/\1/')
    categories=$(grep -E '^sellers' <<<"$out" | sed -E 's/.*flagged categories ([0-9]+).*/\1/')
    onsets=$(grep -E '^onsets' <<<"$out" | sed 's/^onsets: //')
    echo "followers=$followers seed=$seed flagged=$flagged flagged_categories=$categories onsets($onsets) $(tail -n 1 <<<"$out")"
  done
done | tee "$tmp/lines"
# Alerts pooled over the worlds with followers, and how many of them reach 0.9 on both sides.
awk '/^followers=6/ {
  for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
  tp += v["tp"]; fp += v["fp"]; fn += v["fn"]; n++
  if (v["tp"] >= 0.9 * (v["tp"] + v["fp"]) && v["tp"] >= 0.9 * (v["tp"] + v["fn"])) both++
} END {
  printf "pooled over %d worlds with followers: alerts precision=%.3f recall=%.3f (tp=%d fp=%d fn=%d); both >= 0.9 in %d worlds\n",
    n, tp / (tp + fp), tp / (tp + fn), tp, fp, fn, both
}' "$tmp/lines"
