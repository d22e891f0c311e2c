"""The Spark job: discover on the driver, process partitions as streams, aggregate, record the run.

Two ways in:

* ``run_job(JobConfig(...))``: what ``semingest run`` (local Spark) and the tests call.
* ``main(argv)``: the spark-submit entry point in the worker image. It takes the SemIngest spec
  (``--spec FILE`` or ``--spec-json JSON``; a whole SemIngest object or just its ``spec``), reads
  the database URL from ``$SEMINGEST_DATABASE_URL``, scans ``/data/source/<spec.source.path>``
  (or ``--source-root``), and reports progress to the SemIngest's status (``--semingest NS/NAME``).

A run: (1) connect, create missing tables, mark runs whose driver died as failed, record this run
as 'running'; (2) load the model once on the driver when inference is on (a model that cannot be
loaded fails the run before any image); (3) list the images and drop those already ingested;
(4) spread the rest over partitions (default 4 per core) and ``mapPartitions`` the pipeline over
them, each partition a stream with one database connection, executors returning small counters;
(5) while that runs, poll the database for progress (display, heartbeat, status); (6) add up the
counters, count duplicates, and record the outcome in ``ingest_runs``.

Exit status of ``main`` (and ``semingest run``): 0 when the run completed, even with failed
images (their count is reported); 1 for a run-level failure, with a clear message.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import imageio
from .discovery import DEFAULT_INCLUDE, list_images, plan_ingest
from .pipeline import Counters, PipelineConfig, partition_runner, with_executor_image_limit
from .progress import ProgressDisplay

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 15.0
POLL_SECONDS = 2.0
STATUS_SECONDS = 10.0  # the status reporter rate-limits too; the operator wants at most 30 s


class RunError(RuntimeError):
    """A run-level failure (bad database URL, database down past the deadline, model not loadable...)."""

    def __init__(self, message: str, summary: dict[str, Any] | None = None):
        super().__init__(message)
        self.summary = summary or {}


@dataclass(frozen=True)
class JobConfig:
    """Everything a run needs. ``model`` (an ``inference.ModelConfig``) switches inference on."""

    source: str
    database_url: str
    include: tuple[str, ...] = DEFAULT_INCLUDE
    exclude: tuple[str, ...] = ()
    metadata: bool = True
    scale_bar: bool = True
    thumbnails: bool = True
    model: Any = None
    partitions: int | None = None  # default: 4 x Spark's default parallelism
    batch_size: int = 500  # files per database transaction
    retry_deadline_seconds: float = 300.0
    max_pixels: int = imageio.DEFAULT_MAX_PIXELS
    run_id: str | None = None
    master: str | None = None  # None: whatever spark-submit configured
    spark_conf: Mapping[str, str] = field(default_factory=dict)
    task_max_failures: int | None = None
    status_target: str | None = None  # "namespace/name" of the SemIngest to report to
    app_name: str = "semingest"
    inference_skipped_because: str = "no model given"  # what the summary says when model is None
    # Stages whose rows from an older reader are re-extracted (``--reprocess``; provenance.Stage values).
    reprocess: tuple[str, ...] = ()

    @classmethod
    def from_spec(
        cls,
        spec: Any,
        *,
        database_url: str,
        source_root: str | None = None,
        run_id: str | None = None,
        status_target: str | None = None,
        master: str | None = None,
    ) -> JobConfig:
        """A JobConfig from a SemIngest spec (dict or ``spec.SemIngestSpec``), paths as mounted in the pods."""
        from semingest_api import spec as spec_mod

        parsed = spec if isinstance(spec, spec_mod.SemIngestSpec) else spec_mod.parse_spec(spec)
        root = source_root or os.path.join(spec_mod.SOURCE_MOUNT, parsed.source.path.lstrip("/"))
        model = None
        skipped_because = "no model given"
        if parsed.model is not None and not parsed.stages.inference:
            skipped_because = "stage off (spec.stages.inference is false)"
        if parsed.model is not None and parsed.stages.inference:
            from .inference import ModelConfig

            def mounted(path: str | None) -> str | None:
                return None if path is None else os.path.join(spec_mod.MODEL_MOUNT, path.lstrip("/"))

            model = ModelConfig(
                path=mounted(parsed.model.path),
                labels_path=mounted(parsed.model.labels),
                batch_size=parsed.model.batch_size,
                input_tensor=parsed.model.input_tensor,
                output_tensor=parsed.model.output_tensor,
            )
        return cls(
            source=os.path.normpath(root),
            database_url=database_url,
            include=tuple(parsed.source.include),
            exclude=tuple(parsed.source.exclude),
            metadata=parsed.stages.metadata,
            scale_bar=parsed.stages.scale_bar,
            thumbnails=parsed.stages.thumbnails,
            model=model,
            partitions=parsed.partitions,
            batch_size=parsed.database.batch_size,
            retry_deadline_seconds=float(parsed.database.retry_deadline_seconds),
            run_id=run_id,
            status_target=status_target,
            master=master,
            inference_skipped_because=skipped_because,
        )

    def parameters(self) -> dict[str, Any]:
        """What ``ingest_runs.parameters`` records (JSON-safe; the database URL without its password)."""
        from dataclasses import asdict

        from .database import redact

        params = asdict(self)
        params["database_url"] = redact(self.database_url)
        params["spark_conf"] = dict(self.spark_conf)
        return params

    def pipeline_config(self, run_id: str, model_id: str | None) -> PipelineConfig:
        return PipelineConfig(
            database_url=self.database_url,
            run_id=run_id,
            metadata=self.metadata,
            scale_bar=self.scale_bar,
            thumbnails=self.thumbnails,
            model=self.model,
            model_id=model_id,
            batch_size=self.batch_size,
            retry_deadline_seconds=self.retry_deadline_seconds,
            max_pixels=self.max_pixels,
        )


# -- the run ----------------------------------------------------------------------------------------
def run_job(
    config: JobConfig,
    *,
    spark: Any = None,
    progress: bool = True,
    progress_stream: Any = None,
    status_reporter: Any = None,
) -> dict[str, Any]:
    """Run one ingest; returns the summary dict. Raises ``RunError`` for a run-level failure.

    ``status_reporter`` (anything with ``StatusReporter.report``'s signature) receives the
    progress; by default one is made for ``config.status_target`` when that is set.
    """
    from . import database as db
    from .database import canonical, migrate, queries, runs
    from .identity import path_key

    started = time.monotonic()
    run_id = config.run_id or f"run-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{uuid.uuid4().hex[:8]}"
    source = os.path.abspath(config.source)
    summary: dict[str, Any] = {"run_id": run_id, "source": source, "status": "running"}
    try:
        engine = db.create_engine(config.database_url, pooled=True)
    except db.DatabaseURLError as exc:
        raise RunError(str(exc), summary) from None
    redacted = db.redact(config.database_url)
    summary["database"] = redacted
    recorder = _RunRecorder(engine, run_id, config.retry_deadline_seconds)
    if status_reporter is not None:
        recorder.status_reporter = status_reporter
    else:
        recorder.attach_status(config.status_target)
    try:
        # (1) schema, interrupted runs, this run
        def prepare() -> None:
            db.create_schema(engine)
            with engine.begin() as conn:
                for marked in runs.mark_interrupted_runs(conn):
                    log.warning("run %s had been interrupted; marked failed", marked)
                runs.start_run(conn, run_id, source=source, model_id=None, parameters=config.parameters())

        try:
            db.call_with_retry(
                prepare, deadline_seconds=config.retry_deadline_seconds, what=f"connecting to {redacted}"
            )
        except (db.DatabaseUnavailableError, migrate.SchemaError) as exc:
            raise RunError(str(exc), summary) from None
        except Exception as exc:  # noqa: BLE001 - access denied, unknown database...: say which
            raise RunError(f"cannot use the database {redacted}: {db.retry.describe(exc)}", summary) from None
        recorder.started = True

        # (2) the model, once, on the driver
        model_id = None
        if config.model is not None:
            model_id = _load_model_on_driver(config.model, summary)
            recorder.set_model(model_id)
        summary["inference"] = (
            {"status": "done", "model_id": model_id}
            if model_id is not None
            else {"status": "skipped", "reason": config.inference_skipped_because}
        )

        # (3) discovery
        try:
            listing = list_images(source, config.include, config.exclude)
        except (FileNotFoundError, NotADirectoryError, PermissionError) as exc:
            raise RunError(str(exc), summary) from None

        def known() -> dict[str, tuple[int, int, str | None]]:
            # Files of earlier runs that are gone are marked missing (their images re-elected) first.
            with engine.begin() as conn:
                vanished = canonical.mark_vanished(
                    conn, source, {path_key(f.path) for f in listing.files}, run_id
                )
                if vanished:
                    summary["vanished"] = vanished
                return queries.known_files(conn, source, model_id, config.reprocess)

        plan = plan_ingest(listing, db.call_with_retry(known, deadline_seconds=config.retry_deadline_seconds))
        counts = {"discovered": plan.discovered, "skipped": plan.skipped, "processed": 0, "failed": 0}
        summary.update(counts)
        if plan.unreadable:
            summary["unreadable"] = plan.unreadable[:50]
        recorder.heartbeat(counts, force=True)

        # (4) + (5) Spark
        counters = Counters()
        partitions = 0
        if plan.todo:
            counters, partitions = _run_on_spark(
                config, run_id, model_id, plan.todo, spark, recorder, progress, progress_stream
            )

        # (6) totals (and images no file points at any more, when files changed)
        def totals() -> tuple[int, int]:
            with engine.begin() as conn:
                dups = queries.count_duplicates(conn, run_id) if plan.todo else 0
                return dups, queries.prune_orphans(conn) if plan.changed else 0

        duplicates, pruned = db.call_with_retry(
            totals, deadline_seconds=config.retry_deadline_seconds, what="counting duplicates"
        )
        if pruned:
            summary["pruned_images"] = pruned
        seconds = time.monotonic() - started
        summary.update(
            status="succeeded",
            processed=counters.processed,
            failed=counters.failed,
            duplicates=duplicates,
            changed=plan.changed,
            seconds=round(seconds, 3),
            images_per_second=round(counters.processed / seconds, 3) if seconds > 0 else None,
            stage_seconds={k: round(v, 3) for k, v in counters.stage_seconds.items()},
            per_vendor=dict(sorted(counters.per_vendor.items())),
            partitions=partitions,
            database_retries=counters.database_retries,
            rejected_by_database=counters.rejected_by_database,
            failures=dict(sorted(counters.failures.items())),
        )
        if model_id is not None:
            summary["inference"]["classified"] = sum(v["images"] for v in counters.per_vendor.values())
        recorder.finish("succeeded", summary, None)
        return summary
    except RunError as exc:
        summary.update(status="failed", error=str(exc), seconds=round(time.monotonic() - started, 3))
        recorder.finish("failed", summary, str(exc))
        exc.summary = summary
        raise
    except BaseException as exc:
        message = _error_message(exc)
        summary.update(status="failed", error=message, seconds=round(time.monotonic() - started, 3))
        recorder.finish("failed", summary, message)
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise RunError(message, summary) from exc
    finally:
        recorder.close_status()
        engine.dispose()


def _load_model_on_driver(model: Any, summary: dict[str, Any]) -> str:
    from .inference import ModelLoadError, load_classifier

    try:
        classifier = load_classifier(model)
    except ModelLoadError as exc:
        raise RunError(f"cannot load the model: {exc}", summary) from None
    except Exception as exc:  # noqa: BLE001 - anything TensorFlow throws is the same verdict
        raise RunError(f"cannot load the model {model.path}: {type(exc).__name__}: {exc}", summary) from None
    return classifier.model_id


def _run_on_spark(
    config: JobConfig,
    run_id: str,
    model_id: str | None,
    todo: list,
    spark: Any,
    recorder: _RunRecorder,
    progress: bool,
    progress_stream: Any,
) -> tuple[Counters, int]:
    own_context = False
    if spark is not None:  # a SparkSession or a SparkContext handed in by the caller
        sc = getattr(spark, "sparkContext", spark)
    else:
        from pyspark import SparkContext

        sc = SparkContext._active_spark_context
        if sc is None:  # ours to stop at the end (an active context belongs to its creator)
            sc = _spark_context(config)
            own_context = True
    try:
        partitions = config.partitions or 4 * sc.defaultParallelism
        partitions = max(1, min(partitions, len(todo)))
        pipeline = with_executor_image_limit(config.pipeline_config(run_id, model_id), sc.getConf())
        rdd = sc.parallelize(todo, partitions).mapPartitions(partition_runner(pipeline))
        group = f"semingest-{run_id}"
        box: dict[str, Any] = {}

        def collect() -> None:
            try:
                sc.setJobGroup(group, f"semingest ingest {run_id}", interruptOnCancel=True)
                box["value"] = rdd.collect()
            except BaseException as exc:  # noqa: BLE001 - handed to the main thread
                box["error"] = exc

        display = ProgressDisplay(len(todo), stream=progress_stream, enabled=progress)
        worker = threading.Thread(target=collect, name="semingest-collect", daemon=True)
        worker.start()
        done = failed = 0
        try:
            while worker.is_alive():
                worker.join(POLL_SECONDS)
                if not worker.is_alive():
                    break
                polled = recorder.poll_progress()
                if polled is not None:
                    done, failed = polled
                else:
                    recorder.report_status()
                display.update(done, failed)
        except KeyboardInterrupt:
            sc.cancelJobGroup(group)
            worker.join(30)
            raise
        if "error" in box:
            raise box["error"]
        counters = Counters()
        for part in box["value"]:
            counters.merge(part)
        display.close(counters.processed, counters.failed)
        return counters, partitions
    finally:
        if own_context:
            sc.stop()


def _spark_context(config: JobConfig) -> Any:
    """A plain SparkContext: the job only uses RDDs, and skipping the SQL session saves ~2 s of start-up."""
    from pyspark import SparkConf, SparkContext

    master = config.master
    if master and master.startswith("local"):
        # Executors of a local master are Python processes started by the JVM: make them this Python.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        if config.task_max_failures and re.fullmatch(r"local\[(\*|\d+)\]", master):
            master = f"{master[:-1]},{config.task_max_failures}]"
    conf = SparkConf().setAppName(config.app_name)
    if master:
        conf.setMaster(master)
        if master.startswith("local"):
            conf.set("spark.ui.enabled", "false").set("spark.log.level", "ERROR")
    conf.set("spark.ui.showConsoleProgress", "false").set("spark.python.worker.reuse", "true")
    if config.task_max_failures:
        conf.set("spark.task.maxFailures", str(config.task_max_failures))
    for key, value in config.spark_conf.items():
        conf.set(key, value)
    return SparkContext.getOrCreate(conf)


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


def _describe_db_error(exc: BaseException) -> str:
    from .database.retry import describe

    return describe(exc)


class _RunRecorder:
    """Writes the run's progress and outcome to ``ingest_runs`` (and the SemIngest status)."""

    def __init__(self, engine: Any, run_id: str, deadline: float):
        self.engine = engine
        self.run_id = run_id
        self.deadline = deadline
        self.started = False
        self.status_reporter: Any = None
        self.counts: dict[str, int] = {}
        self._last_heartbeat = 0.0
        self._last_status = 0.0

    def set_model(self, model_id: str) -> None:
        import sqlalchemy as sa

        from .database import schema

        with self.engine.begin() as conn:
            t = schema.ingest_runs
            conn.execute(sa.update(t).where(t.c.id == self.run_id).values(model_id=model_id))

    def attach_status(self, target: str | None) -> None:
        if not target:
            return
        try:
            from .status_reporter import StatusReporter

            self.status_reporter = StatusReporter.from_target(target)
        except Exception:  # noqa: BLE001 - status is a convenience; the ingest goes on without it
            log.warning("cannot report status to %s", target, exc_info=True)

    def report_status(self, force: bool = False, stage_seconds: Mapping[str, float] | None = None) -> None:
        if self.status_reporter is None:
            return
        now = time.monotonic()
        if not force and now - self._last_status < STATUS_SECONDS:
            return
        self._last_status = now
        try:
            self.status_reporter.report(dict(self.counts), dict(stage_seconds or {}), force=force)
        except Exception:  # noqa: BLE001
            log.warning("status report failed", exc_info=True)

    def heartbeat(self, counts: Mapping[str, int], *, force: bool = False) -> None:
        from .database import runs

        self.counts.update(counts)
        now = time.monotonic()
        if force or now - self._last_heartbeat >= HEARTBEAT_SECONDS:
            self._last_heartbeat = now
            try:
                with self.engine.begin() as conn:
                    runs.heartbeat(conn, self.run_id, self.counts)
            except Exception as exc:  # noqa: BLE001 - the database may be restarting; the writers retry
                log.info("heartbeat not recorded: %s", _describe_db_error(exc))
        self.report_status(force)

    def poll_progress(self) -> tuple[int, int] | None:
        from .database import queries

        try:
            with self.engine.connect() as conn:
                done, failed = queries.run_file_counts(conn, self.run_id)
        except Exception as exc:  # noqa: BLE001 - the database may be down for a moment
            log.info("progress poll failed: %s", _describe_db_error(exc))
            return None
        self.heartbeat({"processed": done, "failed": failed})
        return done, failed

    def finish(self, status: str, summary: dict[str, Any], error: str | None) -> None:
        from . import database as db
        from .database import runs

        counts = {k: summary.get(k, 0) or 0 for k in runs.COUNTERS}
        self.counts.update(counts)
        self.report_status(force=True, stage_seconds=summary.get("stage_seconds"))
        if not self.started:
            return

        def record() -> None:
            with self.engine.begin() as conn:
                runs.finish_run(
                    conn,
                    self.run_id,
                    status=status,
                    counts=counts,
                    stage_seconds=summary.get("stage_seconds"),
                    seconds=summary.get("seconds"),
                    error=error,
                    summary=summary,
                )

        try:
            db.call_with_retry(
                record, deadline_seconds=max(self.deadline, 30.0), what="recording the run's outcome"
            )
        except Exception as exc:  # noqa: BLE001 - report it; the run's own outcome stands
            note = f"the outcome could not be recorded in ingest_runs: {db.retry.describe(exc)}"
            log.error(note)
            summary["record_error"] = note

    def close_status(self) -> None:
        reporter, self.status_reporter = self.status_reporter, None
        close = getattr(reporter, "close", None)
        if callable(close):
            try:
                close()
            except Exception:  # noqa: BLE001
                log.debug("closing the status reporter failed", exc_info=True)


# -- spark-submit entry point -----------------------------------------------------------------------
def _arg_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="semingest_job.py",
        description="semingest Spark job: ingest SEM images described by a SemIngest spec",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--spec", metavar="FILE", help="SemIngest spec (YAML or JSON; the object or its spec)")
    src.add_argument("--spec-json", metavar="JSON", help="SemIngest spec as a JSON string")
    p.add_argument("--run-id", help="id of this run in ingest_runs (default: generated)")
    p.add_argument("--semingest", metavar="NS/NAME", help="SemIngest resource whose status gets the progress")
    p.add_argument("--source-root", metavar="PATH", help=f"folder to scan (default: {_source_default()})")
    p.add_argument("--db", metavar="URL", help="database URL (default: $SEMINGEST_DATABASE_URL)")
    p.add_argument("--master", help="Spark master (default: as spark-submit configured)")
    p.add_argument("--json", action="store_true", help="print the run summary as one JSON object")
    return p


def _source_default() -> str:
    from semingest_api.spec import SOURCE_MOUNT

    return f"{SOURCE_MOUNT}/<spec.source.path>"


def load_spec_document(text: str) -> dict[str, Any]:
    """The ``spec`` of a SemIngest document (YAML/JSON), or the document itself when it is a bare spec."""
    import yaml

    doc = yaml.safe_load(text)
    if isinstance(doc, dict) and isinstance(doc.get("spec"), dict) and ("kind" in doc or "apiVersion" in doc):
        return doc["spec"]
    if not isinstance(doc, dict):
        raise ValueError("the spec must be a YAML/JSON object")
    return doc


def main(argv: Sequence[str] | None = None) -> int:
    """spark-submit entry point. Returns the process exit status."""
    from semingest_api.spec import DATABASE_URL_ENV, SpecError

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("semingest_worker").setLevel(logging.INFO)
    args = _arg_parser().parse_args(argv)
    try:
        text = args.spec_json if args.spec_json is not None else _read(args.spec)
        spec_dict = load_spec_document(text)
        url = args.db or os.environ.get(DATABASE_URL_ENV)
        if not url:
            raise RunError(
                f"no database URL: set ${DATABASE_URL_ENV} (from the database Secret) or pass --db"
            )
        config = JobConfig.from_spec(
            spec_dict,
            database_url=url,
            source_root=args.source_root,
            run_id=args.run_id,
            status_target=args.semingest,
            master=args.master,
        )
    except (SpecError, ValueError, OSError, RunError) as exc:
        print(f"semingest: invalid job: {exc}", file=sys.stderr)
        return 1
    return run_and_report(config, as_json=args.json, progress=True)  # off a terminal: a line every 30 s


def run_and_report(
    config: JobConfig,
    *,
    as_json: bool,
    progress: bool = True,
    out: Any = None,
    err: Any = None,
    spark: Any = None,
    run: Callable[..., dict[str, Any]] | None = None,
) -> int:
    """Run, print the summary (JSON or text) and return the exit status (0 ok, 1 run-level failure)."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        summary = (run or run_job)(config, spark=spark, progress=progress, progress_stream=err)
    except RunError as exc:
        print(f"semingest: run failed: {exc}", file=err)
        if as_json:
            print(json.dumps(exc.summary or {"status": "failed", "error": str(exc)}, default=str), file=out)
        return 1
    except KeyboardInterrupt:
        print("semingest: interrupted; what was committed stays, the next run continues from there", file=err)
        return 130
    if as_json:
        print(json.dumps(summary, default=str), file=out)
    else:
        print(format_summary(summary), file=out)
    return 0


def format_summary(summary: Mapping[str, Any]) -> str:
    s = summary
    lines = [
        f"run {s['run_id']}: {s['status']} in {s.get('seconds', 0):.1f} s "
        f"({s.get('images_per_second') or 0:.1f} images/s)",
        f"  discovered {s.get('discovered', 0)}, skipped {s.get('skipped', 0)} (already ingested), "
        f"processed {s.get('processed', 0)}, failed {s.get('failed', 0)}, duplicates {s.get('duplicates', 0)}",
    ]
    stages = s.get("stage_seconds") or {}
    if stages:
        lines.append("  seconds per stage: " + ", ".join(f"{k} {v:.1f}" for k, v in stages.items()))
    for vendor, c in (s.get("per_vendor") or {}).items():
        lines.append(
            f"  {vendor}: {c['images']} images, {c['with_metadata_pixel_size']} with a metadata pixel size, "
            f"{c['with_scale_bar']} with a readable scale bar"
        )
    inference = s.get("inference") or {}
    if inference.get("status") == "skipped":
        lines.append(f"  inference: skipped ({inference.get('reason')})")
    elif inference:
        lines.append(f"  inference: model {inference.get('model_id')}")
    failures = s.get("failures") or {}
    for path, reason in list(failures.items())[:10]:
        lines.append(f"  failed: {path}: {reason}")
    if len(failures) > 10 or (s.get("failed", 0) > len(failures)):
        lines.append(f"  ... {s.get('failed', 0)} failed in all (the image_files rows with status 'failed')")
    return "\n".join(lines)


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as fh:
        return fh.read()
