"""Issue 13 item 12: a database password never shows: not in output, not in ``ingest_runs``,
not on the command line (``--db-env``), and an unencoded ``@`` fails at once with a hint
instead of being retried as an outage. Against the real MariaDB, with a real password."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from semingest_worker import synth

SECRET = "S3cr3t@pw;x"
SEMINGEST = [sys.executable, "-m", "semingest_worker.cli"]


@pytest.fixture
def user_with_password(mariadb_server: str):
    """A MariaDB user with a password (containing '@') and its own database; dropped afterwards."""
    name = f"semingest_pw_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(f"{mariadb_server}/test")
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"))
        conn.execute(sa.text(f"CREATE USER '{name}'@'%' IDENTIFIED BY :pw"), {"pw": SECRET})
        conn.execute(sa.text(f"CREATE USER '{name}'@'localhost' IDENTIFIED BY :pw"), {"pw": SECRET})
        conn.execute(sa.text(f"GRANT ALL ON `{name}`.* TO '{name}'@'%', '{name}'@'localhost'"))
    host = sa.make_url(mariadb_server)
    try:
        yield name, f"{host.host}:{host.port or 3306}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP USER IF EXISTS '{name}'@'%', '{name}'@'localhost'"))
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "PYSPARK_PYTHON": sys.executable, **env}
    return subprocess.run([*SEMINGEST, *args], capture_output=True, text=True, timeout=240, env=full_env)


@pytest.mark.mariadb
@pytest.mark.spark
def test_password_in_query_and_env_never_shown_or_stored(
    tmp_path: Path, user_with_password, mariadb_server
) -> None:
    name, hostport = user_with_password
    url = f"mysql+pymysql://{name}@{hostport}/{name}?password={quote(SECRET, safe='')}&charset=utf8mb4"
    synth.generate_corpus(tmp_path / "src", 2, seed=3, duplicate_fraction=0)
    run = _run(
        ["run", str(tmp_path / "src"), "--db-env", "SEM_DB", "--master", "local[1]", "--json"], SEM_DB=url
    )
    summary = _run(["summary", "--db-env", "SEM_DB"], SEM_DB=url)
    for proc in (run, summary):
        assert proc.returncode == 0, proc.stderr[-2000:]
        for text in (proc.stdout, proc.stderr):
            assert SECRET not in text and quote(SECRET, safe="") not in text
    assert "password=***" in run.stdout
    admin = sa.create_engine(f"{mariadb_server}/{name}")
    with admin.connect() as conn:
        stored = [" ".join(str(v) for v in row) for row in conn.execute(sa.text("SELECT * FROM ingest_runs"))]
    admin.dispose()
    assert stored and not any(SECRET in row or quote(SECRET, safe="") in row for row in stored)


@pytest.mark.mariadb
def test_unencoded_at_fails_at_once_with_a_hint(user_with_password) -> None:
    name, hostport = user_with_password
    url = f"mysql+pymysql://{name}:{SECRET}@{hostport}/{name}"  # the '@' in the password is not encoded
    proc = subprocess.run(
        [*SEMINGEST, "db", "init", "--db-env", "SEM_DB"],
        capture_output=True,
        text=True,
        timeout=60,  # an outage would be retried for 300 s: a timeout here is the old behaviour
        env={**os.environ, "SEM_DB": url},
    )
    assert proc.returncode != 0
    assert "unencoded '@': write it as %40" in proc.stderr
    assert "S3cr3t" not in proc.stderr and "pw;x" not in proc.stderr


@pytest.fixture
def read_only_folder(tmp_path: Path):
    """A folder that cannot be written: a read-only bind mount as root (a read-only share), else
    a folder without write permission."""
    folder = tmp_path / "ro"
    folder.mkdir()
    if os.geteuid() == 0:
        subprocess.run(["mount", "--bind", str(folder), str(folder)], check=True)
        subprocess.run(["mount", "-o", "remount,bind,ro", str(folder)], check=True)
        try:
            yield folder
        finally:
            subprocess.run(["umount", str(folder)], check=True)
    else:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)


def test_read_only_database_folder_is_said_plainly(tmp_path: Path, read_only_folder: Path) -> None:
    """Issue 13 item 15: not SQLite's "unable to open database file"."""
    url = f"sqlite:///{read_only_folder / 'sem.db'}"
    init = subprocess.run(
        [*SEMINGEST, "db", "init", "--db", url], capture_output=True, text=True, timeout=120
    )
    assert init.returncode != 0
    assert f"its folder {read_only_folder} is read-only" in init.stderr, init.stderr
    assert "unable to open database file" not in init.stderr
    run = subprocess.run(
        [*SEMINGEST, "run", str(tmp_path), "--db", url, "--no-progress"], capture_output=True, text=True, timeout=240,
        env={**os.environ, "PYSPARK_PYTHON": sys.executable},
    )  # fmt: skip
    assert run.returncode == 1
    assert f"its folder {read_only_folder} is read-only" in run.stderr, run.stderr
