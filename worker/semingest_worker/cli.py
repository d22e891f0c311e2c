"""The ``semingest`` command: run an ingest on local Spark, set up the database, make sample images.

    semingest run PATH [--db URL] [--engine auto|local-spark|inline] [--master local[N]] [--json] [--model FILE ...]
    semingest db init|upgrade|check --db URL        (schema migrations; see datacli)
    semingest export --db URL --format FMT [filters] [-o FILE]
    semingest show PATH|HASH --db URL [--json]
    semingest summary --db URL [--json]
    semingest generate DIR --count N --seed S [--styles zeiss fei ...] [--bad-inputs]
    semingest serve --db URL [--host H] [--port P]   (read-only web catalogue; needs the web extra)
    semingest report --db URL -o report.html          (self-contained HTML report with pictures)
    semingest render -f FILE          (what the operator would create; needs the operator extra)

Defaults: database ``sqlite:///semingest.db``, master ``local[*]``. ``run`` exits 0 when the run
completed, even if some images failed (they are counted and listed), and 1 with a clear
message for a run-level failure (bad database URL, database down past the retry deadline, a
model that cannot be loaded, a missing source folder).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import logging
import math
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from semingest_api import semingest_version
from semingest_api.stages import Stage

from . import datacli
from .dbopts import DatabaseOptionError, add_database_options, database_url
from .provenance import VERSIONED_STAGES

if TYPE_CHECKING:
    from .config import JobConfig

DEFAULT_MASTER = "local[*]"


def _seconds(text: str) -> float:
    """A finite, non-negative number of seconds (``nan``, ``inf`` and negatives are refused)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, not {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number of seconds >= 0, not {text!r}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _engine(args: argparse.Namespace) -> str:
    """``--engine``; auto becomes local-spark when a Spark-only option is given (``--partitions``,
    ``--max-failures``, ``--conf``): whoever sets those wants Spark's partitions and task retries."""
    if args.engine == "auto" and (args.partitions or args.max_failures or args.conf):
        return "local-spark"
    return args.engine


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative")
    return value


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="semingest", description="Ingest SEM images into a metadata database.")
    p.add_argument("--version", action="version", version=f"semingest {semingest_version()}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="ingest the images under PATH (local Spark)")
    run.add_argument("path", help="folder scanned recursively")
    add_database_options(run)
    run.add_argument("--master", default=DEFAULT_MASTER, help=f"Spark master (default {DEFAULT_MASTER})")
    run.add_argument("--partitions", type=_positive_int, help="Spark partitions (default 4 per core)")
    run.add_argument(
        "--engine",
        choices=("auto", "local-spark", "inline"),
        default="auto",
        help="where the pipeline runs: inline (a process pool, no JVM), local-spark, or auto: inline "
        "on a local master (local[N], local[*]) unless a Spark-only option (--partitions, "
        "--max-failures, --conf) is given or the files left after the skip check exceed "
        "--inline-max-files; Spark on a cluster master (default auto)",
    )
    run.add_argument(
        "--inline-max-files",
        type=_non_negative_int,
        help="auto: run more files than this on Spark (default $SEMINGEST_INLINE_MAX_FILES, else no cap)",
    )
    run.add_argument("--json", action="store_true", help="print one JSON object with the run's summary")
    run.add_argument(
        "--model", help="TensorFlow model (.keras, SavedModel folder, .pb); no model: no inference"
    )
    run.add_argument("--labels", help="labels file, one per line (default: the 10 SEM categories)")
    run.add_argument(
        "--batch-size", type=_positive_int, default=32, help="images per model call (default 32)"
    )
    run.add_argument("--input-tensor", help="GraphDef/SavedModel input name")
    run.add_argument("--output-tensor", help="GraphDef/SavedModel output name")
    run.add_argument(
        "--include",
        action="append",
        metavar="GLOB",
        help="files to ingest, relative to PATH, case-insensitive (repeatable; default: TIFF, JPEG, PNG, BMP)",
    )
    run.add_argument(
        "--exclude", action="append", metavar="GLOB", default=[], help="files to leave out (repeatable)"
    )
    run.add_argument("--no-scale-bar", action="store_true", help="skip the scale-bar OCR stage")
    run.add_argument("--no-metadata", action="store_true", help="skip the metadata stage")
    run.add_argument(
        "--no-thumbnails", action="store_true", help="skip the thumbnails stage (previews for the catalogue)"
    )
    run.add_argument(
        "--db-batch-size", type=_positive_int, default=500, help="files per database transaction"
    )
    run.add_argument(
        "--retry-deadline",
        type=_seconds,
        default=300.0,
        metavar="SECONDS",
        help="how long writers retry an unreachable database",
    )
    run.add_argument(
        "--max-failures", type=_positive_int, help="Spark task attempts (spark.task.maxFailures)"
    )
    run.add_argument("--run-id", help="id of the run in ingest_runs (default: generated)")
    run.add_argument(
        "--conf", action="append", default=[], metavar="KEY=VALUE", help="extra Spark configuration"
    )
    run.add_argument("--no-progress", action="store_true", help="no progress line on stderr")
    run.add_argument(
        "--reprocess",
        action="store_true",
        help="also re-extract images whose rows came from an older reader (see --stage)",
    )
    run.add_argument(
        "--stage",
        action="append",
        choices=[s.value for s in VERSIONED_STAGES],
        help="with --reprocess: the stage(s) to check (repeatable; default: every stage the run runs)",
    )
    run.add_argument(
        "-v", "--verbose", action="store_true", help="also the info logs of semingest, Spark and TensorFlow"
    )

    datacli.add_parsers(sub)  # db init|upgrade|check, export, show

    summary = sub.add_parser("summary", help="what the database holds: images, failures, vendors, last runs")
    add_database_options(summary)
    summary.add_argument("--json", action="store_true")

    gen = sub.add_parser("generate", help="write synthetic SEM images with known pixel sizes")
    gen.add_argument("dir")
    gen.add_argument("--count", type=_positive_int, default=100)
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument(
        "--styles", nargs="+", help="zeiss zeiss_black fei fei_tall tescan jeol hitachi (default zeiss fei)"
    )
    gen.add_argument("--size", default="1024x768", help="WIDTHxHEIGHT (default 1024x768)")
    gen.add_argument("--duplicate-fraction", type=float, default=0.05)
    gen.add_argument(
        "--bad-inputs", action="store_true", help="also write the bad inputs (corrupt, bomb, odd names...)"
    )

    serve = sub.add_parser(
        "serve", help="the read-only web catalogue of the images (and the report at /report)"
    )
    add_database_options(serve)  # a user that may only SELECT is enough
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=_positive_int, default=8080, help="port (default 8080)")

    report = sub.add_parser(
        "report", help="a self-contained HTML report with pictures of what the database holds"
    )
    add_database_options(report)
    report.add_argument(
        "-o", "--output", default="report.html", help="HTML file to write (default report.html)"
    )

    render = sub.add_parser(
        "render", help="print what the operator would create for a SemIngest", add_help=False
    )
    render.add_argument("rest", nargs=argparse.REMAINDER)
    return p


