"""A run in named phases: prepare database -> load model -> discover -> execute -> finalise.

Each phase is a function ``(RunContext, RunState) -> None``. It takes what it needs from the
context (the config and the run's resources: engine, ``RunBook``, progress) and from the state
(what earlier phases found), and fills its own slot of the state; it raises ``RunError`` with a
clear message for a run-level failure. ``PHASES`` lists them in order; ``job.run_job`` runs them
and turns the state into the typed ``RunSummary`` (``summarise``), also when a phase fails.

Adding a phase is one function here and one entry in ``PHASES`` (plus a slot in ``RunState``
and a field in ``RunSummary`` when it has something to report).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, TextIO

import sqlalchemy as sa

from . import database as db
from . import engines
from .database import canonical, migrate, queries
from .database.runs import RunBook
from .discovery import Plan, list_images, plan_ingest
from .pipeline import Counters
from .progress import ProgressDisplay
from .reporting import RunProgress
from .spark_run import Execution, execute_on_spark
from .summary import UNREADABLE_SAMPLE, InferenceSummary, RunStatus, RunSummary

if TYPE_CHECKING:
    from .config import JobConfig
    from .inference import ModelConfig

log = logging.getLogger(__name__)


class RunError(RuntimeError):
    """A run-level failure (bad database URL, database down past the deadline, model not loadable...).

    ``summary`` is the failed run's summary (set by ``run_job`` before it raises).
    """

    def __init__(self, message: str, summary: RunSummary | None = None):
        super().__init__(message)
        self.summary = summary


@dataclass(frozen=True)
class RunContext:
    """The run's configuration and resources (made by ``run_job``, shared by the phases)."""

    config: JobConfig
    run_id: str
    source: str  # absolute
    database: str  # the URL, password redacted
    engine: sa.Engine
    book: RunBook
    progress: RunProgress
    spark: Any = None  # a SparkSession or SparkContext handed in by the caller, or None
    show_progress: bool = True
    progress_stream: TextIO | None = None

    def retrying(self, fn: Callable[[], Any], what: str) -> Any:
        return db.call_with_retry(fn, deadline_seconds=self.config.retry_deadline_seconds, what=what)


@dataclass(frozen=True)
class Totals:
    duplicates: int
    pruned_images: int


@dataclass
class RunState:
    """What the phases found; each phase fills its own slot."""

    started: float  # time.monotonic() at the start
    inference: InferenceSummary | None = None  # load_model
    model_id: str | None = None  # load_model
    vanished: int = 0  # discover: files of earlier runs that are gone (marked missing)
    plan: Plan | None = None  # discover
    execution: Execution | None = None  # execute
    totals: Totals | None = None  # finalise


Phase = Callable[[RunContext, RunState], None]


