"""Where a command gets its database URL: ``--db``, an environment variable, or a file.

A password on the command line is visible to every user of the machine (``ps``) and lands in
shell histories. ``--db-env NAME`` reads the URL from an environment variable and ``--db-file
PATH`` from a file (a mounted Secret, say); without any of them ``$SEMINGEST_DATABASE_URL`` is
used when set, else the embedded default (SQLite in the current folder).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from semingest_api.spec import DATABASE_URL_ENV

DEFAULT_DB = "sqlite:///semingest.db"


class DatabaseOptionError(ValueError):
    """The database options name no usable URL (an unset variable, an unreadable file)."""


def add_database_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--db", metavar="URL", help=f"database URL (default: ${DATABASE_URL_ENV}, else {DEFAULT_DB})"
    )
    group.add_argument(
        "--db-env", metavar="NAME", help="read the database URL from this environment variable"
    )
    group.add_argument("--db-file", metavar="PATH", help="read the database URL from this file (first line)")


def database_url(args: argparse.Namespace, environ: os._Environ[str] | dict[str, str] | None = None) -> str:
    """The URL the options name (see the module docstring)."""
    env = os.environ if environ is None else environ
    if getattr(args, "db", None):
        return str(args.db)
    if getattr(args, "db_env", None):
        value = env.get(args.db_env, "").strip()
        if not value:
            raise DatabaseOptionError(
                f"--db-env {args.db_env}: that environment variable is not set or empty"
            )
        return value
    if getattr(args, "db_file", None):
        try:
            lines = Path(args.db_file).read_text(encoding="utf-8").strip().splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise DatabaseOptionError(f"--db-file {args.db_file}: cannot read it: {exc}") from None
        if not lines or not lines[0].strip():
            raise DatabaseOptionError(f"--db-file {args.db_file}: the file is empty")
        return lines[0].strip()
    return env.get(DATABASE_URL_ENV, "").strip() or DEFAULT_DB