def _plugin_command(name: str) -> Callable[[list[str]], int] | None:
    """A subcommand another package registers (entry-point group ``semingest.commands``).

    ``render`` comes from the operator package this way: the worker never imports the operator.
    """
    for entry in importlib.metadata.entry_points(group="semingest.commands", name=name):
        return entry.load()
    return None


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    plugin = _plugin_command(argv[0]) if argv else None
    if plugin is not None:
        return plugin(argv[1:])
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="semingest: %(levelname)s %(name)s: %(message)s")
    if args.command in ("run", "db", "summary", "export", "show", "serve", "report"):
        try:
            args.db = database_url(args)
        except DatabaseOptionError as exc:
            print(f"semingest: {exc}", file=sys.stderr)
            return 2
    if args.command == "run":
        return _run(args)
    if args.command in ("db", "export", "show"):
        return datacli.dispatch(args)
    if args.command == "summary":
        return _summary(args.db, args.json)
    if args.command == "generate":
        return _generate(args)
    if args.command == "serve":
        return _serve(args)
    if args.command == "report":
        return _report(args)
    if args.command == "render":
        print(
            "error: 'semingest render' needs the operator: pip install 'semingest[operator]'", file=sys.stderr
        )
        return 2
    raise AssertionError(args.command)


def _preflight(args: argparse.Namespace) -> str | None:
    """What stops the run before anything starts: a missing source folder (no database is
    created for it). A missing model fails the run recorded in the database, before TensorFlow
    is imported (``inference.classifier``)."""
    from .discovery import check_source

    try:
        check_source(args.path)
    except FileNotFoundError as exc:
        return str(exc)
    return None


