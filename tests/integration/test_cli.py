"""The ``semingest`` command and the spark-submit entry point, as a user runs them (subprocesses)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from semingest_worker.database import create_engine, queries, schema
from semingest_worker.progress import ProgressDisplay

REPO = Path(__file__).resolve().parents[2]
SEMINGEST = [sys.executable, "-m", "semingest_worker.cli"]
JOB = [sys.executable, str(REPO / "images" / "worker" / "semingest_job.py")]


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYSPARK_PYTHON": sys.executable, **extra}


def _run(
    args: list[str], *, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=env or _env(), cwd=REPO)


@pytest.mark.spark
def test_generate_run_json_and_summary(tmp_path: Path) -> None:
    images = tmp_path / "images"
    db = f"sqlite:///{tmp_path / 'sem.db'}"
    gen = _run(
        [
            *SEMINGEST,
            "generate",
            str(images),
            "--count",
            "16",
            "--seed",
            "2",
            "--size",
            "400x300",
            "--bad-inputs",
        ]
    )
    assert gen.returncode == 0, gen.stderr
    assert "wrote 16 images" in gen.stdout and "bad inputs" in gen.stdout

    run = _run([*SEMINGEST, "run", str(images), "--db", db, "--master", "local[2]", "--json"])
    assert run.returncode == 0, run.stderr  # failed images do not fail the run
    summary = json.loads(run.stdout)  # stdout is exactly one JSON object
    assert summary["status"] == "succeeded" and summary["discovered"] == 26 and summary["processed"] == 26
    assert summary["failed"] == 6 and len(summary["failures"]) == 6
    assert summary["duplicates"] >= 4
    assert set(summary["stage_seconds"]) >= {"metadata", "scalebar", "inference", "database"}
    assert summary["inference"] == {"status": "skipped", "reason": "no model given"}
    assert {"images", "with_metadata_pixel_size", "with_scale_bar"} <= set(summary["per_vendor"]["zeiss"])
    assert isinstance(summary["seconds"], float) and summary["run_id"].startswith("run-")

    text = _run([*SEMINGEST, "run", str(images), "--db", db, "--master", "local[1]", "--no-progress"])
    assert text.returncode == 0, text.stderr
    assert "skipped 26 (already ingested), processed 0" in text.stdout

    summ = _run([*SEMINGEST, "summary", "--db", db])
    assert summ.returncode == 0, summ.stderr
    assert "images:" in summ.stdout and summary["run_id"] in summ.stdout and "zeiss:" in summ.stdout
    data = json.loads(_run([*SEMINGEST, "summary", "--db", db, "--json"]).stdout)
    assert data["files"]["total"] == 26 and data["files"]["failed"] == 6 and data["files"]["undecodable"] == 4
    assert len(data["runs"]) == 2


@pytest.mark.parametrize("backend", ["sqlite", "mariadb"])
def test_db_init_creates_the_schema(backend: str, request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue("sqlite_url" if backend == "sqlite" else "mariadb_url")
    for _ in range(2):  # idempotent
        out = _run([*SEMINGEST, "db", "init", "--db", url])
        assert out.returncode == 0, out.stderr
    engine = create_engine(url)
    assert {t.name for t in schema.ALL_TABLES} <= set(sa.inspect(engine).get_table_names())
    with engine.connect() as conn:
        assert set(queries.table_counts(conn).values()) == {0}
    engine.dispose()


def test_run_level_failures_exit_1_with_a_clear_message(tmp_path: Path) -> None:
    bad_url = _run([*SEMINGEST, "run", str(tmp_path), "--db", "postgresql://u@h/db"])
    assert bad_url.returncode == 1
    assert "unsupported database 'postgresql'" in bad_url.stderr

    started = time.monotonic()
    down = _run(
        [
            *SEMINGEST,
            "run",
            str(tmp_path),
            "--db",
            "mysql+pymysql://root@127.0.0.1:1/x",
            "--retry-deadline",
            "1",
            "--json",
        ]
    )
    assert down.returncode == 1
    assert "database unreachable" in down.stderr and "retry deadline 1 s" in down.stderr
    assert json.loads(down.stdout)["status"] == "failed"
    assert time.monotonic() - started < 60

    missing = _run([*SEMINGEST, "run", str(tmp_path / "nope"), "--db", f"sqlite:///{tmp_path / 'x.db'}"])
    assert missing.returncode == 1 and "does not exist" in missing.stderr


def test_an_unloadable_model_exits_1_before_any_image(tmp_path: Path) -> None:
    (tmp_path / "img").mkdir()
    from semingest_worker import synth

    synth.generate_corpus(tmp_path / "img", 2, seed=1, size=(320, 240), duplicate_fraction=0)
    db = tmp_path / "m.db"
    out = _run(
        [
            *SEMINGEST,
            "run",
            str(tmp_path / "img"),
            "--db",
            f"sqlite:///{db}",
            "--model",
            str(tmp_path / "no.keras"),
        ]
    )
    assert out.returncode == 1
    assert "cannot load the model" in out.stderr and "no.keras" in out.stderr
    engine = create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        assert queries.table_counts(conn)["image_files"] == 0
        (status, error) = conn.execute(
            sa.select(schema.ingest_runs.c.status, schema.ingest_runs.c.error)
        ).one()
    engine.dispose()
    assert status == "failed" and "cannot load the model" in error


def test_render_delegates_to_the_operator() -> None:
    out = _run([*SEMINGEST, "render", "-f", str(REPO / "examples" / "ingest.yaml")])
    assert out.returncode == 0, out.stderr
    assert "kind:" in out.stdout


def test_job_entry_point_rejects_bad_specs_and_a_missing_database_url(tmp_path: Path) -> None:
    spec = {"source": {"pvc": "sem", "path": "/"}, "database": {"secretRef": {"name": "db"}}}
    env = _env()
    env.pop("SEMINGEST_DATABASE_URL", None)
    no_url = _run([*JOB, "--spec-json", json.dumps(spec), "--source-root", str(tmp_path)], env=env)
    assert no_url.returncode == 1 and "SEMINGEST_DATABASE_URL" in no_url.stderr

    bad = {**spec, "executors": {"strategy": "huge"}}
    invalid = _run([*JOB, "--spec-json", json.dumps(bad)], env=_env(SEMINGEST_DATABASE_URL="sqlite:///x.db"))
    assert invalid.returncode == 1 and "spec.executors.strategy" in invalid.stderr


def test_job_config_from_a_semingest_object() -> None:
    from semingest_worker.config import JobConfig
    from semingest_worker.submit import load_spec_document

    doc = """
