#!/usr/bin/env bash
# Top-k candidate generation: crossleak against peer tools on the same generated catalogs.
#
#   benches/peers/run.sh [--products N] [--listings M] [--runs R] [--threads T] [--tools LIST]
#
# Defaults: 10000 products, 100000 listings, 3 runs, 2 threads, all tools. Builds the
# generator and link_catalogs (release), creates benches/peers/.venv with pip (scikit-learn,
# sparse_dot_topn, rapidfuzz, datasketch), writes the catalogs with
# `gen_catalogs --seed 7` into $PEERS_DATA (default /tmp/crossleak-peers), then times each tool
# R times on them: wall time of candidate generation (file reading excluded, vectorisation
# included), peak RSS of the process (/usr/bin/time), recall@10 against truth.csv. The runs
# are interleaved: each round runs every tool once, so a change in the machine's load during
# the session falls on all tools alike. Prints one table of medians and each tool's time as a
# multiple of crossleak's: the ratio of the medians, and the median of the ratios taken
# within each round.
# rapidfuzz runs only when products x listings <= 1e8 (it scores every pair); datasketch only
# when listings <= 100000 (one Python LSH query per listing, single-threaded).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
products=10000 listings=100000 runs=3 threads=2
tools="crossleak sklearn_char sklearn_mixed rapidfuzz datasketch"
while [ $# -gt 0 ]; do
    case "$1" in
        --products) products="$2" ;;
        --listings) listings="$2" ;;
        --runs) runs="$2" ;;
        --threads) threads="$2" ;;
        --tools) tools="$2" ;;
        *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift 2
done

target="${CARGO_TARGET_DIR:-$root/target}"
(cd "$root" && cargo build --release --quiet -p crossleak-eval --example gen_catalogs --example link_catalogs)
bin="$target/release/examples"

venv="$here/.venv"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet scikit-learn sparse_dot_topn rapidfuzz datasketch
fi
py="$venv/bin/python"

data="${PEERS_DATA:-/tmp/crossleak-peers}/p${products}_l${listings}"
if [ ! -f "$data/truth.csv" ]; then
    "$bin/gen_catalogs" --products "$products" --listings "$listings" --seed 7 --out "$data"
fi
files=(--left "$data/left.csv" --right "$data/right.csv" --truth "$data/truth.csv")
export OMP_NUM_THREADS="$threads" OPENBLAS_NUM_THREADS="$threads" MKL_NUM_THREADS="$threads"

results="$(mktemp)"
rss="$(mktemp)"
trap 'rm -f "$results" "$rss"' EXIT
for run in $(seq "$runs"); do
    for tool in $tools; do
        if [ "$tool" = rapidfuzz ] && [ $((products * listings)) -gt 100000000 ]; then
            [ "$run" = 1 ] && echo "{\"tool\": \"rapidfuzz\", \"skipped\": \"products x listings > 1e8\"}" >>"$results"
            continue
        fi
        if [ "$tool" = datasketch ] && [ "$listings" -gt 100000 ]; then
            [ "$run" = 1 ] && echo "{\"tool\": \"datasketch\", \"skipped\": \"listings > 100000\"}" >>"$results"
            continue
        fi
        if [ "$tool" = crossleak ]; then
            line="$(/usr/bin/time -f %M -o "$rss" "$bin/link_catalogs" "${files[@]}" \
                --threads "$threads" --candidates-only | tail -n 1)"
            # recall@10=R candidates=N seconds=S ... -> JSON
            line="$(echo "$line" | "$py" -c 'import sys, json
kv = dict(x.split("=") for x in sys.stdin.read().split())
print(json.dumps({"tool": "crossleak", "seconds": float(kv["seconds"]),
                  "recall_at_k": float(kv["recall@10"])}))')"
        else
            line="$(/usr/bin/time -f %M -o "$rss" "$py" "$here/peers.py" "$tool" "${files[@]}" \
                --threads "$threads" | tail -n 1)"
        fi
        echo "$line" | "$py" -c 'import sys, json
r = json.loads(sys.stdin.read()); r["peak_rss_mb"] = round(int(open(sys.argv[1]).read().split()[-1]) / 1024)
r["round"] = int(sys.argv[2])
print(json.dumps(r))' "$rss" "$run" | tee -a "$results" >&2
    done
done

"$py" - "$results" "$products" "$listings" "$threads" "$runs" <<'PY'
import json, statistics, sys
path, products, listings, threads, runs = sys.argv[1:]
rows = [json.loads(l) for l in open(path)]
tools = list(dict.fromkeys(r["tool"] for r in rows))
def med(tool, key):
    xs = [r[key] for r in rows if r["tool"] == tool and key in r]
    return statistics.median(xs) if xs else None
base = med("crossleak", "seconds")
ours = {r["round"]: r["seconds"] for r in rows if r["tool"] == "crossleak" and "seconds" in r}
def round_ratio(tool):
    xs = [r["seconds"] / ours[r["round"]] for r in rows
          if r["tool"] == tool and "seconds" in r and ours.get(r["round"])]
    return statistics.median(xs) if xs else None
print(f"\n{products} products x {listings} listings, {threads} threads, median of {runs} "
      "interleaved rounds")
print("| tool | seconds | peak RSS MB | recall@10 | listings/s | time vs crossleak "
      "(ratio of medians) | (median of per-round ratios) |")
print("|---|---|---|---|---|---|---|")
for t in tools:
    skip = next((r["skipped"] for r in rows if r["tool"] == t and "skipped" in r), None)
    if skip:
        print(f"| {t} | not run ({skip}) | | | | |")
        continue
    s = med(t, "seconds")
    ratio = f"{s / base:.1f}x" if base else "-"
    per_round = round_ratio(t)
    paired = f"{per_round:.1f}x" if per_round else "-"
    print(f"| {t} | {s:.2f} | {med(t, 'peak_rss_mb'):.0f} | {med(t, 'recall_at_k'):.4f} "
          f"| {int(listings) / s:,.0f} | {ratio} | {paired} |")
PY
