"""The whole ingest on Spark local[2] over >= 200 synthetic images plus the bad inputs, into
MariaDB and into SQLite: exact row counts, duplicates found, bad inputs failed with their
reasons while everything else is ingested, SQL-looking file names verbatim, and a second run
that skips everything and changes nothing."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa

from semingest_api.spec import DEFAULT_LABELS
from semingest_worker import synth
from semingest_worker.database import create_engine, queries, schema
from semingest_worker.job import JobConfig, RunError, run_job

pytestmark = [pytest.mark.spark]


STYLES = synth.STYLES
COUNT = 200


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list, dict[str, str]]:
    root = tmp_path_factory.mktemp("corpus")
    images = synth.generate_corpus(
        root, COUNT, seed=11, size=(512, 384), styles=STYLES, duplicate_fraction=0.05
    )
    bad = synth.write_bad_inputs(root)
    return root, images, bad


def _select(url: str, stmt) -> list:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    engine.dispose()
    return rows


def _state(url: str) -> tuple[dict[str, int], dict[str, tuple[int, str]]]:
    engine = create_engine(url)
    with engine.connect() as conn:
        counts, digests = queries.table_counts(conn), queries.content_digests(conn)
    engine.dispose()
    return counts, digests


@pytest.mark.parametrize("backend", ["sqlite", "mariadb"])
def test_ingest_on_spark_is_exact_and_idempotent(
    backend: str, corpus, spark, request: pytest.FixtureRequest
) -> None:
    root, images, bad = corpus
    url = request.getfixturevalue("sqlite_url" if backend == "sqlite" else "mariadb_url")
    config = JobConfig(source=str(root), database_url=url, batch_size=50)

    summary = run_job(config, spark=spark, progress=False)

    originals = [i for i in images if i.duplicate_of is None]
    planted_dups = len(images) - len(originals)
    assert planted_dups >= 5
    undecodable = [
        p for p, k in bad.items() if k in ("truncated", "not an image", "empty", "decompression bomb")
    ]
    decodable_bad = {p for p in bad if p not in undecodable}
    # absurd_pixel_size / garbage_tag_34118 / no_data_bar share one texture; the three odd names one file.
    bad_distinct = 2
    bad_dups = len(decodable_bad) - bad_distinct
    files = len(images) + len(bad)
    distinct = len(originals) + bad_distinct
    failed_keywords = {p: k for p, k in bad.items() if k not in ("ok", "no data bar")}

    assert summary.status == "succeeded"
    assert (summary.discovered, summary.skipped, summary.processed) == (files, 0, files)
    assert summary.failed == len(failed_keywords)
    assert summary.duplicates == planted_dups + bad_dups
    assert summary.inference.status == "skipped"
    assert set(summary.stage_seconds) >= {"metadata", "scalebar", "inference", "database"}
    assert summary.stage_seconds["scalebar"] > 0 and summary.stage_seconds["database"] > 0
    assert sum(v["images"] for v in summary.per_vendor.values()) == files - len(undecodable)

    counts, digests = _state(url)
    assert counts.pop("ocr_labels") > 0  # label readings kept for later runs (a cache: its size varies)
    assert counts == {
        "image_files": files,
        "images": distinct,
        "exif_meta": distinct,
        "instrument_meta": distinct,
        "pixel_size": distinct,
        "inference": 0,
        "thumbnails": distinct,  # every decoded image has a preview
        "ingest_runs": 1,
    }

    f, im = schema.image_files, schema.images
    by_path = {row.path: row for row in _select(url, sa.select(f))}
    # every bad input failed with its specific reason; the odd names and the bar-less image are ingested
    for path, keyword in bad.items():
        row = by_path[path]
        if path in failed_keywords:
            assert row.status == "failed", path
            assert keyword.lower() in row.error.lower(), (path, row.error)
        else:
            assert row.status == "ok", (path, row.error)
            assert row.image_hash is not None
    for path in undecodable:
        assert by_path[path].image_hash is None
    # everything else is ingested, ok
    for image in images:
        row = by_path[image.path]
        assert row.status == "ok", (image.path, row.error)
    # planted duplicates point at their original's image, whose canonical file is one of the two
    hash_of = {p: row.image_hash for p, row in by_path.items()}
    canonical = dict(_select(url, sa.select(im.c.image_hash, im.c.path)))
    for image in images:
        if image.duplicate_of:
            assert hash_of[image.path] == hash_of[image.duplicate_of]
            assert canonical[hash_of[image.path]] in (image.path, image.duplicate_of)
    copies = Counter(h for h in hash_of.values() if h)
    assert sum(n - 1 for n in copies.values()) == planted_dups + bad_dups
    # SQL-looking names round-trip verbatim (and the tables are all still there)
    odd = [p for p, k in bad.items() if k == "ok"]
    assert any("DROP TABLE" in p for p in odd)
    for path in odd:
        assert path in by_path
    # the bar-less image: no OCR pixel size, with the reason
    ps = schema.pixel_size
    (reason,) = _select(
        url,
        sa.select(ps.c.reason, ps.c.ocr_pixel_size_m).where(
            ps.c.image_hash == hash_of[next(p for p, k in bad.items() if k == "no data bar")]
        ),
    )
    assert reason.ocr_pixel_size_m is None and "no data bar" in reason.reason.lower()
    # the run is recorded
    runs = schema.ingest_runs
    (run,) = _select(url, sa.select(runs))
    assert (run.id, run.status, run.discovered, run.processed, run.failed, run.duplicates) == (
        summary.run_id,
        "succeeded",
        files,
        files,
        len(failed_keywords),
        summary.duplicates,
    )
    assert run.finished_at is not None and run.scalebar_seconds > 0

    # a second run: everything skipped, no row added or changed
    again = run_job(config, spark=spark, progress=False)
    assert (again.discovered, again.skipped, again.processed, again.failed) == (
        files,
        files,
        0,
        0,
    )
    counts2, digests2 = _state(url)
    assert digests2 == digests
    assert counts2.pop("ocr_labels") > 0
    assert counts2 == {**counts, "ingest_runs": 2}


def test_a_changed_file_is_ingested_again(corpus, spark, sqlite_url: str, tmp_path: Path) -> None:
    root, images, _ = corpus
    src = tmp_path / "src"
    src.mkdir()
    a, b = (i for i in images[:2])
    target = src / "image.tif"
    target.write_bytes(Path(a.path).read_bytes())
    config = JobConfig(source=str(src), database_url=sqlite_url)
    first = run_job(config, spark=spark, progress=False)
    assert first.processed == 1
    target.write_bytes(Path(b.path).read_bytes())  # new content, new mtime
    second = run_job(config, spark=spark, progress=False)
    assert (second.processed, second.skipped, second.changed) == (1, 0, 1)
    counts, _ = _state(sqlite_url)
    assert counts["image_files"] == counts["images"] == counts["thumbnails"] == 1  # the old image is pruned
    f = schema.image_files
    (row,) = _select(sqlite_url, sa.select(f.c.image_hash, f.c.size))
    assert row.size == target.stat().st_size


def test_run_level_failures_are_clear(tmp_path: Path, sqlite_url: str, spark) -> None:
    with pytest.raises(RunError, match="unsupported database 'postgresql'"):
        run_job(JobConfig(source=str(tmp_path), database_url="postgresql://x/y"), spark=spark, progress=False)
    with pytest.raises(RunError, match="does not exist"):
        run_job(
            JobConfig(source=str(tmp_path / "missing"), database_url=sqlite_url), spark=spark, progress=False
        )
    (run,) = _select(sqlite_url, sa.select(schema.ingest_runs))
    assert run.status == "failed" and "does not exist" in run.error


def _tiny_keras(path: Path, seed: int) -> Path:
    """A small softmax CNN over the 10 SEM categories (random weights: throughput and plumbing only)."""
    import keras

    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            keras.layers.Rescaling(1 / 255),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(len(DEFAULT_LABELS), activation="softmax"),
        ]
    )
    model.save(path)
    return path


def test_inference_writes_one_row_per_image_and_a_new_model_adds_its_own(
    corpus, spark, sqlite_url: str, tmp_path: Path
) -> None:
    from semingest_worker.inference import ModelConfig

    root, images, _ = corpus
    src = tmp_path / "src"
    src.mkdir()
    picked = [i for i in images if i.duplicate_of is None][:12]
    for n, image in enumerate(picked):
        (src / f"{n:02d}_{Path(image.path).name}").write_bytes(Path(image.path).read_bytes())
    (src / "zz_copy.tif").write_bytes(Path(picked[0].path).read_bytes())  # a duplicate
    m1, m2 = _tiny_keras(tmp_path / "m1.keras", seed=1), _tiny_keras(tmp_path / "m2.keras", seed=2)
    config = JobConfig(
        source=str(src), database_url=sqlite_url, model=ModelConfig(path=str(m1), batch_size=4)
    )

    summary = run_job(config, spark=spark, progress=False)
    assert summary.inference.status == "done"
    model_id = summary.inference.model_id
    assert summary.processed == 13 and summary.failed == 0 and summary.duplicates == 1
    assert summary.stage_seconds["inference"] > 0
    inf = schema.inference
    rows = _select(sqlite_url, sa.select(inf))
    assert len(rows) == 12 and {r.model_id for r in rows} == {model_id}
    import json

    for r in rows:
        scores = json.loads(r.scores)
        assert set(scores) == set(DEFAULT_LABELS)
        assert sum(scores.values()) == pytest.approx(1.0, abs=1e-5)
        assert r.top1_label == max(scores, key=scores.get) and r.error is None
    (run,) = [r for r in _select(sqlite_url, sa.select(schema.ingest_runs)) if r.id == summary.run_id]
    assert run.model_id == model_id and run.inference_seconds > 0

    again = run_job(config, spark=spark, progress=False)  # same model: nothing to do
    assert (again.skipped, again.processed) == (13, 0)
    assert len(_select(sqlite_url, sa.select(inf))) == 12

    other = JobConfig(source=str(src), database_url=sqlite_url, model=ModelConfig(path=str(m2)))
    third = run_job(other, spark=spark, progress=False)  # a new model classifies everything again
    assert third.processed == 13 and third.inference.model_id != model_id
    assert len(_select(sqlite_url, sa.select(inf))) == 24
    counts, _ = _state(sqlite_url)
    assert counts["images"] == 12 and counts["image_files"] == 13


def test_a_model_that_cannot_be_loaded_fails_the_run_before_any_image(
    corpus, spark, sqlite_url: str, tmp_path: Path
) -> None:
    from semingest_worker.inference import ModelConfig

    root, _, _ = corpus
    broken = tmp_path / "broken.keras"
    broken.write_bytes(b"not a model at all")
    config = JobConfig(source=str(root), database_url=sqlite_url, model=ModelConfig(path=str(broken)))
    with pytest.raises(RunError, match="cannot load the model") as info:
        run_job(config, spark=spark, progress=False)
    assert "broken.keras" in str(info.value)
    counts, _ = _state(sqlite_url)
    assert counts["image_files"] == 0
    (run,) = _select(sqlite_url, sa.select(schema.ingest_runs))
    assert run.status == "failed" and "cannot load the model" in run.error


class RecordingReporter:
    """Stands in for the Kubernetes StatusReporter (same ``report`` signature); keeps the calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[dict, dict, bool]] = []

    def report(self, progress, stage_seconds, phase=None, force=False, spark_measures=None) -> bool:
        self.calls.append((dict(progress), dict(stage_seconds), force))
        return True


def test_the_driver_reports_progress_and_the_final_counts(corpus, spark, sqlite_url: str) -> None:
    root, images, bad = corpus
    reporter = RecordingReporter()
    summary = run_job(
        JobConfig(source=str(root), database_url=sqlite_url, scale_bar=False),
        spark=spark,
        progress=False,
        status_reporter=reporter,
    )
    assert reporter.calls, "no status report"
    first, final = reporter.calls[0][0], reporter.calls[-1]
    assert first["discovered"] == summary.discovered  # reported as soon as discovery is done
    progress, stage_seconds, forced = final
    assert forced
    assert {k: progress[k] for k in ("discovered", "skipped", "processed", "failed", "duplicates")} == {
        k: summary.counts()[k] for k in ("discovered", "skipped", "processed", "failed", "duplicates")
    }
    assert set(stage_seconds) >= {"metadata", "scalebar", "inference", "database"}
