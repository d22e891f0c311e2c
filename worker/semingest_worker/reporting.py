"""Where a run's progress goes while it runs: ``ingest_runs`` (through its ``RunBook``) and,
when there is one, the SemIngest's status (through a ``StatusSink`` such as ``StatusReporter``).

The counters are kept here, merged as the phases report them, so the heartbeat, the status and
the final report all show the same numbers. Status reports are a convenience: a failing one is
logged, never raised.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Protocol

from .database.runs import RunBook

log = logging.getLogger(__name__)

STATUS_SECONDS = 10.0  # the status reporter rate-limits too; the operator wants at most 30 s


class StatusSink(Protocol):
    """What receives the progress (``StatusReporter`` in a cluster; a recorder in the tests)."""

    def report(
        self,
        progress: Mapping[str, object],
        stage_seconds: Mapping[str, float],
        phase: str | None = None,
        force: bool = False,
        spark_measures: Mapping[str, int | float] | None = None,
    ) -> bool: ...


def status_sink_for(target: str | None) -> StatusSink | None:
    """A ``StatusReporter`` for ``"namespace/name"`` (None without a target, or when it cannot be made)."""
    if not target:
        return None
    try:
        from .status_reporter import StatusReporter

        return StatusReporter.from_target(target)
    except Exception:  # noqa: BLE001 - status is a convenience; the ingest goes on without it
        log.warning("cannot report status to %s", target, exc_info=True)
        return None


class RunProgress:
    def __init__(
        self, book: RunBook, sink: StatusSink | None, *, clock: Callable[[], float] = time.monotonic
    ):
        self.book = book
        self.sink = sink
        self.counts: dict[str, int] = {}
        self._clock = clock
        self._last_status: float | None = None

    def update(self, counts: Mapping[str, int], *, force: bool = False) -> None:
        """Merge ``counts``; heartbeat and status (each rate-limited unless ``force``)."""
        self.counts.update(counts)
        self.book.heartbeat(self.counts, force=force)
        self._report(force)

    def poll(self) -> tuple[int, int] | None:
        """Ask the database how many files this run has committed; ``(done, failed)`` or None."""
        polled = self.book.file_counts()
        if polled is None:
            self._report(False)
            return None
        done, failed = polled
        self.update({"processed": done, "failed": failed})
        return polled

    def final(
        self,
        counts: Mapping[str, int],
        stage_seconds: Mapping[str, float] | None,
        spark_measures: Mapping[str, int | float] | None = None,
    ) -> None:
        """The last report: the outcome's counts, stage seconds and Spark's measures (forced)."""
        self.counts.update(counts)
        self._report(True, stage_seconds, spark_measures)

    def close(self) -> None:
        sink, self.sink = self.sink, None
        close = getattr(sink, "close", None)
        if callable(close):
            try:
                close()
            except Exception:  # noqa: BLE001
                log.debug("closing the status reporter failed", exc_info=True)

    def _report(
        self,
        force: bool,
        stage_seconds: Mapping[str, float] | None = None,
        spark_measures: Mapping[str, int | float] | None = None,
    ) -> None:
        if self.sink is None:
            return
        now = self._clock()
        if not force and self._last_status is not None and now - self._last_status < STATUS_SECONDS:
            return
        self._last_status = now
        try:
            if spark_measures:
                self.sink.report(
                    dict(self.counts),
                    dict(stage_seconds or {}),
                    force=force,
                    spark_measures=dict(spark_measures),
                )
            else:  # sinks that predate the measures keep working
                self.sink.report(dict(self.counts), dict(stage_seconds or {}), force=force)
        except Exception:  # noqa: BLE001
            log.warning("status report failed", exc_info=True)
