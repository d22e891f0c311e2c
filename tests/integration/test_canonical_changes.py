"""Issue 13 item 10: when the canonical copy of a duplicate pair is replaced with other pixels,
or deleted, ``images.path`` never names a file without those pixels, the duplicate count is
right, and vanished files are marked ``missing`` (SQLite and MariaDB, no Spark)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from semingest_worker import imageio, synth
from semingest_worker.database import create_engine, create_schema, queries, schema
from semingest_worker.database.canonical import MISSING, REINGEST_STAMP, mark_vanished, undisplay_path
from semingest_worker.discovery import DEFAULT_INCLUDE, list_images, plan_ingest
from semingest_worker.identity import display_path, path_key
from semingest_worker.pipeline import PipelineConfig, process_partition


def _ingest(src: Path, url: str, run_id: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        listing = list_images(str(src), DEFAULT_INCLUDE)
        mark_vanished(conn, str(src), {path_key(f.path) for f in listing.files}, run_id)
        plan = plan_ingest(listing, queries.known_files(conn, str(src)))
    engine.dispose()
    process_partition(plan.todo, PipelineConfig(database_url=url, run_id=run_id))


def _image(url: str, image_hash: str) -> tuple[str, str]:
    engine = create_engine(url)
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(schema.images.c.path, schema.images.c.status).where(
                schema.images.c.image_hash == image_hash
            )
        ).one()
    engine.dispose()
    return row[0], row[1]


@pytest.mark.parametrize("backend", ["sqlite", "mariadb"])
def test_replaced_and_deleted_canonical_copies(tmp_path: Path, backend: str, request) -> None:
    url = request.getfixturevalue("sqlite_url" if backend == "sqlite" else "mariadb_url")
    create_schema(create_engine(url))
    src = tmp_path / "src"
    [orig, other] = synth.generate_corpus(tmp_path / "gen", 2, seed=11, duplicate_fraction=0)
    src.mkdir()
    a, b = src / "a.tif", src / "b.tif"  # a sorts first: the canonical copy
    shutil.copy(orig.path, a)
    shutil.copy(orig.path, b)
    _ingest(src, url, "r1")
    h = imageio.decode_image(a).image_hash
    assert _image(url, h) == (display_path(str(a)), "ok")
    engine = create_engine(url)
    with engine.connect() as conn:
        assert queries.count_duplicates(conn) == 1

    # a.tif now holds other pixels: the old image moves to b.tif, which is due for re-ingest
    shutil.copy(other.path, a)
    os.utime(a, ns=(1, 1))
    _ingest(src, url, "r2")
    assert _image(url, h)[0] == display_path(str(b))
    with engine.connect() as conn:
        assert queries.count_duplicates(conn) == 0
        stamp = conn.execute(
            sa.select(schema.image_files.c.sidecar_stamp).where(
                schema.image_files.c.path_key == path_key(str(b))
            )
        ).scalar_one()
    assert stamp == REINGEST_STAMP
    _ingest(src, url, "r3")  # b.tif re-ingested: its own rows, its own rank
    with engine.connect() as conn:
        stamp = conn.execute(
            sa.select(schema.image_files.c.sidecar_stamp).where(
                schema.image_files.c.path_key == path_key(str(b))
            )
        ).scalar_one()
    assert stamp != REINGEST_STAMP

    # b.tif deleted: the file is missing, and so is the image (no file holds it)
    b.unlink()
    _ingest(src, url, "r4")
    with engine.connect() as conn:
        status, error = conn.execute(
            sa.select(schema.image_files.c.status, schema.image_files.c.error).where(
                schema.image_files.c.path_key == path_key(str(b))
            )
        ).one()
    assert (status, error) == (MISSING, "the file was not found by run r4")
    assert _image(url, h)[1] == MISSING
    # and it comes back: ingested again, the image is present again
    shutil.copy(orig.path, b)
    _ingest(src, url, "r5")
    assert _image(url, h) == (display_path(str(b)), "ok")
    engine.dispose()


def test_display_path_round_trips(tmp_path: Path) -> None:
    for name in [
        "plain.tif",
        "back\\slash.tif",
        "x\\xff.tif",
        "new\nline.tif",
        os.fsdecode(b"raw\xff.tif"),
        "ü.tif",
    ]:
        assert undisplay_path(display_path(str(tmp_path / name))) == str(tmp_path / name)
    assert display_path("x\\xff.tif") != display_path(os.fsdecode(b"x\xff.tif"))
