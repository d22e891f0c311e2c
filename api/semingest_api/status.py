"""The SemIngest status: its phases, its progress counters and a typed, frozen view of it.

The operator writes the status (phase, run, conditions) and the Spark driver writes the live
progress into it (``semingest_worker.status_reporter``); both read and write it through
``SemIngestStatus``: ``from_body()`` reads an object's ``status``, ``to_patch()`` writes the JSON
merge patch (only what changed since a previous status, ``None`` clearing a field).

The CRD (``crds/semingest.yaml``) declares the same phases and counters in its status schema;
``tests/unit/test_api_status.py`` checks that the two agree.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Phase(StrEnum):
    """``status.phase``: where the SemIngest's current (or last) run stands."""

    PENDING = "Pending"  # nothing started yet, or waiting for the next scheduled tick
    SUBMITTED = "Submitted"  # the run's objects exist; the driver has not started
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"  # the run failed, or the spec is invalid
    SUSPENDED = "Suspended"  # spec.suspend, or the spark-operator suspended the run

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_PHASES


TERMINAL_PHASES = frozenset({Phase.SUCCEEDED, Phase.FAILED})


def format_time(moment: dt.datetime) -> str:
    """RFC 3339 in UTC with second precision, as Kubernetes writes times."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_duration(seconds: float) -> str:
    """A duration as kubectl writes one: 45s, 4m12s, 2h5m, 3d4h."""
    total = max(0, int(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h{minutes}m" if minutes else f"{hours}h"
    if minutes:
        return f"{minutes}m{secs}s" if secs else f"{minutes}m"
    return f"{secs}s"


def parse_time(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(dt.UTC)


@dataclass(frozen=True)
class Progress:
    """``status.progress``: the driver's counters of the active run (a field each)."""

    discovered: int | None = None
    processed: int | None = None
    skipped: int | None = None
    failed: int | None = None
    duplicates: int | None = None
    update_time: dt.datetime | None = None

    @classmethod
    def from_counts(cls, counts: Mapping[str, object], update_time: dt.datetime | None = None) -> Progress:
        """From counters keyed by name (unknown names ignored; values must be integers)."""
        return cls(
            **{k: _integer(k, counts[k]) for k in PROGRESS_KEYS if counts.get(k) is not None},
            update_time=update_time,
        )

    @classmethod
    def from_status(cls, raw: Mapping[str, Any]) -> Progress:
        return cls.from_counts(raw, parse_time(raw.get("updateTime")))

    def counts(self) -> dict[str, int]:
        """The counters that are set, in ``PROGRESS_KEYS`` order."""
        return {k: v for k in PROGRESS_KEYS if (v := getattr(self, k)) is not None}

    @property
    def summary(self) -> str | None:
        """``processed/discovered`` (the Progress column of ``kubectl get``), once discovery is done."""
        if self.discovered is None:
            return None
        return f"{self.processed or 0}/{self.discovered}"

    def to_status(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.counts())
        if self.summary is not None:
            out["summary"] = self.summary
        if self.update_time is not None:
            out["updateTime"] = format_time(self.update_time)
        return out


# The progress counters: the driver reports them, the operator summarises them, ingest_runs keeps them.
PROGRESS_KEYS: tuple[str, ...] = tuple(
    f.name for f in dataclasses.fields(Progress) if f.name != "update_time"
)


