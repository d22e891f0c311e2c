"""Which files ``--reprocess`` re-extracts (``queries.known_files``), on SQLite and MariaDB."""

from __future__ import annotations

import hashlib

import pytest
import sqlalchemy as sa

from semingest_api.stages import Stage
from semingest_worker.database import ImageWriter, create_engine, create_schema, queries, schema
from semingest_worker.identity import path_key
from semingest_worker.provenance import READER_VERSIONS, VERSIONED_STAGES, reader_version, reader_versions
from semingest_worker.records import ImageFile, ImageResult, InstrumentMeta, MetadataResult, ScaleBarReading


def _result(path: str, pixels: str) -> ImageResult:
    return ImageResult(
        file=ImageFile(path=path, size=10, mtime_ns=20),
        run_id="r1",
        status="ok",
        image_hash=hashlib.sha256(pixels.encode()).hexdigest(),
        width=8,
        metadata=MetadataResult(exif={}, instrument=InstrumentMeta(vendor="zeiss", pixel_size_m=1e-9)),
        scale_bar=ScaleBarReading(reason="no data bar"),
    )


@pytest.fixture(params=["sqlite", "mariadb"])
def db_url(request: pytest.FixtureRequest) -> str:
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "mariadb_url")
    engine = create_engine(url)
    create_schema(engine)
    engine.dispose()
    with ImageWriter(url) as writer:
        writer.write([_result("/d/a.tif", "a"), _result("/d/b.tif", "b"), _result("/d/z-copy-of-a.tif", "a")])
    return url


def test_only_canonical_files_of_images_with_rows_from_another_reader_are_redone(db_url: str) -> None:
    a = hashlib.sha256(b"a").hexdigest()
    engine = create_engine(db_url)
    with engine.begin() as conn:
        everything = set(queries.known_files(conn, "/d"))
        assert everything == {path_key(p) for p in ("/d/a.tif", "/d/b.tif", "/d/z-copy-of-a.tif")}
        for stage in VERSIONED_STAGES:  # all rows current: nothing to redo
            assert set(queries.known_files(conn, "/d", reprocess=(stage,))) == everything
        conn.execute(
            sa.update(schema.pixel_size)
            .where(schema.pixel_size.c.image_hash == a)
            .values(reader_version="scalebar/0")
        )
        stale = set(queries.known_files(conn, "/d", reprocess=("scalebar",)))
        # a's canonical file is redone; its duplicate and b are left alone; other stages are current.
        assert everything - stale == {path_key("/d/a.tif")}
        assert set(queries.known_files(conn, "/d", reprocess=("metadata", "inference"))) == everything
        conn.execute(sa.update(schema.exif_meta).values(reader_version=None))  # rows from before provenance
        assert set(queries.known_files(conn, "/d", reprocess=("metadata",))) == {
            path_key("/d/z-copy-of-a.tif")
        }
    engine.dispose()


def test_reader_versions_name_their_stage() -> None:
    assert set(READER_VERSIONS) == set(VERSIONED_STAGES) == set(schema.READER_STAGE_TABLES)
    assert set(VERSIONED_STAGES) <= set(Stage)  # the pipeline's stages, one definition
    assert reader_version("scalebar") == f"scalebar/{READER_VERSIONS[Stage.SCALEBAR]}"
    assert reader_versions() == {s.value: reader_version(s) for s in VERSIONED_STAGES}
    with pytest.raises(ValueError, match="ocr"):
        reader_version("ocr")
    with pytest.raises(ValueError, match="the decode stage has no reader version"):
        reader_version("decode")
