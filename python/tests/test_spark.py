"""crossleak on Spark in local mode gives the outputs of the single-machine `detect`.

Needs pyspark, pyarrow, Java 17, the native module importable as `crossleak._native`, and
the `detect` example binary named by the environment variable CROSSLEAK_DETECT
(`.ci/spark-test` sets all of this up and runs these tests).
"""

import filecmp
import os
import shutil
import subprocess
import tempfile
import unittest
from pathlib import Path

from pyspark.sql import SparkSession

from crossleak.spark import ROW, detect_spark, read_catalog

REPO = Path(__file__).resolve().parents[2]
WORLD = REPO / "datasets" / "world"
SALES = str(WORLD / "sales.parquet")
PRODUCTS = str(WORLD / "products.csv")
CATALOG = str(WORLD / "catalog.csv")

# Every file `detect` writes; report.json holds every finding, the parameters and the row
# accounting, report.html the charts.
OUTPUTS = [
    "report.json",
    "alerts.csv",
    "sellers.csv",
    "categories.csv",
    "bestsellers.csv",
    "rejected_rows.csv",
    "review_pairs.csv",
    "report.html",
]


def detect(catalog, out, config=None):
    """The single-machine run of the `detect` example."""
    cmd = [os.environ["CROSSLEAK_DETECT"], "--sales", SALES, "--products", PRODUCTS]
    cmd += ["--catalog", catalog, "--out", out]
    if config:
        cmd += ["--config", config]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


class SparkLocalMode(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.spark = (
            SparkSession.builder.master("local[2]")
            .appName("crossleak-test")
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", "4")
            # Small batches: every partition hands its rows over in several batches.
            .config("spark.sql.execution.arrow.maxRecordsPerBatch", "100")
            .getOrCreate()
        )
        cls.spark.sparkContext.setLogLevel("ERROR")
        cls.tmp = Path(tempfile.mkdtemp(prefix="crossleak-spark-"))

    @classmethod
    def tearDownClass(cls):
        cls.spark.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def assert_same_outputs(self, expected, got):
        for name in OUTPUTS:
            same = filecmp.cmp(Path(expected) / name, Path(got) / name, shallow=False)
            self.assertTrue(same, f"{name} differs between {expected} and {got}")

    def test_bundled_world_gives_the_outputs_of_detect(self):
        expected = str(self.tmp / "detect")
        detect(CATALOG, expected)
        # The catalog cut into several partitions whose rows are dealt at random.
        df = read_catalog(self.spark, CATALOG).repartition(5)
        self.assertGreater(df.rdd.getNumPartitions(), 1)
        got = str(self.tmp / "spark")
        summary = detect_spark(self.spark, SALES, PRODUCTS, df, got, catalog_name=CATALOG)
        self.assertGreater(summary["alerts"], 0)
        self.assertGreater(summary["flagged_sellers"], 0)
        self.assert_same_outputs(expected, got)

    def test_sampled_fit_and_parquet_catalog_give_the_outputs_of_detect(self):
        # The model fitted on 1,000 of the 1,113 listings, the rest matched in pass 2; the
        # catalog in Parquet, typed columns (dates, numbers) as Spark reads them.
        import pyarrow.csv
        import pyarrow.parquet

        parquet = str(self.tmp / "catalog.parquet")
        table = pyarrow.csv.read_csv(CATALOG)
        self.assertIn("date", str(table.schema.field("listed_at").type))
        pyarrow.parquet.write_table(table, parquet, row_group_size=300)
        config = self.tmp / "config.toml"
        config.write_text("[params.match]\nfit_listings = 1000\n")
        expected = str(self.tmp / "detect-sampled")
        detect(parquet, expected, str(config))
        got = str(self.tmp / "spark-sampled")
        summary = detect_spark(self.spark, SALES, PRODUCTS, parquet, got, config=str(config))
        self.assertEqual(summary["fit_listings"], 1000)
        self.assert_same_outputs(expected, got)

    def test_duplicate_ids_are_an_error_naming_the_rows(self):
        lines = Path(CATALOG).read_text().splitlines()
        dup = self.tmp / "dup.csv"
        dup.write_text("\n".join(lines + [lines[3]]) + "\n")
        with self.assertRaisesRegex(ValueError, r"duplicate listing_id '.+' in 2 rows \(rows 3 and"):
            detect_spark(self.spark, SALES, PRODUCTS, str(dup), str(self.tmp / "dup"))

    def test_row_numbers_follow_the_file(self):
        df = read_catalog(self.spark, CATALOG)
        rows = df.select("listing_id", ROW).orderBy(ROW).collect()
        ids = [line.split(",", 1)[0] for line in Path(CATALOG).read_text().splitlines()[1:]]
        self.assertEqual([r[0] for r in rows], ids)
        self.assertEqual([r[1] for r in rows], list(range(1, len(ids) + 1)))


if __name__ == "__main__":
    unittest.main()
