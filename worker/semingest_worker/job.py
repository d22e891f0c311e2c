"""One ingest run: ``run_job(JobConfig(...))`` runs the phases and returns the ``RunSummary``.

The phases (``phases.PHASES``): prepare the database (tables, interrupted runs, this run as
'running'), load the model once on the driver, discover the files to do, execute the pipeline
over them on Spark (partitions as streams, each with one database connection, executors
returning small counters; the driver polls the database for progress meanwhile), finalise
(duplicates, pruning). Whatever happens, the outcome is recorded in ``ingest_runs`` and reported
to the SemIngest's status, and a run-level failure raises ``RunError`` carrying the summary.

Callers: ``semingest run`` (``cli``), the spark-submit entry point (``submit``), the tests.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from dataclasses import replace
from typing import Any, TextIO

from . import database as db
from .config import JobConfig
from .database.runs import RunBook
from .phases import PHASES, RunContext, RunError, RunState, committed_counts, summarise
from .reporting import RunProgress, StatusSink, status_sink_for
from .summary import RunStatus, RunSummary

__all__ = ["JobConfig", "RunError", "RunSummary", "new_run_id", "run_job"]


def new_run_id() -> str:
    return f"run-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{uuid.uuid4().hex[:8]}"


def run_job(
    config: JobConfig,
    *,
    spark: Any = None,
    progress: bool = True,
    progress_stream: TextIO | None = None,
    status_reporter: StatusSink | None = None,
) -> RunSummary:
    """Run one ingest; returns its summary. Raises ``RunError`` (with ``.summary``) for a run-level failure.

    ``status_reporter`` receives the progress; by default one is made for ``config.status_target``
    when that is set.
    """
    state = RunState(started=time.monotonic())
    run_id = config.run_id or new_run_id()
    source = os.path.abspath(config.source)
    try:
        engine = db.create_engine(config.database_url, pooled=True)
    except db.DatabaseURLError as exc:
        failed = RunSummary(run_id, source, "failed", error=str(exc), seconds=0.0)
        raise RunError(str(exc), failed) from None
    book = RunBook(engine, run_id, retry_deadline_seconds=config.retry_deadline_seconds)
    sink = status_reporter if status_reporter is not None else status_sink_for(config.status_target)
    ctx = RunContext(
        config=config,
        run_id=run_id,
        source=source,
        database=db.redact(config.database_url),
        engine=engine,
        book=book,
        progress=RunProgress(book, sink),
        spark=spark,
        show_progress=progress,
        progress_stream=progress_stream,
    )
    try:
        for phase in PHASES:
            phase(ctx, state)
        return _record(ctx, state, "succeeded")
    except RunError as exc:
        exc.summary = _record(ctx, state, "failed", str(exc))
        raise
    except BaseException as exc:
        message = _error_message(exc)
        summary = _record(ctx, state, "failed", message)
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise RunError(message, summary) from exc
    finally:
        ctx.progress.close()
        engine.dispose()


def _record(ctx: RunContext, state: RunState, status: RunStatus, error: str | None = None) -> RunSummary:
    """The summary, reported to the status and recorded in ``ingest_runs``."""
    summary = summarise(ctx, state, status, error)
    ctx.progress.final(summary.counts(), summary.stage_seconds, summary.spark)
    note = ctx.book.finish(
        status,
        counts=summary.counts(),
        stage_seconds=summary.stage_seconds,
        seconds=summary.seconds,
        error=error,
        summary=summary.to_dict(),
    )
    if note is not None:
        return replace(summary, record_error=note)
    if status == "failed" and state.plan is not None and state.execution is None and state.plan.todo:
        # The execute phase failed part way (maybe with the database down at that moment): now that
        # the outcome is recorded, the database answers what the finished batches committed.
        processed, failed = committed_counts(ctx)
        summary = replace(
            summary, processed=max(summary.processed or 0, processed), failed=max(summary.failed or 0, failed)
        )
    return summary


_OUR_ERRORS = ("DatabaseUnavailableError", "RunError", "ModelLoadError")


def _error_message(exc: BaseException) -> str:
    """A clear one-line message for a failure, digging our own error out of a Spark traceback."""
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted (SIGINT); the next run continues where this one stopped"
    text = str(exc)
    for name in _OUR_ERRORS:
        match = re.search(rf"{name}: (.+)", text)
        if match:
            return match.group(1).strip()
    if type(exc).__name__ in ("Py4JJavaError", "PythonException", "SparkException") or "Traceback" in text:
        lines = [
            ln.strip() for ln in text.splitlines() if re.match(r"^\w+(\.\w+)*(Error|Exception): ", ln.strip())
        ]
        if lines:
            return f"Spark job failed: {lines[-1]}"[:1000]
    return f"{type(exc).__name__}: {text}"[:1000]
