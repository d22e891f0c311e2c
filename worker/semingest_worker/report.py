"""What the ``semingest`` commands print: a run's summary (``run``, the spark-submit job) and the
database's (``summary``), as text or JSON; the per-vendor line is one formatter for both.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping
from typing import Any, TextIO

from .config import JobConfig
from .phases import RunError
from .summary import InferenceSummary, RunSummary

FAILURES_LISTED = 10


def run_and_report(
    config: JobConfig,
    *,
    as_json: bool,
    progress: bool = True,
    out: TextIO | None = None,
    err: TextIO | None = None,
    spark: Any = None,
    run: Callable[..., RunSummary] | None = None,
) -> int:
    """Run, print the summary (JSON or text) and return the exit status (0 ok, 1 run-level failure,
    130 interrupted). A run that completed with failed images is a success: they are counted."""
    out = out or sys.stdout
    err = err or sys.stderr
    if run is None:
        from .job import run_job

        run = run_job
    try:
        summary = run(config, spark=spark, progress=progress, progress_stream=err)
    except RunError as exc:
        print(f"semingest: run failed: {exc}", file=err)
        if as_json:
            failed = (
                exc.summary.to_dict() if exc.summary is not None else {"status": "failed", "error": str(exc)}
            )
            print(json.dumps(failed, default=str), file=out)
        return 1
    except KeyboardInterrupt:
        print("semingest: interrupted; what was committed stays, the next run continues from there", file=err)
        return 130
    print(json.dumps(summary.to_dict(), default=str) if as_json else format_run_summary(summary), file=out)
    return 0


def vendor_line(vendor: str, counts: Mapping[str, int]) -> str:
    """One vendor's counts (a run's or the database's)."""
    return (
        f"  {vendor}: {counts['images']} images, {counts['with_metadata_pixel_size']} with a metadata "
        f"pixel size, {counts['with_scale_bar']} with a readable scale bar"
    )


def format_run_summary(s: RunSummary) -> str:
    c = s.counts()
    lines = [
        f"run {s.run_id}: {s.status} in {s.seconds or 0:.1f} s ({s.images_per_second or 0:.1f} files/s)",
        f"  discovered {c['discovered']}, skipped {c['skipped']} (already ingested), "
        f"processed {c['processed']}, failed {c['failed']}, duplicates {c['duplicates']}",
    ]
    ran = {k: v for k, v in (s.stage_seconds or {}).items() if v > 0}  # a skipped stage has no time
    if ran:
        lines.append("  seconds per stage: " + ", ".join(f"{k} {v:.1f}" for k, v in ran.items()))
    lines += [vendor_line(vendor, counts) for vendor, counts in (s.per_vendor or {}).items()]
    if s.spark:
        lines.append(spark_line(s.spark))
    if s.inference is not None:
        lines.append(_inference_line(s.inference))
    return "\n".join(lines + _failure_lines(s.failures or {}, c["failed"]))


def spark_line(measures: Mapping[str, Any]) -> str:
    """Spark's task measures of the run (SparkMeasures.to_status())."""
    tasks = measures.get("tasks", 0)
    return (
        f"  spark: {tasks} task{'' if tasks == 1 else 's'}, executor run {measures.get('executorRunSeconds', 0):.1f} s "
        f"(CPU {measures.get('executorCpuSeconds', 0):.1f} s, GC {measures.get('jvmGcSeconds', 0):.1f} s, "
        f"deserialising {measures.get('deserializeSeconds', 0):.1f} s), "
        f"shuffle {_size(measures.get('shuffleReadBytes', 0))} read, input {_size(measures.get('inputBytes', 0))}"
    )


def _size(n: int) -> str:
    size = float(n)
    for unit in ("B", "kB", "MB"):
        if size < 1000:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"


def _inference_line(inference: InferenceSummary) -> str:
    if inference.status == "skipped":
        return f"  inference: skipped ({inference.reason})"
    return f"  inference: model {inference.model_id}"


def _failure_lines(failures: Mapping[str, str], failed: int) -> list[str]:
    lines = [f"  failed: {path}: {reason}" for path, reason in list(failures.items())[:FAILURES_LISTED]]
    if len(failures) > FAILURES_LISTED or failed > len(failures):
        lines.append(f"  ... {failed} failed in all (the image_files rows with status 'failed')")
    return lines


def format_database_summary(data: Mapping[str, Any], where: str) -> str:
    """``queries.database_summary`` as text."""
    images, files = data["images"], data["files"]
    lines = [
        f"{where}:",
        f"  images: {images['ok'] + images['failed']} distinct ({images['ok']} ok, {images['failed']} failed)",
        f"  files: {files['total']} ({files['failed']} failed, {files['undecodable']} not decodable), "
        f"{data['duplicates']} duplicates",
    ]
    lines += [vendor_line(vendor, c) for vendor, c in data["per_vendor"].items()]
    for model_id, n in data["inference"].items():
        lines.append(f"  inference: {n} images classified by model {model_id}")
    if data["runs"]:
        lines.append("  last runs:")
        lines += [_run_line(r) for r in data["runs"]]
    return "\n".join(lines)


def _run_line(r: Mapping[str, Any]) -> str:
    took = f"{r['seconds']:.1f} s" if r.get("seconds") is not None else "-"
    line = (
        f"    {r['id']}  {r['status']:9s} {r['started_at']}  {took}  discovered {r['discovered']}, "
        f"skipped {r['skipped']}, processed {r['processed']}, failed {r['failed']}"
    )
    return line + (f"  error: {r['error']}" if r.get("error") else "")