# Spark's JVM logging at WARN (also what the worker image uses, as SPARK_CONF_DIR).
LOG4J2_CONFIG = Path(__file__).resolve().parent / "conf" / "log4j2.properties"


def quiet_native_logs(verbose: bool) -> None:
    """No JVM or TensorFlow noise on a terminal unless -v: TensorFlow's C++ start-up lines (CPU
    features, oneDNN) off, Spark's log4j2 at WARN. Set before TensorFlow is imported and Spark
    started (the Spark JVM and its Python workers inherit the environment); a value the user
    set is kept."""
    if verbose:
        logging.getLogger("semingest_worker").setLevel(logging.INFO)
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("SPARK_SUBMIT_OPTS", f"-Dlog4j2.configurationFile=file:{LOG4J2_CONFIG}")


def _run(args: argparse.Namespace) -> int:
    from .report import run_and_report

    try:
        config = job_config(args)
    except ValueError as exc:
        print(f"semingest: {exc}", file=sys.stderr)
        return 2
    problem = _preflight(args)
    if problem is not None:
        print(f"semingest: run failed: {problem}", file=sys.stderr)
        return 1
    quiet_native_logs(args.verbose)
    return run_and_report(config, as_json=args.json, progress=not args.no_progress)


def job_config(args: argparse.Namespace) -> JobConfig:
    """The run's config from the ``run`` options (ValueError for a malformed or contradictory option)."""
    from .config import JobConfig
    from .discovery import DEFAULT_INCLUDE

    if args.stage and not args.reprocess:
        raise ValueError("--stage goes with --reprocess")
    reprocess = _reprocess_stages(args)
    model = None
    if args.model:
        from .inference import ModelConfig

        model = ModelConfig(
            path=args.model,
            labels_path=args.labels,
            batch_size=args.batch_size,
            input_tensor=args.input_tensor,
            output_tensor=args.output_tensor,
        )
    conf: dict[str, str] = {}
    for item in args.conf:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--conf wants KEY=VALUE, not {item!r}")
        conf[key.strip()] = value
    return JobConfig(
        source=args.path,
        database_url=args.db,
        include=tuple(args.include) if args.include else DEFAULT_INCLUDE,
        exclude=tuple(args.exclude),
        metadata=not args.no_metadata,
        scale_bar=not args.no_scale_bar,
        thumbnails=not args.no_thumbnails,
        model=model,
        partitions=args.partitions,
        batch_size=args.db_batch_size,
        retry_deadline_seconds=args.retry_deadline,
        run_id=args.run_id,
        master=args.master,
        spark_conf=conf,
        task_max_failures=args.max_failures,
        reprocess=reprocess,
        engine=_engine(args),
        inline_max_files=args.inline_max_files,
    )


def _reprocess_stages(args: argparse.Namespace) -> tuple[str, ...]:
    """The stages ``--reprocess`` checks: those asked for (default: every stage this run runs)."""
    if not args.reprocess:
        return ()
    running = {
        Stage.METADATA: not args.no_metadata,
        Stage.SCALEBAR: not args.no_scale_bar,
        Stage.INFERENCE: args.model is not None,
    }
    if not args.stage:
        return tuple(s.value for s, on in running.items() if on)
    off = [s for s in args.stage if not running[Stage(s)]]
    if off:
        why = (
            "give --model"
            if off[0] == Stage.INFERENCE
            else f"drop --no-{off[0].replace('scalebar', 'scale-bar')}"
        )
        raise ValueError(f"--stage {off[0]}: this run does not run that stage ({why}), so it cannot redo it")
    return tuple(args.stage)


def _engine_or_error(url: str) -> Any:
    from .database import DatabaseURLError, create_engine

    try:
        return create_engine(url)
    except DatabaseURLError as exc:
        print(f"semingest: {exc}", file=sys.stderr)
        return None


