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


def _java_stages(sc: Any) -> list[StageData]:
    """Every stage of the application from the status store (Spark 4:
    ``stageList(statuses, details, withSummaries, quantiles, taskStatuses)``)."""
    store = sc._jsc.sc().statusStore()
    gateway = sc._gateway
    stages = store.stageList(None, False, False, gateway.new_array(gateway.jvm.double, 0), None)
    out = []
    iterator = stages.iterator()
    while iterator.hasNext():
        out.append(iterator.next())
    return out


def spark_measures(sc: Any) -> SparkMeasures | None:
    """The application's measures so far, or None when the status store cannot be read (another
    Spark version's API, a stopped context): a run never fails for its measures."""
    try:
        return sum_stages(_java_stages(sc))
    except Exception as exc:  # noqa: BLE001 - py4j raises Py4JError/Py4JJavaError/AttributeError
        log.warning("Spark's stage measures are not available: %s: %s", type(exc).__name__, exc)
        return None
