"""The execute phase on Spark: spread the files over partitions, run the pipeline on each as a
stream (``mapPartitions``), add up the partitions' counters, and poll the database for progress
while the job runs (display, heartbeat, status).

The job is collected on a helper thread so the driver's main thread can poll and show progress;
Ctrl-C cancels the Spark job group and re-raises.
"""

from __future__ import annotations

import os
import re
import sys
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from semingest_api.status import SparkMeasures

from .pipeline import Counters, PipelineConfig, partition_runner, with_executor_image_limit
from .progress import ProgressDisplay
from .records import ImageFile
from .reporting import RunProgress
from .spark_measures import spark_measures

if TYPE_CHECKING:
    from pyspark import SparkContext

    from .config import JobConfig

POLL_SECONDS = 2.0
PARTITIONS_PER_CORE = 4
LOCAL_DRIVER_JAVA_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"


@dataclass(frozen=True)
class Execution:
    """What the execute phase did: the partitions' counters added up, how many partitions, and
    where they ran (``engines.Engine`` value; None: nothing ran)."""

    counters: Counters
    partitions: int
    engine: str | None = None
    measures: SparkMeasures | None = None  # Spark's task measures of the run's jobs


def execute_on_spark(
    config: JobConfig,
    pipeline: PipelineConfig,
    todo: list[ImageFile],
    *,
    spark: Any,
    progress: RunProgress,
    display: ProgressDisplay,
) -> Execution:
    """Process ``todo`` on ``spark`` (a SparkSession or SparkContext), the active context, or a new
    one made from ``config`` (stopped at the end: only a context we made is ours to stop)."""
    own_context = False
    if spark is not None:
        sc = getattr(spark, "sparkContext", spark)
    else:
        from pyspark import SparkContext

        sc = SparkContext._active_spark_context
        if sc is None:
            display.note("starting Spark")  # the JVM and its first Python workers take a while
            sc = spark_context(config)
            own_context = True
    try:
        partitions = config.partitions or PARTITIONS_PER_CORE * sc.defaultParallelism
        partitions = max(1, min(partitions, len(todo)))
        pipeline = with_executor_image_limit(pipeline, sc.getConf())
        parts = _collect_polling(sc, pipeline, todo, partitions, progress, display)
        counters = Counters()
        for part in parts:
            counters.merge(part)
        display.close(counters.processed, counters.failed)
        return Execution(
            counters,
            partitions,
            engine="local-spark",
            measures=spark_measures(sc, job_group(pipeline.run_id)),
        )
    finally:
        if own_context:
            sc.stop()


def _collect_polling(
    sc: SparkContext,
    pipeline: PipelineConfig,
    todo: list[ImageFile],
    partitions: int,
    progress: RunProgress,
    display: ProgressDisplay,
) -> list[Counters]:
    rdd = sc.parallelize(todo, partitions).mapPartitions(partition_runner(pipeline))
    group = job_group(pipeline.run_id)
    box: dict[str, Any] = {}

    def collect() -> None:
        try:
            sc.setJobGroup(group, f"semingest ingest {pipeline.run_id}", interruptOnCancel=True)
            box["value"] = rdd.collect()
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            box["error"] = exc

    worker = threading.Thread(target=collect, name="semingest-collect", daemon=True)
    worker.start()
    done = failed = 0
    try:
        while worker.is_alive():
            worker.join(POLL_SECONDS)
            if not worker.is_alive():
                break
            polled = progress.poll()
            if polled is not None:
                done, failed = polled
            display.update(done, failed)
    except KeyboardInterrupt:
        sc.cancelJobGroup(group)
        worker.join(30)
        raise
    if "error" in box:
        raise box["error"]
    return box["value"]


def job_group(run_id: str) -> str:
    """The Spark job group of a run's jobs (cancelled together; their stages are its measures)."""
    return f"semingest-{run_id}"


def spark_context(config: JobConfig) -> SparkContext:
    """A plain SparkContext: the job only uses RDDs, and skipping the SQL session saves ~2 s of start-up."""
    from pyspark import SparkConf, SparkContext

    master = config.master
    if master and master.startswith("local"):
        # Executors of a local master are Python processes started by the JVM: make them this Python.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        if config.task_max_failures and re.fullmatch(r"local\[(\*|\d+)\]", master):
            master = f"{master[:-1]},{config.task_max_failures}]"
    conf = SparkConf().setAppName(config.app_name)
    if master:
        conf.setMaster(master)
        if master.startswith("local"):
            conf.set("spark.ui.enabled", "false").set("spark.log.level", "ERROR")
            # The local driver JVM only schedules and pipes bytes to the Python workers: the
            # quick (C1) compiler and the serial collector start it in about half the time.
            conf.set("spark.driver.extraJavaOptions", LOCAL_DRIVER_JAVA_OPTIONS)
    conf.set("spark.ui.showConsoleProgress", "false").set("spark.python.worker.reuse", "true")
    if config.task_max_failures:
        conf.set("spark.task.maxFailures", str(config.task_max_failures))
    for key, value in config.spark_conf.items():
        conf.set(key, value)
    return SparkContext.getOrCreate(conf)
