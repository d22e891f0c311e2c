"""Book-keeping of runs in ``ingest_runs``: start, heartbeat (progress), finish, interrupted runs.

``RunBook`` is the one bookkeeper a run uses (open, model, heartbeats, progress polls, outcome);
the functions below it are its single-statement steps, each on a connection the caller holds.

A run is 'running' from its start until the driver records 'succeeded' or 'failed'. A driver
killed outright (SIGKILL, node loss) cannot record anything, so each run first marks earlier
'running' runs as failed when they are evidently dead: their driver ran on this host and its
process is gone, or their heartbeat is older than ``STALE_AFTER``.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from semingest_api.stages import Stage
from semingest_api.status import PROGRESS_KEYS

from ..identity import display_path
from ..provenance import reader_versions, semingest_version
from . import queries, schema
from .retry import call_with_retry, describe
from .rows import integer, now_utc, number, text, to_json

log = logging.getLogger(__name__)

runs = schema.ingest_runs
STALE_AFTER = timedelta(minutes=10)
COUNTERS = PROGRESS_KEYS  # the ingest_runs counter columns are the status progress counters
HEARTBEAT_SECONDS = 15.0  # at most one progress update of the run's row this often (unless forced)
OUTCOME_DEADLINE_SECONDS = 30.0  # the least time spent retrying to record a run's outcome


class RunBook:
    """The run's row in ``ingest_runs``, from 'running' to its outcome.

    ``open`` creates missing tables, marks dead runs failed and records this run as 'running'
    (retried until the deadline; the caller turns a failure into the run's error). Heartbeats and
    progress polls never raise: the database may be restarting while the writers ride it out.
    """

    def __init__(
        self,
        engine: sa.Engine,
        run_id: str,
        *,
        retry_deadline_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.engine = engine
        self.run_id = run_id
        self.retry_deadline_seconds = retry_deadline_seconds
        self.opened = False
        self._clock = clock
        self._last_heartbeat: float | None = None

    def open(self, source: str, *, what: str, parameters: Mapping[str, Any] | None = None) -> None:
        def prepare() -> None:
            schema.create_schema(self.engine)
            with self.engine.begin() as conn:
                for marked in mark_interrupted_runs(conn):
                    log.warning("run %s had been interrupted; marked failed", marked)
                start_run(conn, self.run_id, source=source, model_id=None, parameters=parameters)

        call_with_retry(prepare, deadline_seconds=self.retry_deadline_seconds, what=what)
        self.opened = True

    def set_model(self, model_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.update(runs).where(runs.c.id == self.run_id).values(model_id=model_id))

    def heartbeat(self, counts: Mapping[str, Any], *, force: bool = False) -> None:
        """Record the progress counters (at most every ``HEARTBEAT_SECONDS`` unless ``force``)."""
        now = self._clock()
        if not force and self._last_heartbeat is not None and now - self._last_heartbeat < HEARTBEAT_SECONDS:
            return
        self._last_heartbeat = now
        try:
            with self.engine.begin() as conn:
                heartbeat(conn, self.run_id, counts)
        except Exception as exc:  # noqa: BLE001 - the database may be restarting; the writers retry
            log.info("heartbeat not recorded: %s", describe(exc))

    def file_counts(self) -> tuple[int, int] | None:
        """``(done, failed)`` files this run has committed, or None when the database did not answer."""
        try:
            with self.engine.connect() as conn:
                return queries.run_file_counts(conn, self.run_id)
        except Exception as exc:  # noqa: BLE001 - the database may be down for a moment
            log.info("progress poll failed: %s", describe(exc))
            return None

    def finish(
        self,
        status: str,
        *,
        counts: Mapping[str, Any],
        stage_seconds: Mapping[str, float] | None,
        seconds: float | None,
        error: str | None,
        summary: Mapping[str, Any],
    ) -> str | None:
        """Record the outcome (when the run was opened). Returns why it could not be recorded, if so."""
        if not self.opened:
            return None

        def record() -> None:
            with self.engine.begin() as conn:
                finish_run(
                    conn,
                    self.run_id,
                    status=status,
                    counts=counts,
                    stage_seconds=stage_seconds,
                    seconds=seconds,
                    error=error,
                    summary=summary,
                )

        try:
            call_with_retry(
                record,
                deadline_seconds=max(self.retry_deadline_seconds, OUTCOME_DEADLINE_SECONDS),
                what="recording the run's outcome",
            )
        except Exception as exc:  # noqa: BLE001 - report it; the run's own outcome stands
            note = f"the outcome could not be recorded in ingest_runs: {describe(exc)}"
            log.error(note)
            return note
        return None


def _counter_values(counts: Mapping[str, Any]) -> dict[str, Any]:
    return {k: integer(counts.get(k)) or 0 for k in COUNTERS if k in counts}


def _stage_values(stage_seconds: Mapping[str, float] | None) -> dict[str, Any]:
    if not stage_seconds:
        return {}
    return {f"{stage}_seconds": number(stage_seconds[stage]) for stage in Stage if stage in stage_seconds}


def start_run(
    conn: sa.Connection,
    run_id: str,
    *,
    source: str,
    model_id: str | None,
    started_at: datetime | None = None,
    parameters: Mapping[str, Any] | None = None,
) -> None:
    """Insert the run as 'running' (a restarted driver with the same id resets it to 'running').

    The run records the semingest release, every stage's reader version and its ``parameters``.
    """
    now = started_at or now_utc()
    values = {
        "semingest_version": semingest_version(),
        "reader_versions": to_json(reader_versions()),
        "parameters": to_json(parameters) if parameters is not None else None,
        "source": display_path(source),
        "heartbeat_at": now,
        "status": "running",
        "finished_at": None,
        "error": None,
        "model_id": model_id,
        "driver_host": text(socket.gethostname(), 255),
        "driver_pid": os.getpid(),
    }
    exists = conn.execute(sa.select(runs.c.id).where(runs.c.id == run_id)).first()
    if exists:
        conn.execute(sa.update(runs).where(runs.c.id == run_id).values(**values))
    else:
        conn.execute(sa.insert(runs).values(id=run_id, started_at=now, **{c: 0 for c in COUNTERS}, **values))


def heartbeat(
    conn: sa.Connection,
    run_id: str,
    counts: Mapping[str, Any],
    stage_seconds: Mapping[str, float] | None = None,
) -> None:
    values = {"heartbeat_at": now_utc(), **_counter_values(counts), **_stage_values(stage_seconds)}
    conn.execute(sa.update(runs).where(runs.c.id == run_id, runs.c.status == "running").values(**values))


def finish_run(
    conn: sa.Connection,
    run_id: str,
    *,
    status: str,
    counts: Mapping[str, Any],
    stage_seconds: Mapping[str, float] | None,
    seconds: float | None,
    error: str | None = None,
    summary: Mapping[str, Any] | None = None,
) -> None:
    if status not in ("succeeded", "failed"):
        raise ValueError(f"a run finishes 'succeeded' or 'failed', not {status!r}")
    now = now_utc()
    counters = _counter_values(counts)
    if status == "failed":
        # A run that failed part way committed what its finished batches wrote: count that, not
        # what the driver heard of before it failed (often nothing).
        files, failed = queries.run_file_counts(conn, run_id)
        counters["processed"] = max(counters.get("processed", 0), files)
        counters["failed"] = max(counters.get("failed", 0), failed)
    values = {
        "status": status,
        "finished_at": now,
        "heartbeat_at": now,
        "seconds": number(seconds),
        "error": text(error),
        "summary": to_json(summary) if summary is not None else None,
        **counters,
        **_stage_values(stage_seconds),
    }
    conn.execute(sa.update(runs).where(runs.c.id == run_id).values(**values))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def mark_interrupted_runs(conn: sa.Connection, *, now: datetime | None = None) -> list[str]:
    """Mark evidently dead 'running' runs as failed; returns their ids."""
    now = now or now_utc()
    host = socket.gethostname()
    rows = conn.execute(
        sa.select(runs.c.id, runs.c.driver_host, runs.c.driver_pid, runs.c.heartbeat_at).where(
            runs.c.status == "running"
        )
    ).all()
    marked: list[str] = []
    for run_id, driver_host, driver_pid, heartbeat_at in rows:
        if driver_host == host and driver_pid and driver_pid != os.getpid() and not _pid_alive(driver_pid):
            reason = (
                f"interrupted: the driver process {driver_pid} on {host} ended without recording an outcome"
            )
        elif heartbeat_at is not None and now - heartbeat_at > STALE_AFTER:
            reason = f"interrupted: no heartbeat from the driver since {heartbeat_at.isoformat()} UTC"
        else:
            continue
        conn.execute(
            sa.update(runs)
            .where(runs.c.id == run_id, runs.c.status == "running")
            .values(status="failed", finished_at=now, error=reason)
        )
        marked.append(run_id)
    return marked


def get_run(conn: sa.Connection, run_id: str) -> dict[str, Any] | None:
    row = conn.execute(sa.select(runs).where(runs.c.id == run_id)).first()
    return dict(row._mapping) if row is not None else None
