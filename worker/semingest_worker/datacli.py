"""The data commands of ``semingest``: ``db init|upgrade|check``, ``export`` and ``show``.

    semingest db init    --db URL [--readonly-user NAME]   (create or upgrade the schema)
    semingest db upgrade --db URL                          (apply the missing migrations)
    semingest db check   --db URL [--json]                 (exit 0: at the newest schema; 1: not)
    semingest export --db URL --format FMT [filters] [--files] [-o FILE]
    semingest show PATH|HASH --db URL [--json]

The database comes from ``--db URL``, ``--db-env NAME``, ``--db-file PATH`` or
``$SEMINGEST_DATABASE_URL`` (``dbopts``; ``cli.main`` resolves it into ``args.db``). Read-only
commands (``db check``, ``export``, ``show``) never create or change a database.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import date
from typing import Any

_WAIT_HELP = "keep retrying an unreachable database this long (e.g. a server still starting)"


def add_parsers(sub: Any) -> None:
    """Add ``db``, ``export`` and ``show`` to the ``semingest`` subcommands."""
    from .database.imagequery import Status
    from .dbopts import add_database_options
    from .export import Format

    dbp = sub.add_parser("db", help="database administration: init, upgrade, check")
    dbsub = dbp.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    init = dbsub.add_parser("init", help="create the tables, or upgrade them (idempotent)")
    add_database_options(init)
    init.add_argument("--wait", type=float, default=0.0, metavar="SECONDS", help=_WAIT_HELP)
    init.add_argument(
        "--readonly-user",
        metavar="NAME",
        help="MariaDB/MySQL: also create user NAME with SELECT only (password in $SEMINGEST_READONLY_PASSWORD)",
    )
    upgrade = dbsub.add_parser("upgrade", help="apply the schema migrations this release has (idempotent)")
    add_database_options(upgrade)
    upgrade.add_argument("--wait", type=float, default=0.0, metavar="SECONDS", help=_WAIT_HELP)
    check = dbsub.add_parser("check", help="is the schema at this release's newest revision? (read-only)")
    add_database_options(check)
    check.add_argument("--json", action="store_true")

    exp = sub.add_parser(
        "export", help="write one row per image (or file): csv, jsonl, parquet, NeXus, Fiji, OMERO"
    )
    add_database_options(exp)
    exp.add_argument("--format", required=True, help=f"one of: {', '.join(f.value for f in Format)}")
    exp.add_argument("-o", "--output", help="file to write (default: stdout; parquet needs a file)")
    exp.add_argument("--files", action="store_true", help="one row per file (duplicates included)")
    exp.add_argument("--vendor", help="only this vendor (zeiss, fei, tescan, jeol, hitachi)")
    exp.add_argument("--instrument", help="only this instrument model")
    exp.add_argument("--detector", help="only this detector")
    exp.add_argument("--since", metavar="YYYY-MM-DD", help="acquired on or after this date (UTC)")
    exp.add_argument("--until", metavar="YYYY-MM-DD", help="acquired on or before this date (UTC)")
    exp.add_argument("--run", help="only rows written by this run id")
    exp.add_argument("--status", help=f"only this status ({', '.join(Status)})")
    exp.add_argument("--category", help="only this category (top label of the newest model)")

    show = sub.add_parser("show", help="everything known about one image (by path or pixel hash)")
    show.add_argument("target", metavar="PATH|HASH")
    add_database_options(show)
    show.add_argument("--json", action="store_true")


def dispatch(args: argparse.Namespace) -> int:
    if args.command == "db":
        return {"init": _db_init, "upgrade": _db_upgrade, "check": _db_check}[args.db_command](args)
    if args.command == "export":
        return _export(args)
    if args.command == "show":
        return _show(args)
    raise AssertionError(args.command)


def _error(message: str, code: int = 1) -> int:
    print(f"semingest: {message}", file=sys.stderr)
    return code


# -- db -----------------------------------------------------------------------------------------------
def _upgrade(url: str, wait: float = 0.0) -> tuple[int, Any]:
    from .database import DatabaseURLError, call_with_retry, create_engine, migrate, redact
    from .database.retry import describe

    try:
        engine = create_engine(url)
    except DatabaseURLError as exc:
        return _error(str(exc)), None
    try:
        if wait > 0:
            result = call_with_retry(
                lambda: migrate.upgrade(engine, refresh_views=True),
                deadline_seconds=wait,
                what=f"upgrading {redact(url)}",
            )
        else:
            result = migrate.upgrade(engine, refresh_views=True)
    except migrate.SchemaError as exc:
        return _error(f"{redact(url)}: {exc}"), None
    except Exception as exc:  # noqa: BLE001 - connection/permission problems, said plainly
        return _error(f"cannot upgrade the schema of {redact(url)}: {describe(exc)}"), None
    finally:
        engine.dispose()
    return 0, result


def _describe_upgrade(url: str, result: Any) -> str:
    from .database import redact

    if result.stamped_baseline:
        how = f"adopted a semingest 0.1.0 database at revision 0001, upgraded to {result.after}"
    elif result.before is None:
        how = f"created the schema at revision {result.after}"
    elif result.before != result.after:
        how = f"upgraded from revision {result.before} to {result.after}"
    else:
        how = f"already at revision {result.after}"
    return f"schema ready in {redact(url)}: {how}"


def _db_init(args: argparse.Namespace) -> int:
    code, result = _upgrade(args.db, args.wait)
    if code:
        return code
    print(_describe_upgrade(args.db, result))
    if args.readonly_user:
        return _readonly_user(args.db, args.readonly_user)
    return 0


def _readonly_user(url: str, name: str) -> int:
    from .database import create_engine, redact
    from .database.retry import describe
    from .database.roles import PASSWORD_ENV, RoleError, create_readonly_user

    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            account = create_readonly_user(conn, name, os.environ.get(PASSWORD_ENV))
    except RoleError as exc:
        return _error(str(exc))
    except Exception as exc:  # noqa: BLE001
        return _error(f"cannot create the read-only user in {redact(url)}: {describe(exc)}")
    finally:
        engine.dispose()
    print(f"read-only user {account}: SELECT on the semingest database only")
    return 0


def _db_upgrade(args: argparse.Namespace) -> int:
    code, result = _upgrade(args.db, args.wait)
    if code:
        return code
    print(_describe_upgrade(args.db, result))
    return 0


def _db_check(args: argparse.Namespace) -> int:
    from .database import DatabaseURLError, migrate, redact
    from .database.readonly import DatabaseNotReadyError, read_connection
    from .database.retry import describe

    try:
        with read_connection(args.db, check_revision=False) as conn:
            state = migrate.check(conn)
    except (DatabaseNotReadyError, DatabaseURLError, migrate.SchemaError) as exc:
        return _error(str(exc))
    except Exception as exc:  # noqa: BLE001
        return _error(f"cannot read {redact(args.db)}: {describe(exc)}")
    if args.json:
        print(
            json.dumps(
                {
                    "current": state.current,
                    "head": state.head,
                    "pending": list(state.pending),
                    "differences": list(state.differences),
                    "up_to_date": state.up_to_date,
                }
            )
        )
    elif state.up_to_date:
        print(f"{redact(args.db)}: schema at revision {state.head} (the newest), tables match")
    else:
        where = f"revision {state.current}" if state.current else "no revision (made by semingest 0.1.0)"
        print(f"{redact(args.db)}: {where}; this release's newest is {state.head}")
        if state.pending:
            print(
                f"  to apply: {', '.join(state.pending)} (run `semingest db upgrade --db {redact(args.db)}`)"
            )
        for diff in state.differences:
            print(f"  differs from the code: {diff}")
    return 0 if state.up_to_date else 1


# -- export / show ---------------------------------------------------------------------------------------
def _parse_date(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{option} wants a date YYYY-MM-DD, not {text!r}") from None


def _export(args: argparse.Namespace) -> int:
    from .database import DatabaseURLError, imagequery, redact
    from .database.readonly import DatabaseNotReadyError, read_connection
    from .database.retry import describe
    from .export import ExportError, export_rows, parse_format

    try:
        fmt = parse_format(args.format)
        flt = imagequery.ImageFilter(
            vendor=args.vendor.lower() if args.vendor else None,
            instrument=args.instrument,
            detector=args.detector,
            acquired_from=_parse_date(args.since, "--since"),
            acquired_to=_parse_date(args.until, "--until"),
            run_id=args.run,
            status=args.status,
            category=args.category,
        )
    except (ExportError, ValueError) as exc:
        return _error(str(exc), 2)
    try:
        with read_connection(args.db) as conn:
            table = "image_files" if args.files else "images"
            total = conn.exec_driver_sql(f"SELECT COUNT(*) FROM {table}").scalar()  # noqa: S608 - fixed name
            if not total:
                return _error(
                    f"{redact(args.db)} holds no {'files' if args.files else 'images'}: nothing to export"
                )
            imagequery.validate_filter(conn, flt)
            result = export_rows(conn, fmt, flt, args.output, per_file=args.files)
    except (DatabaseNotReadyError, DatabaseURLError) as exc:
        return _error(str(exc))
    except (imagequery.FilterError, ExportError) as exc:
        return _error(str(exc), 2)
    except BrokenPipeError:  # `semingest export ... | head`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as exc:
        return _error(f"cannot write {args.output}: {exc}")
    except Exception as exc:  # noqa: BLE001
        return _error(f"cannot export from {redact(args.db)}: {describe(exc)}")
    what = "files" if args.files else "images"
    where = "stdout" if result.target == "-" else result.target
    if result.rows == 0:
        print(
            f"semingest: no {what} match the filters; wrote an empty {fmt.value} to {where}", file=sys.stderr
        )
    else:
        print(f"semingest: exported {result.rows} {what} as {fmt.value} to {where}", file=sys.stderr)
    return 0


def _show(args: argparse.Namespace) -> int:
    from .database import DatabaseURLError, redact
    from .database.readonly import DatabaseNotReadyError, read_connection
    from .database.retry import describe
    from .export.show import NotIngestedError, find, format_record

    try:
        with read_connection(args.db) as conn:
            record = find(conn, args.target)
    except NotIngestedError as exc:
        return _error(f"{exc} in {redact(args.db)}")
    except (DatabaseNotReadyError, DatabaseURLError) as exc:
        return _error(str(exc))
    except Exception as exc:  # noqa: BLE001
        return _error(f"cannot read {redact(args.db)}: {describe(exc)}")
    if args.json:
        print(json.dumps(record.as_json(), ensure_ascii=False))
    else:
        print(format_record(record))
    return 0
