"""What a run reports: the typed ``RunSummary`` (printed by ``semingest run``, stored in
``ingest_runs.summary``, returned by ``run_job``) and its JSON form.

A field that is None was not reached (a run that failed before discovery has no counts) and is
left out of the JSON, as are empty optional lists.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Literal

RunStatus = Literal["running", "succeeded", "failed"]
UNREADABLE_SAMPLE = 50  # unreadable folders listed in a summary


@dataclass(frozen=True)
class InferenceSummary:
    status: Literal["done", "skipped"]
    model_id: str | None = None  # when done
    reason: str | None = None  # when skipped
    classified: int | None = None  # images classified, when the run succeeded

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    source: str
    status: RunStatus
    database: str | None = None  # the URL, password redacted
    inference: InferenceSummary | None = None
    vanished: int | None = None  # files of earlier runs that are gone (marked missing)
    # discovery
    discovered: int | None = None
    skipped: int | None = None  # already ingested
    processed: int | None = None  # files whose outcome was committed (ok or failed)
    failed: int | None = None
    unreadable: list[str] = field(default_factory=list)  # folders that could not be read (a sample)
    pruned_images: int | None = None  # images no file points at any more (when files changed)
    # outcome
    duplicates: int | None = None
    changed: int | None = None  # known files whose size, mtime or sidecars changed
    seconds: float | None = None
    images_per_second: float | None = None
    stage_seconds: dict[str, float] | None = None
    per_vendor: dict[str, dict[str, int]] | None = None
    partitions: int | None = None
    engine: str | None = None  # where the pipeline ran: inline or local-spark (nothing to do: None)
    spark: dict[str, int | float] | None = None  # Spark's task measures (SparkMeasures.to_status())
    database_retries: int | None = None
    rejected_by_database: int | None = None
    failures: dict[str, str] | None = None  # a sample: path -> reason
    error: str | None = None  # why the run failed
    record_error: str | None = None  # why the outcome could not be recorded in ingest_runs

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: fields that are None (or an empty ``unreadable``) left out."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None or (f.name == "unreadable" and not value):
                continue
            out[f.name] = value.to_dict() if isinstance(value, InferenceSummary) else value
        return out

    def counts(self) -> dict[str, int]:
        """The ``ingest_runs`` counters (0 where not reached)."""
        from .database.runs import COUNTERS

        return {name: getattr(self, name) or 0 for name in COUNTERS}
