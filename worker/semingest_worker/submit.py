"""The spark-submit entry point of the worker image (``images/worker/semingest_job.py``).

It takes the SemIngest spec (``--spec FILE`` or ``--spec-json JSON``; a whole SemIngest object
or just its ``spec``), reads the database URL from ``$SEMINGEST_DATABASE_URL`` (or ``--db``),
scans ``/data/source/<spec.source.path>`` (or ``--source-root``), and reports progress to the
SemIngest's status (``--semingest NS/NAME``).

Exit status: 0 when the run completed, even with failed images (their count is reported); 1 for
an invalid job or a run-level failure, with a clear message.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

from .config import JobConfig
from .report import run_and_report


def _arg_parser() -> argparse.ArgumentParser:
    from semingest_api.spec import SOURCE_MOUNT

    p = argparse.ArgumentParser(
        prog="semingest_job.py",
        description="semingest Spark job: ingest SEM images described by a SemIngest spec",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--spec", metavar="FILE", help="SemIngest spec (YAML or JSON; the object or its spec)")
    src.add_argument("--spec-json", metavar="JSON", help="SemIngest spec as a JSON string")
    p.add_argument("--run-id", help="id of this run in ingest_runs (default: generated)")
    p.add_argument("--semingest", metavar="NS/NAME", help="SemIngest resource whose status gets the progress")
    p.add_argument(
        "--source-root", metavar="PATH", help=f"folder to scan (default: {SOURCE_MOUNT}/<spec.source.path>)"
    )
    p.add_argument("--db", metavar="URL", help="database URL (default: $SEMINGEST_DATABASE_URL)")
    p.add_argument("--master", help="Spark master (default: as spark-submit configured)")
    p.add_argument("--json", action="store_true", help="print the run summary as one JSON object")
    return p


def load_spec_document(text: str) -> dict[str, Any]:
    """The ``spec`` of a SemIngest document (YAML/JSON), or the document itself when it is a bare spec."""
    import yaml

    doc = yaml.safe_load(text)
    if isinstance(doc, dict) and isinstance(doc.get("spec"), dict) and ("kind" in doc or "apiVersion" in doc):
        return doc["spec"]
    if not isinstance(doc, dict):
        raise ValueError("the spec must be a YAML/JSON object")
    return doc


def job_config(args: argparse.Namespace) -> JobConfig:
    """The run's config from the parsed arguments (raises SpecError, ValueError or OSError)."""
    from semingest_api.spec import DATABASE_URL_ENV

    if args.spec_json is not None:
        text = args.spec_json
    else:
        with open(args.spec, encoding="utf-8") as fh:
            text = fh.read()
    url = args.db or os.environ.get(DATABASE_URL_ENV)
    if not url:
        raise ValueError(f"no database URL: set ${DATABASE_URL_ENV} (from the database Secret) or pass --db")
    return JobConfig.from_spec(
        load_spec_document(text),
        database_url=url,
        source_root=args.source_root,
        run_id=args.run_id,
        status_target=args.semingest,
        master=args.master,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """spark-submit entry point. Returns the process exit status."""
    from semingest_api.spec import SpecError

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("semingest_worker").setLevel(logging.INFO)
    args = _arg_parser().parse_args(argv)
    try:
        config = job_config(args)
    except (SpecError, ValueError, OSError) as exc:
        print(f"semingest: invalid job: {exc}", file=sys.stderr)
        return 1
    return run_and_report(config, as_json=args.json, progress=True)  # off a terminal: a line every 30 s