apiVersion: semingest.io/v1alpha1
kind: SemIngest
metadata: {name: lab, namespace: sem}
spec:
  source: {pvc: sem-data, path: /microscopes/2024, include: ["**/*.tif"], exclude: ["**/thumbs/**"]}
  database: {secretRef: {name: db}, batchSize: 250, retryDeadlineSeconds: 90}
  model: {pvc: models, path: sem/model.keras, labels: sem/labels.txt, batchSize: 16}
  stages: {scaleBar: false}
  partitions: 12
"""
    config = JobConfig.from_spec(load_spec_document(doc), database_url="sqlite:///x.db", run_id="r1")
    assert config.source == "/data/source/microscopes/2024"
    assert (config.include, config.exclude) == (("**/*.tif",), ("**/thumbs/**",))
    assert (config.batch_size, config.retry_deadline_seconds, config.partitions) == (250, 90.0, 12)
    assert (config.metadata, config.scale_bar) == (True, False)
    assert config.model.path == "/data/model/sem/model.keras"
    assert config.model.labels_path == "/data/model/sem/labels.txt" and config.model.batch_size == 16
    override = JobConfig.from_spec(load_spec_document(doc), database_url="x", source_root="/tmp/here")
    assert override.source == "/tmp/here"


def test_progress_display_draws_lines_on_long_runs_only() -> None:
    now = [0.0]
    stream = io.StringIO()
    display = ProgressDisplay(1000, stream=stream, interactive=False, log_interval=30, clock=lambda: now[0])
    now[0] = 10
    assert not display.update(100)  # a short run prints nothing
    now[0] = 31
    assert display.update(310, 2)
    line = stream.getvalue().strip()
    assert (
        "310/1000 files (31%)" in line
        and "10.0 files/s" in line
        and "2 failed" in line
        and "ETA 1m09s" in line
    )
    now[0] = 40
    display.close(1000, 2)
    assert stream.getvalue().strip().splitlines()[-1].startswith("semingest: 1000/1000 files (100%)")


def test_no_matching_file_is_a_warning_naming_the_patterns(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "notes.txt").write_text("not an image")
    db = f"sqlite:///{tmp_path / 'sem.db'}"
    out = _run(
        [*SEMINGEST, "run", str(tmp_path / "src"), "--db", db, "--include", "**/*.tif", "--no-progress"]
    )
    assert out.returncode == 0, out.stderr
    assert f"no file under {tmp_path / 'src'} matches the include patterns (**/*.tif)" in out.stderr
