"""Prometheus metrics of the operator: per SemIngest (labels ``namespace`` and ``name`` only, plus
small fixed vocabularies: phase, run current/last, the progress counters), and of the operator
itself (reconciliations, render errors).

Everything per SemIngest is derived from its status (``observe``) or from a reconciliation's
before/after (``count``), so a restarted operator exports the same gauges again from the objects.
``Metrics.series`` lists what is exported: the chart's dashboard and alert rules are checked
against it (tests/unit/test_chart_monitoring.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from http.server import HTTPServer
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

from semingest_api.status import PROGRESS_KEYS, Phase, SemIngestStatus

CURRENT, LAST = "current", "last"
INGEST = ("namespace", "name")


def _seconds(moment: dt.datetime) -> float:
    return moment.timestamp()


class Metrics:
    """One operator's metrics, in their own registry (so tests can have several)."""

    def __init__(self, registry: CollectorRegistry | None = None):
        self.registry = registry or CollectorRegistry()
        # series name (counters with _total) -> label names: what the operator exports
        self.series: dict[str, tuple[str, ...]] = {}
        # -- the operator -------------------------------------------------------------------
        self.reconciles = self._counter(
            "semingest_reconciles",
            "Reconciliations of SemIngests, by trigger and result",
            ["trigger", "result"],
        )
        self.render_errors = self._counter(
            "semingest_render_errors", "Specs that could not be rendered, by field", ["field"]
        )
        self.ingests = self._gauge(
            "semingest_ingests",
            "SemIngest objects, by the phase of their current or last run",
            ["phase"],
        )
        # -- per SemIngest --------------------------------------------------------------------
        self.phase = self._gauge(
            "semingest_ingest_phase",
            "1 for the phase a SemIngest is in, 0 for the others",
            [*INGEST, "phase"],
        )
        self.run_files = self._gauge(
            "semingest_run_files",
            f"Files of the current and the last finished run, by outcome ({', '.join(PROGRESS_KEYS)})",
            [*INGEST, "run", "outcome"],
        )
        self.run_start = self._gauge(
            "semingest_run_start_timestamp_seconds",
            "When the current (or last) run started",
            INGEST,
        )
        self.last_run_duration = self._gauge(
            "semingest_last_run_duration_seconds", "How long the last finished run took", INGEST
        )
        self.last_success = self._gauge(
            "semingest_last_success_timestamp_seconds", "When a run last succeeded", INGEST
        )
        self.next_schedule = self._gauge(
            "semingest_next_schedule_timestamp_seconds",
            "When the next scheduled run is due",
            INGEST,
        )
        self.schedule_period = self._gauge(
            "semingest_schedule_period_seconds", "Time between two ticks of the schedule", INGEST
        )
        self.runs_started = self._counter("semingest_runs_started", "Runs started", INGEST)
        self.runs_succeeded = self._counter("semingest_runs_succeeded", "Runs that succeeded", INGEST)
        self.runs_failed = self._counter("semingest_runs_failed", "Runs that failed", INGEST)
        # Per-process cache: the last phase of each SemIngest (namespace, name), for the gauges.
        self._phases: dict[tuple[str, str], Phase] = {}
        for phase in Phase:
            self.ingests.labels(phase.value).set(0)

    def _counter(self, name: str, doc: str, labels: Sequence[str]) -> Counter:
        self.series[f"{name}_total"] = tuple(labels)
        return Counter(name, doc, list(labels), registry=self.registry)

    def _gauge(self, name: str, doc: str, labels: Sequence[str]) -> Gauge:
        self.series[name] = tuple(labels)
        return Gauge(name, doc, list(labels), registry=self.registry)

    # -- per SemIngest ---------------------------------------------------------------------------
    def set_phase(self, namespace: str, name: str, phase: Phase | None) -> None:
        key = (namespace, name)
        if phase is None:
            self._phases.pop(key, None)
        else:
            self._phases[key] = phase
            for p in Phase:
                self.phase.labels(namespace, name, p.value).set(1 if p == phase else 0)
        for p in Phase:
            self.ingests.labels(p.value).set(sum(1 for v in self._phases.values() if v == p))

    def observe(
        self, namespace: str, name: str, status: SemIngestStatus, period: dt.timedelta | None
    ) -> None:
        """Set a SemIngest's gauges from its status (and its schedule's period, None without one)."""
        if status.phase is not None:
            self.set_phase(namespace, name, status.phase)
        counts = status.progress.counts() if status.progress else {}
        run = CURRENT if status.run_active else LAST
        for key in PROGRESS_KEYS:
            if key in counts:
                self.run_files.labels(namespace, name, run, key).set(counts[key])
            else:
                _remove(self.run_files, namespace, name, run, key)
            if run == LAST:  # no run is active: nothing current
                _remove(self.run_files, namespace, name, CURRENT, key)
        if status.start_time is not None:
            self.run_start.labels(namespace, name).set(_seconds(status.start_time))
        if status.start_time is not None and status.completion_time is not None:
            seconds = (status.completion_time - status.start_time).total_seconds()
            self.last_run_duration.labels(namespace, name).set(max(0.0, seconds))
        if status.last_successful_time is not None:
            self.last_success.labels(namespace, name).set(_seconds(status.last_successful_time))
        if status.next_schedule_time is not None:
            self.next_schedule.labels(namespace, name).set(_seconds(status.next_schedule_time))
        else:
            _remove(self.next_schedule, namespace, name)
        if period is not None:
            self.schedule_period.labels(namespace, name).set(period.total_seconds())
        else:
            _remove(self.schedule_period, namespace, name)

    def count(self, namespace: str, name: str, before: SemIngestStatus, after: SemIngestStatus) -> None:
        """Count the runs a reconciliation started and ended (runs started = succeeded + failed +
        the one active)."""
        if after.run_id and after.run_id != before.run_id:
            self.runs_started.labels(namespace, name).inc()
        new_run = after.run_id != before.run_id
        ended = (
            after.run_id and after.completion_time is not None and (new_run or before.completion_time is None)
        )
        if ended and after.phase == Phase.SUCCEEDED:
            self.runs_succeeded.labels(namespace, name).inc()
        elif ended and after.phase == Phase.FAILED:
            self.runs_failed.labels(namespace, name).inc()

    def forget(self, namespace: str, name: str) -> None:
        """A deleted SemIngest: its series go (no stale dashboards, no alerts for what is gone)."""
        self.set_phase(namespace, name, None)
        for p in Phase:
            _remove(self.phase, namespace, name, p.value)
        for run in (CURRENT, LAST):
            for key in PROGRESS_KEYS:
                _remove(self.run_files, namespace, name, run, key)
        for metric in self._per_ingest():
            _remove(metric, namespace, name)

    def _per_ingest(self) -> Iterator[Any]:
        yield from (
            self.run_start,
            self.last_run_duration,
            self.last_success,
            self.next_schedule,
            self.schedule_period,
            self.runs_started,
            self.runs_succeeded,
            self.runs_failed,
        )

    def serve(self, port: int, addr: str = "0.0.0.0") -> HTTPServer:
        """Serve /metrics (port 0: any free port, ``server.server_port`` says which)."""
        server, _thread = start_http_server(port, addr=addr, registry=self.registry)
        return server


def _remove(metric: Any, *labels: str) -> None:
    try:
        metric.remove(*labels)
    except KeyError:
        pass