# -- the phases ---------------------------------------------------------------------------------------
def prepare_database(ctx: RunContext, state: RunState) -> None:
    """Create missing tables, mark dead runs failed, record this run as 'running'."""
    try:
        ctx.book.open(ctx.source, what=f"connecting to {ctx.database}", parameters=ctx.config.parameters())
    except (db.DatabaseUnavailableError, migrate.SchemaError) as exc:
        raise RunError(str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - access denied, unknown database...: say which
        raise RunError(f"cannot use the database {ctx.database}: {db.retry.describe(exc)}") from None


def load_model(ctx: RunContext, state: RunState) -> None:
    """Load the model once, on the driver (a model that cannot be loaded fails the run before any image)."""
    model = ctx.config.model
    if model is None:
        state.inference = InferenceSummary("skipped", reason=ctx.config.inference_skipped_because)
        return
    state.model_id = _load_classifier_id(model)
    ctx.book.set_model(state.model_id)
    state.inference = InferenceSummary("done", model_id=state.model_id)


def discover(ctx: RunContext, state: RunState) -> None:
    """List the images, mark files of earlier runs that are gone as missing (their images
    re-elected), and drop the files already ingested (by this run's model, when there is one)."""
    config = ctx.config
    try:
        listing = list_images(ctx.source, config.include, config.exclude)
    except (FileNotFoundError, NotADirectoryError, PermissionError) as exc:
        raise RunError(str(exc)) from None
    if not listing.files:
        excluded = f"; exclude: {', '.join(config.exclude)}" if config.exclude else ""
        log.warning(
            "no file under %s matches the include patterns (%s%s)",
            ctx.source,
            ", ".join(config.include),
            excluded,
        )
    listed = {f.path_key for f in listing.files}

    def known() -> dict[str, tuple[int, int, str | None]]:
        with ctx.engine.begin() as conn:
            stored = queries.known_files(conn, ctx.source)  # every file under the folder not missing
            state.vanished = canonical.mark_vanished(conn, ctx.source, listed, ctx.run_id, stored.keys())
            if state.model_id is None and not config.reprocess:
                return stored  # a file vanished just now is not listed: the plan never asks for it
            return queries.known_files(conn, ctx.source, state.model_id, config.reprocess)

    state.plan = plan = plan_ingest(listing, ctx.retrying(known, "listing the ingested files"))
    ctx.progress.update(
        {"discovered": plan.discovered, "skipped": plan.skipped, "processed": 0, "failed": 0}, force=True
    )


def execute(ctx: RunContext, state: RunState) -> None:
    """Run the pipeline over the files to do, inline or on Spark (``engines``; nothing to do:
    neither starts)."""
    assert state.plan is not None
    if not state.plan.todo:
        return
    todo = state.plan.todo
    config = ctx.config
    try:
        threshold = engines.inline_max_files(config.inline_max_files)
    except ValueError as exc:
        raise RunError(str(exc)) from None
    requested = engines.Engine(config.engine) if ctx.spark is None else engines.Engine.LOCAL_SPARK
    if engines.choose(requested, len(todo), threshold, config.master) is engines.Engine.INLINE:
        display = ProgressDisplay(
            len(todo), stream=ctx.progress_stream, enabled=ctx.show_progress, started=state.started
        )

        def tick() -> None:
            polled = ctx.progress.poll()
            if polled is not None:
                display.update(*polled)

        counters, partitions = engines.execute_inline(
            config.pipeline_config(ctx.run_id, state.model_id),
            todo,
            workers=engines.workers_for(config.master),
            tick=tick,
        )
        display.close(counters.processed, counters.failed)
        state.execution = Execution(counters, partitions, engine=engines.Engine.INLINE.value)
        return
    state.execution = execute_on_spark(
        ctx.config,
        ctx.config.pipeline_config(ctx.run_id, state.model_id),
        todo,
        spark=ctx.spark,
        progress=ctx.progress,
        display=ProgressDisplay(
            len(todo), stream=ctx.progress_stream, enabled=ctx.show_progress, started=state.started
        ),
    )


def finalise(ctx: RunContext, state: RunState) -> None:
    """Count this run's duplicates and, when files changed, prune images no file points at any more."""
    assert state.plan is not None
    plan = state.plan

    def totals() -> Totals:
        with ctx.engine.begin() as conn:
            duplicates = queries.count_duplicates(conn, ctx.run_id) if plan.todo else 0
            return Totals(duplicates, queries.prune_orphans(conn) if plan.changed else 0)

    state.totals = ctx.retrying(totals, "counting duplicates")


PHASES: tuple[Phase, ...] = (prepare_database, load_model, discover, execute, finalise)


# -- the summary ----------------------------------------------------------------------------------------
def summarise(ctx: RunContext, state: RunState, status: RunStatus, error: str | None = None) -> RunSummary:
    """The run's summary from what the phases found (as far as they got)."""
    seconds = time.monotonic() - state.started
    summary = RunSummary(
        run_id=ctx.run_id,
        source=ctx.source,
        status=status,
        database=ctx.database,
        inference=state.inference,
        error=error,
        seconds=round(seconds, 3),
        vanished=state.vanished or None,
    )
    plan = state.plan
    if plan is None:
        return summary
    execution = state.execution or Execution(Counters(), partitions=0)  # nothing to do: no Spark
    counters = execution.counters
    summary = replace(
        summary,
        discovered=plan.discovered,
        skipped=plan.skipped,
        processed=counters.processed,
        failed=counters.failed,
        unreadable=plan.unreadable[:UNREADABLE_SAMPLE],
    )
    if status != "succeeded" or state.totals is None:
        return summary
    return _with_outcome(summary, plan, execution, state.totals, seconds)


def committed_counts(ctx: RunContext) -> tuple[int, int]:
    """(files, failed files) this run wrote, read back (0, 0 when the database is unreachable)."""
    try:
        with ctx.engine.connect() as conn:
            return queries.run_file_counts(conn, ctx.run_id)
    except Exception:  # noqa: BLE001 - a failed run's summary must not fail too
        log.warning("cannot count the files run %s committed", ctx.run_id, exc_info=True)
        return 0, 0


def _with_outcome(
    summary: RunSummary, plan: Plan, execution: Execution, totals: Totals, seconds: float
) -> RunSummary:
    """What only a run that got through every phase reports."""
    counters = execution.counters
    inference = summary.inference
    if inference is not None and inference.status == "done":
        inference = replace(inference, classified=sum(v["images"] for v in counters.per_vendor.values()))
    return replace(
        summary,
        inference=inference,
        pruned_images=totals.pruned_images or None,
        duplicates=totals.duplicates,
        changed=plan.changed,
        images_per_second=round(counters.processed / seconds, 3) if seconds > 0 else None,
        stage_seconds={k: round(v, 3) for k, v in counters.stage_seconds.items()},
        per_vendor=dict(sorted(counters.per_vendor.items())),
        partitions=execution.partitions,
        engine=execution.engine,
        spark=execution.measures.to_status() if execution.measures is not None else None,
        database_retries=counters.database_retries,
        rejected_by_database=counters.rejected_by_database,
        failures=dict(sorted(counters.failures.items())),
    )


def _load_classifier_id(model: ModelConfig) -> str:
    from .inference import ModelLoadError, load_classifier

    try:
        classifier = load_classifier(model)
    except ModelLoadError as exc:
        raise RunError(f"cannot load the model: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - anything TensorFlow throws is the same verdict
        raise RunError(f"cannot load the model {model.path}: {type(exc).__name__}: {exc}") from None
    return classifier.model_id
