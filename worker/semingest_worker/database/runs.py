"""Book-keeping of runs in ``ingest_runs``: start, heartbeat (progress), finish, interrupted runs.

A run is 'running' from its start until the driver records 'succeeded' or 'failed'. A driver
killed outright (SIGKILL, node loss) cannot record anything, so each run first marks earlier
'running' runs as failed when they are evidently dead: their driver ran on this host and its
process is gone, or their heartbeat is older than ``STALE_AFTER``.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from semingest_api.status import PROGRESS_KEYS

from ..identity import display_path
from ..provenance import reader_versions, semingest_version
from . import schema
from .rows import integer, now_utc, number, text, to_json

runs = schema.ingest_runs
STALE_AFTER = timedelta(minutes=10)
COUNTERS = PROGRESS_KEYS  # the ingest_runs counter columns are the status progress counters


def _counter_values(counts: Mapping[str, Any]) -> dict[str, Any]:
    return {k: integer(counts.get(k)) or 0 for k in COUNTERS if k in counts}


def _stage_values(stage_seconds: Mapping[str, float] | None) -> dict[str, Any]:
    if not stage_seconds:
        return {}
    return {
        f"{stage}_seconds": number(stage_seconds[stage])
        for stage in schema.RUN_STAGES
        if stage in stage_seconds
    }


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
    values = {
        "status": status,
        "finished_at": now,
        "heartbeat_at": now,
        "seconds": number(seconds),
        "error": text(error),
        "summary": to_json(summary) if summary is not None else None,
        **_counter_values(counts),
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