def _summary(url: str, as_json: bool) -> int:
    import sqlalchemy as sa

    from .database import queries, redact
    from .database.readonly import DatabaseNotReadyError, ensure_exists
    from .database.retry import describe
    from .report import format_database_summary

    engine = _engine_or_error(url)
    if engine is None:
        return 1
    try:
        ensure_exists(url)  # never create a SQLite file by reading it
    except DatabaseNotReadyError as exc:
        engine.dispose()
        print(f"semingest: {exc}", file=sys.stderr)
        return 1
    try:
        if "images" not in sa.inspect(engine).get_table_names():
            print(
                f"semingest: {redact(url)} holds no semingest tables (run `semingest db init` or `semingest run`)",
                file=sys.stderr,
            )
            return 1
        with engine.connect() as conn:
            data = queries.database_summary(conn)
    except Exception as exc:  # noqa: BLE001
        print(f"semingest: cannot read {redact(url)}: {describe(exc)}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    if as_json:
        print(json.dumps(data, default=str))
        return 0
    print(format_database_summary(data, redact(url)))
    return 0


def _web_modules_or_error() -> bool:
    try:
        import fastapi  # noqa: F401
        import jinja2  # noqa: F401
        import matplotlib  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        print(
            f"semingest: the catalogue needs the web extra: pip install 'semingest[web]' ({exc})",
            file=sys.stderr,
        )
        return False
    return True


def _readable_database(url: str) -> Any:
    """A read-only engine for a database that holds the semingest tables, or None (reason printed)."""
    import sqlalchemy as sa

    from .database import DatabaseURLError, redact
    from .database.retry import describe

    try:
        from .catalogue.readonly import read_only_engine

        engine = read_only_engine(url)
    except DatabaseURLError as exc:
        print(f"semingest: {exc}", file=sys.stderr)
        return None
    try:
        tables = set(sa.inspect(engine).get_table_names())
    except Exception as exc:  # noqa: BLE001
        print(f"semingest: cannot read {redact(url)}: {describe(exc)}", file=sys.stderr)
        engine.dispose()
        return None
    from .database import schema

    missing = sorted({t.name for t in schema.ALL_TABLES} - tables)
    if missing:
        print(
            f"semingest: {redact(url)} lacks the table(s) {', '.join(missing)} "
            "(run `semingest db init` or `semingest run` with this version first)",
            file=sys.stderr,
        )
        engine.dispose()
        return None
    return engine


def _serve(args: argparse.Namespace) -> int:
    if not _web_modules_or_error():
        return 1
    import uvicorn

    from .catalogue.app import create_app

    engine = _readable_database(args.db)
    if engine is None:
        return 1
    app = create_app(args.db, engine=engine)
    print(f"semingest catalogue on http://{args.host}:{args.port}/ (Ctrl-C stops it)", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    engine.dispose()
    return 0


def _report(args: argparse.Namespace) -> int:
    if not _web_modules_or_error():
        return 1
    from pathlib import Path

    from .catalogue.report import write_report
    from .database import redact

    engine = _readable_database(args.db)
    if engine is None:
        return 1
    try:
        report = write_report(engine, redact(args.db), Path(args.output))
    finally:
        engine.dispose()
    print(f"wrote {args.output}: {len(report.figures)} figures, {report.data.totals['images']} images")
    return 0


def _generate(args: argparse.Namespace) -> int:
    from . import synth

    try:
        width, height = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        print(f"semingest: --size wants WIDTHxHEIGHT, not {args.size!r}", file=sys.stderr)
        return 2
    kwargs: dict[str, Any] = {
        "seed": args.seed,
        "size": (width, height),
        "duplicate_fraction": args.duplicate_fraction,
    }
    if args.styles:
        kwargs["styles"] = tuple(args.styles)
    try:
        images = synth.generate_corpus(args.dir, args.count, **kwargs)
    except ValueError as exc:
        print(f"semingest: {exc}", file=sys.stderr)
        return 2
    duplicates = sum(1 for i in images if i.duplicate_of)
    print(f"wrote {len(images)} images ({duplicates} duplicates) to {args.dir}")
    if args.bad_inputs:
        bad = synth.write_bad_inputs(args.dir)
        print(f"wrote {len(bad)} bad inputs to {args.dir}/bad")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
