"""Spark's task measures read from a real driver's status store (the UI off, as in local runs)."""

from __future__ import annotations

import uuid

import pytest

from semingest_worker.spark_measures import spark_measures


@pytest.mark.spark
def test_measures_of_a_real_job_with_a_shuffle_counted_by_its_job_group(spark):
    sc = spark.sparkContext
    group = f"semingest-run-{uuid.uuid4().hex[:8]}"
    sc.parallelize(range(10), 2).sum()  # another job of the same context, outside the run's group
    sc.setJobGroup(group, "the run")
    try:
        sc.parallelize(range(20000), 4).map(lambda x: (x % 7, x)).reduceByKey(lambda a, b: a + b).collect()
    finally:
        sc.setLocalProperty("spark.jobGroup.id", None)
    measures = spark_measures(sc, group)
    everything = spark_measures(sc)
    assert measures is not None
    assert measures.stages == 2 and measures.tasks == 8, "a map stage and a reduce stage of 4 tasks each"
    assert measures.executor_run_seconds > 0 and measures.executor_cpu_seconds > 0
    assert measures.shuffle_write_bytes > 0 and measures.shuffle_read_bytes == measures.shuffle_write_bytes
    assert everything is not None and everything.stages >= 3 and everything.tasks >= 10
