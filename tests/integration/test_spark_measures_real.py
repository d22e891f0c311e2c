"""Spark's task measures read from a real driver's status store (the UI off, as in local runs)."""

from __future__ import annotations

import os
import sys

import pytest

from semingest_worker.spark_measures import spark_measures


@pytest.mark.spark
def test_measures_of_a_real_job_with_a_shuffle():
    from pyspark import SparkConf, SparkContext

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    conf = (
        SparkConf()
        .setMaster("local[2]")
        .setAppName("semingest-measures-test")
        .set("spark.ui.enabled", "false")
        .set("spark.ui.showConsoleProgress", "false")
    )
    sc = SparkContext.getOrCreate(conf)
    try:
        sc.parallelize(range(20000), 4).map(lambda x: (x % 7, x)).reduceByKey(lambda a, b: a + b).collect()
        measures = spark_measures(sc)
    finally:
        sc.stop()
    assert measures is not None
    assert measures.stages == 2 and measures.tasks == 8, "a map stage and a reduce stage of 4 tasks each"
    assert measures.executor_run_seconds > 0 and measures.executor_cpu_seconds > 0
    assert measures.shuffle_write_bytes > 0 and measures.shuffle_read_bytes == measures.shuffle_write_bytes
