"""Choosing where a run executes (pure): the auto threshold, its override, workers, partitions."""

from __future__ import annotations

import pytest

from semingest_worker import engines
from semingest_worker.engines import Engine
from semingest_worker.records import ImageFile


def test_auto_runs_inline_on_a_local_master_up_to_the_cap() -> None:
    assert engines.INLINE_MAX_FILES is None  # no cap by default: inline is faster at every size
    assert engines.choose(Engine.AUTO, 150_000, None) is Engine.INLINE
    assert engines.choose(Engine.AUTO, 2000, 2000, "local[2]") is Engine.INLINE
    assert engines.choose(Engine.AUTO, 2001, 2000, "local[*]") is Engine.LOCAL_SPARK
    assert engines.choose(Engine.AUTO, 5, 0) is Engine.LOCAL_SPARK  # cap 0: always Spark


@pytest.mark.parametrize("master", ["spark://head:7077", "k8s://https://api:6443", "yarn", "localhost"])
def test_auto_runs_on_spark_for_a_cluster_master(master: str) -> None:
    assert not engines.is_local_master(master)
    assert engines.choose(Engine.AUTO, 1, None, master) is Engine.LOCAL_SPARK


@pytest.mark.parametrize("master", [None, "local", "local[1]", "local[*]", "local[4,3]", "local[*,2]"])
def test_local_masters(master: str | None) -> None:
    assert engines.is_local_master(master)


def test_a_forced_engine_is_kept_whatever_the_size() -> None:
    assert engines.choose(Engine.INLINE, 10**6, 10) is Engine.INLINE
    assert engines.choose(Engine.LOCAL_SPARK, 1, 2000) is Engine.LOCAL_SPARK


def test_the_threshold_comes_from_the_option_then_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(engines.INLINE_MAX_FILES_ENV, raising=False)
    assert engines.inline_max_files() == engines.INLINE_MAX_FILES
    monkeypatch.setenv(engines.INLINE_MAX_FILES_ENV, "50")
    assert engines.inline_max_files() == 50
    assert engines.inline_max_files(7) == 7
    monkeypatch.setenv(engines.INLINE_MAX_FILES_ENV, "many")
    with pytest.raises(ValueError, match="SEMINGEST_INLINE_MAX_FILES must be a whole number"):
        engines.inline_max_files()
    monkeypatch.setenv(engines.INLINE_MAX_FILES_ENV, "-1")
    with pytest.raises(ValueError, match=">= 0"):
        engines.inline_max_files()


def test_workers_follow_the_master() -> None:
    assert engines.workers_for("local[3]") == 3
    assert engines.workers_for("local[2,4]") == 2
    assert engines.workers_for("local") == 1
    assert engines.workers_for("local[*]") >= 1
    assert engines.workers_for(None) >= 1


def test_split_deals_every_file_once_keeping_the_order() -> None:
    files = [ImageFile(path=f"/d/{i}.tif", size=1, mtime_ns=1) for i in range(10)]
    parts = engines.split(files, 4)
    assert [len(p) for p in parts] == [3, 3, 2, 2]
    assert sorted((f for p in parts for f in p), key=files.index) == files
    assert all(p == sorted(p, key=files.index) for p in parts)
    assert parts[0] == [files[0], files[4], files[8]]  # dealt: neighbours go to different workers
    assert engines.split(files[:2], 8) == [[files[0]], [files[1]]]  # never an empty partition


@pytest.mark.parametrize(
    ("files", "workers", "partitions"),
    [(1000, 2, 8), (100, 2, 4), (30, 2, 2), (3, 2, 2), (1000, 1, 4), (10, 1, 1)],
)
def test_partitions_per_worker_but_not_for_a_handful_of_files(files, workers, partitions) -> None:
    assert engines.partitions_for(files, workers) == partitions


@pytest.mark.parametrize(
    ("extra", "engine"),
    [
        ([], "auto"),
        (["--engine", "inline"], "inline"),
        (["--partitions", "8"], "local-spark"),  # Spark-only options ask for Spark
        (["--max-failures", "3"], "local-spark"),
        (["--conf", "spark.x=1"], "local-spark"),
        (["--engine", "inline", "--partitions", "8"], "inline"),  # an explicit engine stays
    ],
)
def test_the_cli_engine(extra: list[str], engine: str) -> None:
    from semingest_worker import cli

    args = cli._parser().parse_args(["run", "/data", *extra])
    assert cli._engine(args) == engine