@dataclass(frozen=True)
class SparkMeasures:
    """``status.sparkMeasures`` and the run summary's ``spark`` block: Spark's own task measures of
    a run, summed over its stages (what sparkMeasure's stage metrics report)."""

    stages: int = 0
    tasks: int = 0
    executor_run_seconds: float = 0.0  # wall time of the tasks
    executor_cpu_seconds: float = 0.0
    jvm_gc_seconds: float = 0.0
    deserialize_seconds: float = 0.0  # deserialising the tasks on the executors
    input_bytes: int = 0
    shuffle_read_bytes: int = 0
    shuffle_write_bytes: int = 0

    def to_status(self) -> dict[str, int | float]:
        return {_camel(f.name): _rounded(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_status(cls, raw: Mapping[str, Any]) -> SparkMeasures:
        def count(key: str) -> int:
            return int(raw.get(key) or 0)

        def seconds(key: str) -> float:
            return float(raw.get(key) or 0.0)

        return cls(
            stages=count("stages"),
            tasks=count("tasks"),
            executor_run_seconds=seconds("executorRunSeconds"),
            executor_cpu_seconds=seconds("executorCpuSeconds"),
            jvm_gc_seconds=seconds("jvmGcSeconds"),
            deserialize_seconds=seconds("deserializeSeconds"),
            input_bytes=count("inputBytes"),
            shuffle_read_bytes=count("shuffleReadBytes"),
            shuffle_write_bytes=count("shuffleWriteBytes"),
        )


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(p.title() for p in rest)


def _rounded(value: int | float) -> int | float:
    return round(value, 3) if isinstance(value, float) else value


def _integer(key: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"progress {key} must be an integer, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class SemIngestStatus:
    """A typed view of ``status`` (the CRD's status schema, field by field)."""

    phase: Phase | None = None
    message: str | None = None
    observed_generation: int | None = None
    run_id: str | None = None
    run_generation: int | None = None
    spark_application: str | None = None
    driver_pod: str | None = None
    start_time: dt.datetime | None = None
    completion_time: dt.datetime | None = None
    last_schedule_time: dt.datetime | None = None
    last_successful_time: dt.datetime | None = None
    next_schedule_time: dt.datetime | None = None
    duration: str | None = None  # of the last finished run, as kubectl writes durations (4m12s)
    last_run_now: str | None = None  # the run-now annotation value that started a run
    progress: Progress | None = None
    spark_measures: SparkMeasures | None = None
    stage_seconds: Mapping[str, float] | None = None
    sizing: Mapping[str, Any] | None = None
    conditions: tuple[Mapping[str, Any], ...] = field(default=())

    @property
    def run_active(self) -> bool:
        """A run was started and has not completed (whatever the phase says)."""
        return bool(self.run_id) and self.completion_time is None

    @property
    def backend(self) -> str:
        """The run's backend: a recorded SparkApplication means sparkOperator, else native."""
        return "sparkOperator" if self.spark_application else "native"

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> SemIngestStatus:
        """From a SemIngest object (its ``status``; a missing or empty status is the empty view).
        An unknown phase raises ValueError (the CRD's enum rejects it on the API server)."""
        raw: Mapping[str, Any] = body.get("status") or {}
        progress = raw.get("progress")
        return cls(
            phase=Phase(raw["phase"]) if raw.get("phase") else None,
            message=raw.get("message"),
            observed_generation=raw.get("observedGeneration"),
            run_id=raw.get("runId") or None,
            run_generation=raw.get("runGeneration"),
            spark_application=raw.get("sparkApplication") or None,
            driver_pod=raw.get("driverPod") or None,
            start_time=parse_time(raw.get("startTime")),
            completion_time=parse_time(raw.get("completionTime")),
            last_schedule_time=parse_time(raw.get("lastScheduleTime")),
            last_successful_time=parse_time(raw.get("lastSuccessfulTime")),
            next_schedule_time=parse_time(raw.get("nextScheduleTime")),
            duration=raw.get("duration") or None,
            last_run_now=raw.get("lastRunNow") or None,
            progress=None if progress is None else Progress.from_status(progress),
            spark_measures=None
            if not raw.get("sparkMeasures")
            else SparkMeasures.from_status(raw["sparkMeasures"]),
            stage_seconds=_copy(raw.get("stageSeconds")),
            sizing=_copy(raw.get("sizing")),
            conditions=tuple(dict(c) for c in raw.get("conditions") or ()),
        )

    def to_status(self) -> dict[str, Any]:
        """Every field, by its status key (``None`` for the unset ones)."""
        return {key: _encode(getattr(self, name)) for name, key in _KEYS.items()}

    def to_patch(self, since: SemIngestStatus | None = None) -> dict[str, Any]:
        """The merge patch of ``status``: the fields set here (``since`` None), or the fields that
        differ from ``since`` (``None`` clears a field). Empty when nothing changed."""
        if since is None:
            return {k: v for k, v in self.to_status().items() if v not in (None, [])}
        before = since.to_status()
        return {k: v for k, v in self.to_status().items() if v != before[k]}


# field name -> status key (camelCase, as in the CRD)
_KEYS = {f.name: _camel(f.name) for f in dataclasses.fields(SemIngestStatus)}


def _copy(value: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return None if value is None else dict(value)


def _encode(value: Any) -> Any:
    if isinstance(value, Phase):
        return value.value
    if isinstance(value, dt.datetime):
        return format_time(value)
    if isinstance(value, Progress | SparkMeasures):
        return value.to_status()
    if isinstance(value, tuple):
        return [dict(v) for v in value]
    if isinstance(value, Mapping):
        return dict(value)
    return value
