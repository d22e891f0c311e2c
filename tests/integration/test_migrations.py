"""Schema migrations on SQLite and MariaDB: a 0.1.0 database with data upgrades and loses nothing,
the tables always match schema.py at head, concurrent first runs do not race, read-only commands
never migrate or create anything."""

from __future__ import annotations

import importlib.util
import json
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from semingest_worker import cli
from semingest_worker.database import ImageWriter, create_engine, migrate, schema, views

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "release_0_1_0"


def _old_schema() -> Any:
    """Release 0.1.0's schema module (frozen copy)."""
    spec = importlib.util.spec_from_file_location("semingest_schema_0_1_0", FIXTURE / "schema.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(params=["sqlite", "mariadb"])
def empty_url(request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "mariadb_url")


def _load_release_0_1_0(url: str) -> dict[str, list[dict[str, Any]]]:
    """Create 0.1.0's tables (its create_schema: create_all) and load the rows 0.1.0's writer wrote."""
    old = _old_schema()
    data = json.loads((FIXTURE / "rows.json").read_text(encoding="utf-8"))
    engine = create_engine(url)
    old.create_schema(engine)
    with engine.begin() as conn:
        for table in old.ALL_TABLES:
            rows = []
            for row in data[table.name]:
                full = {c.name: row.get(c.name) for c in table.columns}
                for c in table.columns:
                    if isinstance(c.type, sa.DateTime) and full[c.name] is not None:
                        full[c.name] = datetime.fromisoformat(full[c.name])
                rows.append(full)
            conn.execute(sa.insert(table), rows)
    engine.dispose()
    return data


def _snapshot(url: str, tables: Any) -> dict[str, list[dict[str, Any]]]:
    """Every row of ``tables`` (the 0.1.0 column set), in key order."""
    engine = create_engine(url)
    out = {}
    with engine.connect() as conn:
        for table in tables:
            db_table = sa.Table(table.name, sa.MetaData(), autoload_with=conn)
            columns = [db_table.c[c.name] for c in table.columns]
            order = [db_table.c[c.name] for c in table.primary_key]
            out[table.name] = [dict(r) for r in conn.execute(sa.select(*columns).order_by(*order)).mappings()]
    engine.dispose()
    return out


def test_release_0_1_0_database_with_data_upgrades_and_loses_nothing(empty_url: str) -> None:
    data = _load_release_0_1_0(empty_url)
    old = _old_schema()
    before = _snapshot(empty_url, old.ALL_TABLES)
    assert {name: len(rows) for name, rows in before.items()} == {
        name: len(rows) for name, rows in data.items()
    }
    assert sum(len(r) for r in before.values()) > 15  # every table holds rows

    engine = create_engine(empty_url)
    result = migrate.upgrade(engine)
    assert result.stamped_baseline and result.before is None and result.after == migrate.head_revision()

    # Every old row, every old column, byte for byte.
    assert _snapshot(empty_url, old.ALL_TABLES) == before
    with engine.connect() as conn:
        state = migrate.check(conn)
        assert state.up_to_date, state
        # The new columns exist and are NULL for rows written before provenance existed.
        assert conn.execute(sa.select(schema.images.c.semingest_version)).scalars().all() == [None] * 4
        assert set(conn.execute(sa.select(schema.instrument_meta.c.reader_version)).scalars()) == {None}
        # The views read the old data.
        v = conn.execute(
            sa.text("SELECT path, files, duplicates, pixel_size_nm FROM v_images ORDER BY path")
        ).all()
        assert len(v) == len(data["images"])
        zeiss_a = next(r for r in v if r.path == "/data/sem/copies/a-copy.tif")  # the canonical of "a"
        assert (zeiss_a.files, zeiss_a.duplicates) == (2, 1)
        assert zeiss_a.pixel_size_nm == pytest.approx(2.5)

    # A second upgrade changes nothing; the new code writes into the upgraded tables.
    assert not migrate.upgrade(engine).changed
    engine.dispose()
    from semingest_worker.records import ImageFile, ImageResult

    with ImageWriter(empty_url) as writer:
        writer.write(
            [
                ImageResult(
                    file=ImageFile("/data/new.tif", 1, 2),
                    run_id="r2",
                    status="ok",
                    image_hash="f" * 64,
                    width=1,
                )
            ]
        )
    after = _snapshot(empty_url, old.ALL_TABLES)
    assert len(after["images"]) == len(before["images"]) + 1
    assert [r for r in after["images"] if r["image_hash"] != "f" * 64] == before["images"]


def test_fresh_database_is_created_by_the_migrations_and_matches_schema_py(empty_url: str) -> None:
    engine = create_engine(empty_url)
    result = migrate.upgrade(engine)
    assert result.before is None and not result.stamped_baseline
    with engine.connect() as conn:
        inspector = sa.inspect(conn)
        assert set(inspector.get_table_names()) == {t.name for t in schema.ALL_TABLES} | {
            migrate.VERSION_TABLE
        }
        assert views.VIEW_NAMES <= set(inspector.get_view_names())
        # The autogenerate comparison: schema.py and the head revision create the same tables.
        # A column added to schema.py without a revision fails here.
        assert migrate.compare(conn) == []
        assert migrate.current_revision(conn) == migrate.head_revision()
    engine.dispose()


def test_compare_reports_a_column_the_revisions_do_not_have(empty_url: str) -> None:
    engine = create_engine(empty_url)
    migrate.upgrade(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE images ADD COLUMN stray_column INTEGER")
    with engine.connect() as conn:
        diffs = migrate.compare(conn)
        state = migrate.check(conn)
    engine.dispose()
    assert any("images.stray_column" in d for d in diffs), diffs
    assert not state.up_to_date


def test_the_revisions_form_one_line_from_the_baseline() -> None:
    order = migrate.revisions()
    assert order[0] == migrate.BASELINE
    assert order[-1] == migrate.head_revision()  # one head: a second head raises SchemaError
    assert len(order) == len(set(order))
    assert migrate.HEAD_REVISION == order[-1], "a new revision updates migrate.HEAD_REVISION"


def test_a_run_into_a_database_at_head_needs_no_alembic(empty_url: str) -> None:
    """The fast path: the version row and the views are read, nothing is migrated or locked."""
    engine = create_engine(empty_url)
    try:
        assert migrate.upgrade(engine).changed  # a new database: every revision
        statements: list[str] = []
        sa.event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
        result = migrate.upgrade(engine)
        assert not result.changed and result.after == migrate.HEAD_REVISION
        assert not any(s.lstrip().upper().startswith(("CREATE", "ALTER", "DROP")) for s in statements)
        assert not any("GET_LOCK" in s.upper() for s in statements), statements
        with engine.begin() as conn:  # a view gone: the full path puts it back
            conn.exec_driver_sql("DROP VIEW v_files")
        assert migrate.upgrade(engine).before == migrate.HEAD_REVISION
        assert "v_files" in sa.inspect(engine).get_view_names()
    finally:
        engine.dispose()


def test_two_first_runs_at_once_do_not_race(empty_url: str) -> None:
    """Issue 13, item 4: both create the schema at the same moment (MariaDB error 1050 before)."""
    barrier = threading.Barrier(3)
    errors: list[BaseException] = []
    results = []

    def first_run() -> None:
        engine = create_engine(empty_url)
        try:
            barrier.wait()
            results.append(migrate.upgrade(engine))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=first_run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert sorted(r.before is None for r in results) == [False, False, True]  # exactly one created it
    engine = create_engine(empty_url)
    with engine.connect() as conn:
        assert migrate.check(conn).up_to_date
    engine.dispose()


def test_db_check_and_upgrade_commands(empty_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    _load_release_0_1_0(empty_url)
    # Read-only commands do not migrate: they say what to do.
    assert cli.main(["export", "--db", empty_url, "--format", "csv"]) == 1
    assert "semingest db upgrade" in capsys.readouterr().err
    assert cli.main(["db", "check", "--db", empty_url]) == 1
    out = capsys.readouterr().out
    assert "no revision (made by semingest 0.1.0)" in out and "to apply: 0002" in out
    assert cli.main(["db", "upgrade", "--db", empty_url]) == 0
    assert "adopted a semingest 0.1.0 database" in capsys.readouterr().out
    assert cli.main(["db", "check", "--db", empty_url, "--json"]) == 0
    state = json.loads(capsys.readouterr().out)
    assert state["up_to_date"] and state["current"] == migrate.head_revision() and state["differences"] == []
    assert cli.main(["db", "init", "--db", empty_url]) == 0
    assert "already at revision" in capsys.readouterr().out


def test_a_database_from_a_newer_release_is_refused_with_a_clear_error(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    migrate.upgrade(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(migrate.SchemaError, match="9999.*newer release"):
        migrate.upgrade(engine)
    engine.dispose()


def test_read_only_commands_never_create_a_database_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "absent.db"
    url = f"sqlite:///{db}"
    for argv in (
        ["export", "--db", url, "--format", "jsonl"],
        ["show", "x.tif", "--db", url],
        ["db", "check", "--db", url],
        ["summary", "--db", url],
    ):
        assert cli.main(argv) == 1, argv
        assert "there is no database at" in capsys.readouterr().err
    assert not db.exists()


def test_db_upgrade_waits_for_a_server_that_is_not_up_yet_then_says_why(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], sqlite_url: str
) -> None:
    # Port 9 (discard) on localhost: connection refused, a "try again later" error.
    down = "mysql+pymysql://root@127.0.0.1:9/semingest"
    assert cli.main(["db", "upgrade", "--db", down, "--wait", "2"]) == 1
    err = capsys.readouterr().err
    assert "upgrading mysql+pymysql://root@127.0.0.1:9/semingest" in err and "2003" in err
    # The URL can come from $SEMINGEST_DATABASE_URL (what the chart's hook Job sets).
    monkeypatch.setenv("SEMINGEST_DATABASE_URL", sqlite_url)
    assert cli.main(["db", "upgrade"]) == 0
    assert f"schema ready in {sqlite_url}" in capsys.readouterr().out


def test_readonly_user_reads_tables_and_views_and_cannot_write(
    mariadb_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import uuid

    name = f"sem_ro_{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("SEMINGEST_READONLY_PASSWORD", "pw-Ro_1")
    assert cli.main(["db", "init", "--db", mariadb_url, "--readonly-user", name]) == 0
    assert f"read-only user '{name}'@'%'" in capsys.readouterr().out
    reader_url = sa.make_url(mariadb_url).set(username=name, password="pw-Ro_1")
    reader = create_engine(reader_url.render_as_string(hide_password=False))
    admin = create_engine(mariadb_url)
    try:
        with reader.connect() as conn:
            assert conn.execute(sa.text("SELECT COUNT(*) FROM v_images")).scalar() == 0
            assert conn.execute(sa.text("SELECT COUNT(*) FROM image_files")).scalar() == 0
            with pytest.raises(sa.exc.OperationalError, match="1142"):  # INSERT command denied
                conn.execute(sa.text("INSERT INTO ingest_runs (id) VALUES ('x')"))
        # Idempotent: a second init keeps the user (and sets the password again).
        assert cli.main(["db", "init", "--db", mariadb_url, "--readonly-user", name]) == 0
    finally:
        reader.dispose()
        with admin.begin() as conn:
            conn.execute(sa.text("DROP USER IF EXISTS :user@'%'"), {"user": name})
        admin.dispose()


def test_readonly_user_errors(
    sqlite_url: str, mariadb_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("SEMINGEST_READONLY_PASSWORD", raising=False)
    assert cli.main(["db", "init", "--db", mariadb_url, "--readonly-user", "reader"]) == 1
    assert "set the read-only user's password in $SEMINGEST_READONLY_PASSWORD" in capsys.readouterr().err
    monkeypatch.setenv("SEMINGEST_READONLY_PASSWORD", "pw")
    assert cli.main(["db", "init", "--db", mariadb_url, "--readonly-user", "bad'name"]) == 1
    assert "invalid user name" in capsys.readouterr().err
    assert cli.main(["db", "init", "--db", sqlite_url, "--readonly-user", "reader"]) == 1
    assert "SQLite has no database users" in capsys.readouterr().err


def test_db_upgrade_recreates_the_views_from_this_release(empty_url: str) -> None:
    engine = create_engine(empty_url)
    migrate.upgrade(engine)
    with engine.begin() as conn:  # a view as an older release defined it
        conn.exec_driver_sql("DROP VIEW v_images")
        conn.exec_driver_sql("CREATE VIEW v_images AS SELECT image_hash FROM images")
    assert not migrate.upgrade(engine).changed  # a run does not touch views that exist
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT * FROM v_images")).keys() == ["image_hash"]
    assert cli.main(["db", "upgrade", "--db", empty_url]) == 0
    with engine.connect() as conn:
        assert "pixel_size_nm" in conn.execute(sa.text("SELECT * FROM v_images")).keys()
    engine.dispose()
