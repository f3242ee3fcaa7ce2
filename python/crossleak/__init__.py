"""crossleak on Apache Spark: a detection run over a foreign catalog too large for one machine.

`crossleak.spark.detect_spark` runs the same steps as the single-machine `detect`, one
partition at a time on Spark's executors, and writes the same outputs. The native module
`crossleak._native` is the Rust library built as a Python extension (see docs/SPARK.md).
"""

__all__ = ["detect_spark"]


def detect_spark(*args, **kwargs):
    """See `crossleak.spark.detect_spark`."""
    from crossleak.spark import detect_spark as run

    return run(*args, **kwargs)
