"""Issue 13 items 3 and 12: numeric options are validated; database URLs come from options,
environment variables or files, and every credential form is redacted."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from semingest_worker.cli import main
from semingest_worker.database.engine import DatabaseURLError, parse_url, redact
from semingest_worker.dbopts import DatabaseOptionError, add_database_options, database_url


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "-inf", "soon"])
def test_retry_deadline_must_be_finite_and_not_negative(value: str, tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["run", str(tmp_path), f"--retry-deadline={value}"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "--retry-deadline" in err and "seconds" in err and repr(value) in err


def _args(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    add_database_options(p)
    return p.parse_args(list(argv))


def test_database_url_sources(tmp_path: Path) -> None:
    secret = tmp_path / "url"
    secret.write_text("mysql+pymysql://u:pw@h/db\n")
    env = {"MY_DB": "sqlite:////tmp/x.db", "SEMINGEST_DATABASE_URL": "sqlite:////tmp/env.db"}
    assert database_url(_args("--db", "sqlite:///a.db"), env) == "sqlite:///a.db"
    assert database_url(_args("--db-env", "MY_DB"), env) == "sqlite:////tmp/x.db"
    assert database_url(_args("--db-file", str(secret)), env) == "mysql+pymysql://u:pw@h/db"
    assert database_url(_args(), env) == "sqlite:////tmp/env.db"
    assert database_url(_args(), {}) == "sqlite:///semingest.db"
    with pytest.raises(DatabaseOptionError, match="--db-env NOPE: that environment variable is not set"):
        database_url(_args("--db-env", "NOPE"), env)
    with pytest.raises(DatabaseOptionError, match="--db-file .*: cannot read it"):
        database_url(_args("--db-file", str(tmp_path / "missing")), env)
    with pytest.raises(SystemExit):
        _args("--db", "x", "--db-env", "Y")  # one source at a time


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("mysql+pymysql://u:s3cret@h/db", "mysql+pymysql://u:***@h/db"),
        ("mysql+pymysql://u:p@ss@h/db", "mysql+pymysql://u:***@h/db"),  # unencoded @ leaks nothing
        (
            "mysql+pymysql://u@h/db?password=s3cret&charset=utf8mb4",
            "mysql+pymysql://u@h/db?password=***&charset=utf8mb4",
        ),
        (
            "mysql+pymysql://u:pw@h/db?ssl_key=/k.pem&passwd=x",
            "mysql+pymysql://u:***@h/db?ssl_key=***&passwd=***",
        ),
        ("mysql+pymysql://u:p%40ss@h:3306/db", "mysql+pymysql://u:***@h:3306/db"),
        ("sqlite:///sem.db", "sqlite:///sem.db"),
        ("mysql+pymysql://h/db", "mysql+pymysql://h/db"),
        ("not a url but: pw@x", "<unparseable URL>"),
    ],
)
def test_redact_hides_every_credential_form(url: str, shown: str) -> None:
    assert redact(url) == shown


def test_unencoded_at_is_a_clear_error_not_an_outage() -> None:
    with pytest.raises(DatabaseURLError, match=r"contains an unencoded '@': write it as %40") as info:
        parse_url("mysql+pymysql://u:p@ss@h/db")
    assert "ss" not in str(info.value).replace("pass", "")


def test_a_plain_path_as_database_gets_a_hint(tmp_path: Path) -> None:
    with pytest.raises(DatabaseURLError, match=r"did you mean sqlite:///.*sem\.db \(a SQLite file\)"):
        parse_url("sem.db")


def test_version(capsys) -> None:
    from importlib.metadata import version

    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"semingest {version('semingest')}"
