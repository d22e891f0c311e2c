"""Spark's own measures of a run, as the seed took them with sparkMeasure: executor run, CPU, GC
and deserialisation time, input and shuffle bytes, summed over the run's stages.

They come from the driver's status store (``AppStatusStore``), the data behind Spark's REST API
``/api/v1/applications/<id>/stages``; it is there with the UI off (local runs), and executors'
task metrics reach it on every backend. Read at the end of the run, before the context stops.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any, Protocol

from semingest_api.status import SparkMeasures

log = logging.getLogger(__name__)
_NS, _MS = 1e-9, 1e-3


class StageData(Protocol):
    """The accessors of ``org.apache.spark.status.api.v1.StageData`` that are read (py4j)."""

    def numTasks(self) -> int: ...  # noqa: N802 - Spark's names
    def executorRunTime(self) -> int: ...  # noqa: N802
    def executorCpuTime(self) -> int: ...  # noqa: N802
    def jvmGcTime(self) -> int: ...  # noqa: N802
    def executorDeserializeTime(self) -> int: ...  # noqa: N802
    def inputBytes(self) -> int: ...  # noqa: N802
    def shuffleReadBytes(self) -> int: ...  # noqa: N802
    def shuffleWriteBytes(self) -> int: ...  # noqa: N802


def sum_stages(stages: Iterable[StageData]) -> SparkMeasures:
    """The measures of all stages (every attempt: a retried stage's work was done too)."""
    seen = list(stages)
    return SparkMeasures(
        stages=len(seen),
        tasks=sum(s.numTasks() for s in seen),
        executor_run_seconds=sum(s.executorRunTime() for s in seen) * _MS,
        executor_cpu_seconds=sum(s.executorCpuTime() for s in seen) * _NS,
        jvm_gc_seconds=sum(s.jvmGcTime() for s in seen) * _MS,
        deserialize_seconds=sum(s.executorDeserializeTime() for s in seen) * _MS,
        input_bytes=sum(s.inputBytes() for s in seen),
        shuffle_read_bytes=sum(s.shuffleReadBytes() for s in seen),
        shuffle_write_bytes=sum(s.shuffleWriteBytes() for s in seen),
    )


def _seq(scala_seq: Any) -> list[Any]:
    return [scala_seq.apply(i) for i in range(scala_seq.size())]


def _java_stages(sc: Any, job_group: str | None) -> list[StageData]:
    """The stages of the application's jobs (of ``job_group`` only, when given: a context handed
    in by a caller may have run other jobs) from the status store. Spark 4's signatures:
    ``jobsList(statuses)``, ``stageList(statuses, details, withSummaries, quantiles, taskStatuses)``."""
    store = sc._jsc.sc().statusStore()
    wanted: set[int] | None = None
    if job_group is not None:
        wanted = set()
        for job in _seq(store.jobsList(None)):
            group = job.jobGroup()
            if group.isDefined() and group.get() == job_group:
                wanted.update(_seq(job.stageIds()))
    gateway = sc._gateway
    stages = _seq(store.stageList(None, False, False, gateway.new_array(gateway.jvm.double, 0), None))
    return [s for s in stages if wanted is None or s.stageId() in wanted]


def spark_measures(sc: Any, job_group: str | None = None) -> SparkMeasures | None:
    """The measures of the application's stages (those of ``job_group``'s jobs when given), or
    None when the status store cannot be read (another Spark version's API, a stopped context):
    a run never fails for its measures."""
    try:
        return sum_stages(_java_stages(sc, job_group))
    except Exception as exc:  # noqa: BLE001 - py4j raises Py4JError/Py4JJavaError/AttributeError
        log.warning("Spark's stage measures are not available: %s: %s", type(exc).__name__, exc)
        return None
