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


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _counted_store(db_url: str, statements: list[str], clock: _Clock):  # noqa: ANN202
    """A store over a connection of its own whose ``ocr_labels`` statements are recorded."""
    engine = create_engine(db_url)

    def record(conn, cursor, statement, *args) -> None:  # noqa: ANN001
        if "ocr_labels" in statement:
            statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    conn = engine.connect()
    return engine, label_store.DatabaseLabelStore(db_url, connect=lambda: conn, clock=clock)


def _keep(db_url: str, numbers: range) -> None:
    with label_store.installed(label_store.DatabaseLabelStore(db_url)):
        for i in numbers:
            label_store.remember("reader-1", bytes([i]) * 16, label_store.StoredLabel(f"{i + 1}00 nm", 90))


def test_a_store_reads_a_small_table_once_and_a_large_one_row_by_row(db_url: str, monkeypatch) -> None:
    _keep(db_url, range(5))
    expected = [label_store.StoredLabel(f"{i + 1}00 nm", 90) for i in range(5)] + [None, None]
    for cap, wanted in ((50_000, 1), (4, 1 + 7)):
        monkeypatch.setattr(label_store, "SNAPSHOT_MAX_ROWS", cap)
        statements: list[str] = []
        engine, store = _counted_store(db_url, statements, _Clock())
        try:
            with label_store.installed(store):
                assert [label_store.lookup("reader-1", bytes([i]) * 16) for i in range(7)] == expected
        finally:
            engine.dispose()
        # cap 50,000: one snapshot answers seven lookups, misses included; cap 4: the table is
        # "large", the snapshot is given up and each crop is one lookup
        assert len(statements) == wanted, (cap, statements)


def test_a_snapshot_learns_what_another_executor_read_since(db_url: str) -> None:
    _keep(db_url, range(2))
    statements: list[str] = []
    clock = _Clock()
    engine, store = _counted_store(db_url, statements, clock)
    try:
        with label_store.installed(store):
            assert label_store.lookup("reader-1", bytes([0]) * 16) is not None  # the snapshot
            _keep(db_url, range(2, 3))  # another executor reads a new crop
            new = bytes([2]) * 16
            assert label_store.lookup("reader-1", new) is None  # not yet looked for again
            clock.now += label_store.REFRESH_SECONDS
            assert label_store.lookup("reader-1", new) == label_store.StoredLabel("300 nm", 90)
            assert label_store.lookup("reader-1", bytes([9]) * 16) is None  # no refresh this soon
    finally:
        engine.dispose()
    assert len(statements) == 2 and "created_at >=" in statements[1]


def test_new_readings_wait_at_most_a_second_before_they_are_written(db_url: str) -> None:
    statements: list[str] = []
    clock = _Clock()
    engine, store = _counted_store(db_url, statements, clock)
    try:
        with label_store.installed(store):
            label_store.remember("reader-1", b"a" * 16, label_store.StoredLabel("1 µm"))
            assert store.written == 0
            clock.now += label_store.FLUSH_SECONDS
            label_store.remember("reader-1", b"b" * 16, label_store.StoredLabel("2 µm"))
            assert store.written == 2  # the first had waited long enough: both written
    finally:
        engine.dispose()
