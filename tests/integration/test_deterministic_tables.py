"""Issue 13 item 9: the tables are a function of the input, not of the scheduling. The same
files ingested in one partition (in order and reversed), and on Spark local[2] in many partitions
with a warm label cache, give identical tables, real SEM files included."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from semingest_worker import synth
from semingest_worker.database import create_engine, create_schema, queries
from semingest_worker.discovery import DEFAULT_INCLUDE, list_images
from semingest_worker.job import JobConfig, run_job
from semingest_worker.pipeline import PipelineConfig, process_partition

pytestmark = [pytest.mark.spark]


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory, sem_corpus: Path) -> Path:
    root = tmp_path_factory.mktemp("mixed")
    synth.generate_corpus(root / "synthetic", 30, seed=23, size=(640, 480), styles=synth.STYLES)
    for path in sorted(sem_corpus.iterdir()):
        if path.suffix.lower() in (".tif", ".jpg", ".png", ".txt"):
            shutil.copy(path, root / path.name)
    return root


def _digests(url: str) -> dict[str, tuple[int, str]]:
    engine = create_engine(url)
    with engine.connect() as conn:
        digests = queries.content_digests(conn)
    engine.dispose()
    return digests


def _inline(root: Path, url: str, reverse: bool) -> dict[str, tuple[int, str]]:
    create_schema(create_engine(url))
    files = list_images(str(root), DEFAULT_INCLUDE).files
    process_partition(
        list(reversed(files)) if reverse else files, PipelineConfig(database_url=url, run_id="r")
    )
    return _digests(url)


def test_tables_do_not_depend_on_partitioning_or_order(mixed: Path, tmp_path: Path, spark) -> None:
    in_order = _inline(mixed, f"sqlite:///{tmp_path / 'a.db'}", reverse=False)
    reversed_ = _inline(mixed, f"sqlite:///{tmp_path / 'b.db'}", reverse=True)
    spark_url = f"sqlite:///{tmp_path / 'c.db'}"
    summary = run_job(
        JobConfig(source=str(mixed), database_url=spark_url, partitions=9), spark=spark, progress=False
    )
    assert summary.status == "succeeded"
    on_spark = _digests(spark_url)
    assert in_order["pixel_size"][0] >= 45  # synthetic + real images with a reading or a reason
    assert reversed_ == in_order
    assert on_spark == in_order
