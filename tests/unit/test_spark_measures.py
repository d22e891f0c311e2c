"""Spark's task measures of a run, summed over its stages (pure: stages as Spark's accessors)."""

from __future__ import annotations

from dataclasses import dataclass

from semingest_api.status import SparkMeasures
from semingest_worker.spark_measures import spark_measures, sum_stages


@dataclass
class Stage:
    tasks: int
    run_ms: int
    cpu_ns: int
    gc_ms: int
    deser_ms: int
    input_bytes: int = 0
    shuffle_read: int = 0
    shuffle_write: int = 0

    def numTasks(self) -> int:  # noqa: N802 - Spark's accessor names
        return self.tasks

    def executorRunTime(self) -> int:  # noqa: N802
        return self.run_ms

    def executorCpuTime(self) -> int:  # noqa: N802
        return self.cpu_ns

    def jvmGcTime(self) -> int:  # noqa: N802
        return self.gc_ms

    def executorDeserializeTime(self) -> int:  # noqa: N802
        return self.deser_ms

    def inputBytes(self) -> int:  # noqa: N802
        return self.input_bytes

    def shuffleReadBytes(self) -> int:  # noqa: N802
        return self.shuffle_read

    def shuffleWriteBytes(self) -> int:  # noqa: N802
        return self.shuffle_write


def test_stages_add_up_in_seconds_and_bytes():
    measures = sum_stages(
        [
            Stage(4, 14110, 528_552_153, 60, 310, shuffle_write=1292),
            Stage(4, 1092, 89_750_461, 338, 373, shuffle_read=1292, input_bytes=10),
        ]
    )
    assert measures.stages == 2 and measures.tasks == 8
    assert measures.executor_run_seconds == 15.202
    assert round(measures.executor_cpu_seconds, 6) == 0.618303
    assert round(measures.jvm_gc_seconds, 3) == 0.398 and round(measures.deserialize_seconds, 3) == 0.683
    assert (measures.input_bytes, measures.shuffle_read_bytes, measures.shuffle_write_bytes) == (
        10,
        1292,
        1292,
    )
    assert sum_stages([]) == SparkMeasures()


def test_an_unreadable_status_store_gives_no_measures_and_never_fails_the_run(caplog):
    class Stopped:
        def __getattr__(self, name):
            raise AttributeError(f"'NoneType' object has no attribute {name!r}")

    assert spark_measures(Stopped()) is None
    assert "Spark's stage measures are not available" in caplog.text
