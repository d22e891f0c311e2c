"""TensorFlow thread pools inside Spark tasks: each Python worker gets its task's CPUs."""

from __future__ import annotations

import pytest

from semingest_worker.inference import default_thread_count

pytestmark = [pytest.mark.spark]


def test_inside_a_spark_task_each_python_worker_gets_its_tasks_cpus(spark):
    counts = spark.sparkContext.parallelize(range(4), 2).map(lambda _: default_thread_count()).collect()
    assert counts == [1, 1, 1, 1]
