"""The inline engine (a process pool, no JVM) writes exactly what Spark writes, and keeps the label
readings for the next run (MariaDB, the backend of a facility)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from semingest_worker.database import create_engine, queries, schema
from semingest_worker.job import JobConfig, run_job
from semingest_worker.synth import generate_corpus

pytestmark = [pytest.mark.spark, pytest.mark.mariadb]


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("inline") / "images"
    generate_corpus(root, 12, seed=17, size=(512, 384))
    return root


def _digests(url: str) -> dict[str, tuple[int, str]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return queries.content_digests(conn)
    finally:
        engine.dispose()


def _labels(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(schema.ocr_labels)).scalar_one())
    finally:
        engine.dispose()


def test_inline_writes_what_spark_writes(images: Path, spark, mariadb_url: str, sqlite_url: str) -> None:
    inline = run_job(
        JobConfig(source=str(images), database_url=mariadb_url, engine="inline", master="local[2]"),
        progress=False,
    )
    assert inline.engine == "inline"
    assert inline.processed == 12 and inline.failed == 0
    assert inline.partitions == 2  # 2 workers; 12 files are too few to split further
    on_spark = run_job(JobConfig(source=str(images), database_url=sqlite_url), spark=spark, progress=False)
    assert on_spark.engine == "local-spark"
    assert _digests(mariadb_url) == _digests(sqlite_url)
    assert _labels(mariadb_url) > 0  # the label readings are kept

    again = run_job(JobConfig(source=str(images), database_url=mariadb_url, engine="auto"), progress=False)
    assert again.skipped == 12 and again.processed == 0 and again.engine is None


def test_auto_picks_by_the_files_left_after_the_skip_check(images: Path, sqlite_url: str) -> None:
    small = run_job(
        JobConfig(source=str(images), database_url=sqlite_url, engine="auto", master="local[1]"),
        progress=False,
    )
    assert small.engine == "inline" and small.partitions == 1  # one worker: in this process


def test_inline_with_a_model_does_not_hang(images: Path, sqlite_url: str, tmp_path: Path) -> None:
    """The driver loads TensorFlow to check the model; a forked worker of that process would hang
    (TF's threads), so the pool starts from a fork server. Found running the worker image."""
    import threading

    from inference_models import build_tiny_model

    from semingest_worker.inference import ModelConfig

    tiny = build_tiny_model(tmp_path)
    config = JobConfig(
        source=str(images),
        database_url=sqlite_url,
        engine="inline",
        master="local[2]",
        model=ModelConfig(path=str(tiny.keras), labels_path=str(tiny.labels)),
    )
    box: dict[str, object] = {}
    worker = threading.Thread(target=lambda: box.update(summary=run_job(config, progress=False)), daemon=True)
    worker.start()
    worker.join(timeout=240)
    assert not worker.is_alive(), "the inline run with a model hung"
    summary = box["summary"]
    assert summary.status == "succeeded" and summary.engine == "inline"  # type: ignore[attr-defined]
    assert summary.processed == 12 and summary.inference.classified  # type: ignore[attr-defined]
