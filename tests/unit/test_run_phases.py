"""The run's phases without Spark or MariaDB: runs with nothing to execute (SQLite), the typed
summary and its JSON form, the text reports, the progress relay and the fault plan."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from semingest_api.stages import Stage
from semingest_worker import phases, synth
from semingest_worker.database import create_engine, schema
from semingest_worker.faults import FaultPlan
from semingest_worker.job import JobConfig, RunError, run_job
from semingest_worker.report import format_database_summary, format_run_summary, run_and_report
from semingest_worker.reporting import RunProgress
from semingest_worker.summary import InferenceSummary, RunSummary


def _runs(url: str) -> list:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(schema.ingest_runs).order_by(schema.ingest_runs.c.started_at)).all()
    engine.dispose()
    return rows


class RecordingSink:
    def __init__(self) -> None:
        self.calls: list[tuple[dict, dict, bool]] = []

    def report(self, progress, stage_seconds, phase=None, force=False) -> bool:
        self.calls.append((dict(progress), dict(stage_seconds), force))
        return True


def test_the_phases_are_named_and_in_order() -> None:
    names = [phase.__name__ for phase in phases.PHASES]
    assert names == ["prepare_database", "load_model", "discover", "execute", "finalise"]


def test_an_empty_folder_runs_every_phase_without_spark(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    (tmp_path / "src").mkdir()
    sink = RecordingSink()
    summary = run_job(JobConfig(source=str(tmp_path / "src"), database_url=url), status_reporter=sink)
    assert (summary.status, summary.discovered, summary.processed, summary.partitions) == (
        "succeeded",
        0,
        0,
        0,
    )
    assert summary.inference == InferenceSummary("skipped", reason="no model given")
    assert set(summary.stage_seconds or {}) == {stage.value for stage in Stage}
    (run,) = _runs(url)
    assert run.status == "succeeded" and json.loads(run.summary) == summary.to_dict()
    assert sink.calls[-1] == (summary.counts(), summary.stage_seconds, True)  # the final report, forced


def test_a_second_run_skips_what_the_first_recorded_without_spark(tmp_path: Path) -> None:
    """Files already in image_files are skipped in discovery: nothing is left to execute."""
    from semingest_worker.database import ImageWriter, create_schema
    from semingest_worker.discovery import list_images
    from semingest_worker.records import ImageResult

    url = f"sqlite:///{tmp_path / 'a.db'}"
    src = tmp_path / "src"
    synth.generate_corpus(src, 3, seed=1, size=(384, 288), duplicate_fraction=0.0)
    engine = create_engine(url)
    create_schema(engine)
    engine.dispose()
    files = list_images(str(src), ("*.tif",)).files
    with ImageWriter(url) as writer:
        writer.write([ImageResult(file=f, run_id="earlier", status="failed", error="x") for f in files])
    summary = run_job(JobConfig(source=str(src), database_url=url, include=("*.tif",)))
    assert (summary.discovered, summary.skipped, summary.processed, summary.duplicates) == (3, 3, 0, 0)


def test_a_failing_phase_leaves_a_failed_summary_and_run(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    with pytest.raises(RunError, match="does not exist") as info:
        run_job(JobConfig(source=str(tmp_path / "missing"), database_url=url))
    failed = info.value.summary
    assert failed is not None and failed.status == "failed" and "does not exist" in (failed.error or "")
    assert failed.discovered is None and "discovered" not in failed.to_dict()  # discovery was not reached
    (run,) = _runs(url)
    assert run.status == "failed" and "does not exist" in run.error


def test_a_bad_database_url_fails_before_any_phase() -> None:
    with pytest.raises(RunError, match="unsupported database") as info:
        run_job(JobConfig(source=".", database_url="postgresql://x/y"))
    assert info.value.summary is not None and info.value.summary.status == "failed"


def test_run_and_report_prints_the_failed_summary_as_json(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    config = JobConfig(source=str(tmp_path / "missing"), database_url=f"sqlite:///{tmp_path / 'a.db'}")
    assert run_and_report(config, as_json=True, out=out, err=err) == 1
    printed = json.loads(out.getvalue())
    assert printed["status"] == "failed" and "does not exist" in printed["error"]
    assert "semingest: run failed:" in err.getvalue()


def test_summary_json_leaves_out_what_was_not_reached() -> None:
    summary = RunSummary("r1", "/src", "failed", error="boom", seconds=1.5)
    assert summary.to_dict() == {
        "run_id": "r1",
        "source": "/src",
        "status": "failed",
        "seconds": 1.5,
        "error": "boom",
    }
    assert summary.counts() == {"discovered": 0, "skipped": 0, "processed": 0, "failed": 0, "duplicates": 0}
    done = InferenceSummary("done", model_id="m", classified=3)
    assert done.to_dict() == {"status": "done", "model_id": "m", "classified": 3}


def test_run_and_database_reports_share_the_vendor_line() -> None:
    vendor = {"images": 4, "with_metadata_pixel_size": 3, "with_scale_bar": 2}
    run = RunSummary(
        "r1", "/src", "succeeded", discovered=5, skipped=0, processed=5, failed=1, duplicates=0,
        seconds=2.0, images_per_second=2.5, stage_seconds={"decode": 0.5}, per_vendor={"fei": vendor},
        inference=InferenceSummary("skipped", reason="no model given"), failures={"/src/x.tif": "empty file"},
    )  # fmt: skip
    text = format_run_summary(run)
    line = "  fei: 4 images, 3 with a metadata pixel size, 2 with a readable scale bar"
    assert line in text.splitlines()
    assert "  failed: /src/x.tif: empty file" in text and "inference: skipped (no model given)" in text
    data = {
        "images": {"ok": 4, "failed": 0},
        "files": {"total": 5, "failed": 1, "undecodable": 1},
        "duplicates": 0,
        "per_vendor": {"fei": vendor},
        "inference": {},
        "runs": [],
    }
    assert line in format_database_summary(data, "sqlite:///x.db").splitlines()


class FakeBook:
    def __init__(self, polls: list) -> None:
        self.heartbeats: list[tuple[dict, bool]] = []
        self.polls = polls

    def heartbeat(self, counts, *, force=False) -> None:
        self.heartbeats.append((dict(counts), force))

    def file_counts(self):
        return self.polls.pop(0)


def test_progress_merges_counts_and_rate_limits_the_status() -> None:
    now = [100.0]
    sink = RecordingSink()
    book = FakeBook(polls=[(4, 1), None])
    progress = RunProgress(book, sink, clock=lambda: now[0])  # type: ignore[arg-type]
    progress.update({"discovered": 10, "skipped": 2, "processed": 0, "failed": 0}, force=True)
    now[0] += 1
    assert progress.poll() == (4, 1)  # within 10 s of the last status: heartbeat only
    assert progress.poll() is None  # the database did not answer
    assert len(sink.calls) == 1
    assert book.heartbeats[-1] == ({"discovered": 10, "skipped": 2, "processed": 4, "failed": 1}, False)
    progress.final({"processed": 9, "failed": 1, "duplicates": 2}, {"decode": 1.0})
    assert sink.calls[-1] == (
        {"discovered": 10, "skipped": 2, "processed": 9, "failed": 1, "duplicates": 2},
        {"decode": 1.0},
        True,
    )


def test_fault_plan_is_checked_and_the_kill_is_armed_only_inside_a_first_task_attempt() -> None:
    with pytest.raises(ValueError, match="kill_after_files"):
        FaultPlan(kill_after_files=0)
    with pytest.raises(ValueError, match="slow_ms_per_file"):
        FaultPlan(slow_ms_per_file=-1)
    armed = FaultPlan(kill_after_files=1, slow_ms_per_file=5).armed()  # not in a Spark task here
    assert armed.kill_after_files is None and armed.slow_seconds == 0.005
    armed.after_commit(10)  # not armed: the process lives on
