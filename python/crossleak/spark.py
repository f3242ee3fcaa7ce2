"""Detection on Apache Spark: the foreign catalog is a DataFrame, each step runs per partition
with `mapInArrow`, the driver fits the model and finishes the report.

The steps are those of `crossleak::pipeline::engine` (see docs/SPARK.md):

1. survey: every partition validates its rows, counts listings per seller and day and keeps
   its smallest id fingerprints; the driver merges them and chooses the fitting sample;
2. pass 1: every partition scores its listings in the sample; the driver fits the model;
3. pass 2: every partition matches its other listings with the model;
4. the driver links, tests and writes the report.

Each executor's Python worker fits the matching half of the home side (products and their
index) once, from copies of the home files that `SparkContext.addFile` ships, and checks
them against the spec's digest. Listing ids must be
unique across the whole catalog: a Spark group-by checks that before any work.
"""

import os

import pyarrow as pa

from crossleak import _native

#: Column of the catalog's 1-based row numbers added for the run.
ROW = "__crossleak_row"

# What each step gives per partition: one row, the step's result as JSON.
_PART = "part string"
_PART_ARROW = pa.schema([pa.field("part", pa.string())])

# One fitted home side per worker process, keyed by the spec's digest.
_HOMES = {}


def _home(spec, digest, sales, products, catalog):
    home = _HOMES.get(digest)
    if home is None:
        from pyspark import SparkFiles

        # A worker's home side: the products and their index (the sales only hashed).
        home = _native.Home(
            spec, SparkFiles.get(sales), SparkFiles.get(products), catalog, driver=False
        )
        _HOMES.clear()
        _HOMES[digest] = home
    return home


def _kind(t):
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_null(t):
        return "str"
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "f64"
    if pa.types.is_unsigned_integer(t):
        return "u64"
    if pa.types.is_integer(t):
        return "i64"
    if pa.types.is_date(t):
        return "date"
    raise ValueError(f"catalog column of type {t}: expected text, numbers or dates")


def _values(array, kind):
    if kind == "date":
        return array.cast(pa.date32()).cast(pa.int32()).to_pylist()
    if kind == "f64":
        return array.cast(pa.float64()).to_pylist()
    if kind == "str" and pa.types.is_null(array.type):
        return [None] * len(array)
    return array.to_pylist()


def _batch(batch):
    """A record batch as the native module takes it: its columns and its row numbers."""
    columns = []
    rows = None
    for name, array in zip(batch.schema.names, batch.columns):
        if name == ROW:
            rows = array.to_pylist()
            continue
        kind = _kind(array.type)
        columns.append((name, kind, _values(array, kind)))
    return columns, rows


def _step(step, spec, digest, files, arg):
    """The function `mapInArrow` runs on each partition: one row, the step's JSON result."""
    sales, products, catalog = files

    def run(batches):
        home = _home(spec, digest, sales, products, catalog)
        batches = (_batch(b) for b in batches)
        if step == "survey":
            out = home.survey(batches)
        elif step == "sample":
            out = home.sample_scores(arg, batches)
        else:
            out = home.matches(arg, batches)
        yield pa.RecordBatch.from_arrays([pa.array([out], pa.string())], schema=_PART_ARROW)

    return run


def read_catalog(spark, catalog):
    """The catalog (a path ending in `.csv` or `.csv.gz`: CSV with a header, every column read
    as text, as `detect` reads it; any other path: Parquet, a file or a folder of files,
    recommended) as a DataFrame with its 1-based row numbers in column `ROW`:
    the order Spark reads the rows in, which for one file is the file's order (Spark's CSV
    reader skips blank lines, which `detect` counts as rejected rows)."""
    from pyspark.sql import functions as F

    if not catalog.lower().endswith((".csv", ".csv.gz")):
        df = spark.read.parquet(catalog)
    else:
        df = spark.read.csv(
            catalog, header=True, inferSchema=False, quote='"', escape='"', multiLine=True
        )
    # Row numbers in read order without a pass through Python: partition offsets from the
    # per-partition counts, plus each row's place in its partition.
    df = df.withColumn("__part", F.spark_partition_id()).withColumn(
        "__id", F.monotonically_increasing_id()
    )
    counts = sorted((r[0], r[1]) for r in df.groupBy("__part").count().collect())
    offsets, at = {}, 0
    for part, n in counts:
        offsets[part] = at
        at += n
    offset = F.create_map(*[x for p, o in offsets.items() for x in (F.lit(p), F.lit(o))])
    # monotonically_increasing_id is the partition index times 2^33 plus the row's place.
    local = F.col("__id") - F.col("__part").cast("long") * (1 << 33)
    return df.withColumn(ROW, offset[F.col("__part")] + local + 1).drop("__part", "__id")


def check_unique_ids(df, id_column):
    """Raises ValueError naming a listing id that more than one row of `df` holds."""
    from pyspark.sql import functions as F

    if id_column not in df.columns:
        return  # the native validation names the missing column
    dup = (
        df.where(F.col(id_column).isNotNull())
        .groupBy(id_column)
        .agg(F.count(F.lit(1)).alias("n"), F.min(ROW).alias("first"), F.max(ROW).alias("last"))
        .where(F.col("n") > 1)
        .orderBy("first")
        .limit(1)
        .collect()
    )
    if dup:
        d = dup[0]
        raise ValueError(
            f"catalog: duplicate {id_column} '{d[id_column]}' in {d['n']} rows "
            f"(rows {d['first']} and {d['last']}): a catalog run on Spark needs unique ids"
        )


def detect_spark(spark, sales, products, catalog, out, config=None, catalog_name=None):
    """Runs the detector on Spark and writes its outputs into the folder `out`, as `detect`
    writes them; returns the run summary (a dict).

    `sales`, `products`: the home files, paths on the driver (shipped to the executors with
    `SparkContext.addFile`). `catalog`: the foreign catalog, a path Spark reads (Parquet
    recommended; see `read_catalog`) or a DataFrame with 1-based row numbers in column `ROW`
    (as `read_catalog` gives, repartitioned or not). `config`: a TOML or JSON config as for
    `detect`. `catalog_name`: the catalog as named in the report (default: the path, or
    "catalog" for a DataFrame).
    """
    import json

    spec = _native.home_spec(sales, products, config)
    sc = spark.sparkContext
    sc.addFile(sales)
    sc.addFile(products)
    if catalog_name is None:
        catalog_name = catalog if isinstance(catalog, str) else "catalog"
    files = (os.path.basename(sales), os.path.basename(products), catalog_name)
    home = _native.Home(spec, sales, products, catalog_name)
    digest = home.digest

    df = read_catalog(spark, catalog) if isinstance(catalog, str) else catalog
    if ROW not in df.columns:
        raise ValueError(f"the catalog DataFrame needs its row numbers in column {ROW}")
    df = df.cache()
    try:
        check_unique_ids(df, home.id_column)

        def each(step, arg=None):
            rows = df.mapInArrow(_step(step, spec, digest, files, arg), _PART).collect()
            return [r["part"] for r in rows]

        survey = home.merge_surveys(each("survey"))
        sample = home.sample(survey)
        fitted = home.fit(survey, each("sample", sample))
        matches = each("match", home.plan(fitted))
        return json.loads(home.finish(survey, fitted, matches, out))
    finally:
        df.unpersist()
