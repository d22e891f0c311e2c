"""The skip check reads a folder's files as an index range, and label readings persist in
``ocr_labels`` across stores (runs, executors), on SQLite and MariaDB."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from semingest_worker import label_store
from semingest_worker.database import ImageWriter, create_engine, create_schema, queries, schema
from semingest_worker.identity import path_key
from semingest_worker.records import ImageFile, ImageResult


@pytest.fixture(params=["sqlite", "mariadb"])
def db_url(request: pytest.FixtureRequest) -> str:
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "mariadb_url")
    engine = create_engine(url)
    create_schema(engine)
    engine.dispose()
    return url


def _failed_file(path: str) -> ImageResult:
    return ImageResult(file=ImageFile(path=path, size=1, mtime_ns=2), run_id="r", status="failed", error="x")


def test_known_files_are_exactly_the_folder_s_files(db_url: str) -> None:
    paths = [
        "/data/a/x.tif",
        "/data/a/sub/y.tif",
        "/data/a0/z.tif",  # '0' follows '/': outside the range
        "/data/a.tif",
        "/data/ab/w.tif",
        "/data/a%/v.tif",  # LIKE wildcards in names are literal
        "/data/a_/u.tif",
    ]
    with ImageWriter(db_url) as writer:
        writer.write([_failed_file(p) for p in paths])
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            got = set(queries.known_files(conn, "/data/a"))
            assert got == {path_key("/data/a/x.tif"), path_key("/data/a/sub/y.tif")}
            assert set(queries.known_files(conn, "/data/a%/")) == {path_key("/data/a%/v.tif")}
            assert set(queries.known_files(conn, "/data/a_")) == {path_key("/data/a_/u.tif")}
    finally:
        engine.dispose()


def test_the_skip_check_uses_the_path_index(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            stmt = sa.select(schema.image_files.c.path_key).where(queries.under_folder("/data/a"))
            sql = str(stmt.compile(engine, compile_kwargs={"literal_binds": True}))
            if engine.dialect.name == "sqlite":
                plan = " ".join(str(r[-1]) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))
                assert "ix_image_files_path" in plan, plan
            else:
                rows = conn.exec_driver_sql("EXPLAIN " + sql).mappings().all()
                assert any(r["key"] == "ix_image_files_path" for r in rows), rows
    finally:
        engine.dispose()


def test_a_database_at_the_previous_revision_gains_the_index_and_the_table(db_url: str) -> None:
    from semingest_worker.database import migrate

    engine = create_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(
                "DROP INDEX ix_image_files_path"
                + (" ON image_files" if engine.dialect.name != "sqlite" else "")
            )
            conn.exec_driver_sql("DROP TABLE ocr_labels")
            conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0006'")
        assert migrate.upgrade(engine).changed
        inspector = sa.inspect(engine)
        assert "ix_image_files_path" in {ix["name"] for ix in inspector.get_indexes("image_files")}
        assert "ocr_labels" in inspector.get_table_names()
        with engine.connect() as conn:
            assert migrate.compare(conn) == []
    finally:
        engine.dispose()


def test_a_reading_kept_by_one_store_is_found_by_the_next(db_url: str) -> None:
    digest = b"\x01" * 16
    first = label_store.DatabaseLabelStore(db_url)
    with label_store.installed(first):
        assert label_store.lookup("reader-1", digest) is None
        label_store.remember("reader-1", digest, label_store.StoredLabel("200 µm", 91))
        # before the flush, this store answers from its buffer
        assert label_store.lookup("reader-1", digest) == label_store.StoredLabel("200 µm", 91)
    assert first.written == 1  # flushed when the partition ended

    second = label_store.DatabaseLabelStore(db_url)  # another executor, another run
    with label_store.installed(second):
        assert label_store.lookup("reader-1", digest) == label_store.StoredLabel("200 µm", 91)
        assert label_store.lookup("reader-2", digest) is None  # another reader reads afresh
        # the same crop stored twice (two executors at once) keeps one row
        label_store.remember("reader-1", digest, label_store.StoredLabel("200 µm", 91))
    assert (second.hits, second.misses) == (1, 1)
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(schema.ocr_labels)).scalar_one() == 1
    finally:
        engine.dispose()
    assert label_store.lookup("reader-1", digest) is None  # no store installed: nothing kept


def test_a_broken_store_switches_itself_off(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'no-tables.db'}"  # no schema: every query fails
    store = label_store.DatabaseLabelStore(url)
    with label_store.installed(store):
        assert label_store.lookup("r", b"x") is None
        label_store.remember("r", b"x", label_store.StoredLabel("1 µm"))
        assert label_store.lookup("r", b"x") is None
    assert store.written == 0
