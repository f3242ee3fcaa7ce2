#!/usr/bin/env bash
# crossleak on Spark (local mode) timed beside the single-machine `detect` on the same world,
# with the outputs compared file for file.
#
# Usage: bash benches/spark.sh --setup          # .venv-spark/: pyspark, pyarrow, pandas, maturin, and
#                                                # the crossleak wheel (release build)
#        bash benches/spark.sh WORLD [CORES]     # WORLD: a folder from `synth` (sales.parquet,
#                                                # products.csv, catalog.csv); CORES: local[N]
#        PROFILE=debug bash benches/spark.sh WORLD  # both sides from the debug profile
# The catalog is converted to Parquet (every column as text, as detect reads the CSV) in a
# temporary folder, and both runs read that file; outputs go there too. WORLD is only read.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv-spark
if [ "${1:-}" = "--setup" ]; then
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet pyspark pyarrow "pandas<3" maturin
  rm -rf target/wheels
  "$venv/bin/maturin" build --release --quiet --out target/wheels
  "$venv/bin/pip" install --quiet --force-reinstall --no-deps target/wheels/crossleak-*.whl
  exit 0
fi
world=${1:?usage: bash benches/spark.sh WORLD [CORES] (or --setup first)}
cores=${2:-2}
py="${CROSSLEAK_PYTHON:-$venv/bin/python}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
target="${CARGO_TARGET_DIR:-target}"
if [ "${PROFILE:-release}" = debug ]; then
  # The debug profile of the workspace on both sides, the extension staged as .ci/spark-test
  # stages it (no wheel needed).
  cargo build --quiet --example detect
  cargo build --quiet -p crossleak-py
  bin="$target/debug/examples/detect"
  cp -r python/crossleak "$tmp/crossleak"
  cp "$target/debug/lib_native.so" "$tmp/crossleak/_native.abi3.so"
  export PYTHONPATH="$tmp${PYTHONPATH:+:$PYTHONPATH}"
else
  cargo build --release --quiet --example detect
  bin="$target/release/examples/detect"
fi
export PYSPARK_PYTHON="$py"
catalog="$tmp/catalog.parquet"
"$py" - "$world/catalog.csv" "$catalog" <<'PY'
import sys
import pyarrow.csv as csv, pyarrow.parquet as pq
# Every column as text, as detect reads a CSV; 100,000-row groups for Spark to split on.
import csv as text
with open(sys.argv[1], newline="", encoding="utf-8") as f:
    names = next(text.reader(f))
table = csv.read_csv(sys.argv[1], convert_options=csv.ConvertOptions(column_types={n: "string" for n in names}, strings_can_be_null=True))
pq.write_table(table, sys.argv[2], row_group_size=100_000)
PY
echo "world: $world ($(($(wc -l <"$world/catalog.csv") - 1)) listings), local[$cores]"
start=$(date +%s%N)
# detect uses every core (threads = 0, as the Spark run's parameters say, so report.json
# matches byte for byte): give CORES = the machine's cores for a like-for-like timing.
"$bin" --sales "$world/sales.parquet" --products "$world/products.csv" --catalog "$catalog" \
  --out "$tmp/detect" >/dev/null
end=$(date +%s%N)
ms=$(((end - start) / 1000000))
echo "detect: $((ms / 1000)).$(printf %03d $((ms % 1000))) s"
"$py" - "$world" "$catalog" "$tmp/spark" "$cores" <<'PY'
import sys, time
from pyspark.sql import SparkSession
from crossleak.spark import detect_spark
world, catalog, out, cores = sys.argv[1:5]
spark = (SparkSession.builder.master(f"local[{cores}]").config("spark.driver.host", "127.0.0.1")
         .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
         .config("spark.driver.memory", "6g")
         .config("spark.driver.maxResultSize", "2g")
         # Partitions of a few row groups each, so every core gets work.
         .config("spark.sql.files.maxPartitionBytes", "8m").getOrCreate())
spark.sparkContext.setLogLevel("ERROR")
t = time.time()
s = detect_spark(spark, f"{world}/sales.parquet", f"{world}/products.csv", catalog, out)
print(f"detect_spark: {time.time() - t:.1f} s ({s['listings']} listings, {s['alerts']} alerts, "
      f"{s['flagged_sellers']} sellers flagged)")
spark.stop()
PY
for f in report.json alerts.csv sellers.csv categories.csv review_pairs.csv report.html; do
  if cmp -s "$tmp/detect/$f" "$tmp/spark/$f"; then echo "$f: identical"; else echo "$f: DIFFERS"; fi
done
