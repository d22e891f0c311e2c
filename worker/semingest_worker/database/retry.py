"""Retry a database transaction with exponential back-off until a deadline.

Only errors that say "try again later" are retried: the server is unreachable or went away, the
connection was lost, a lock wait timed out or a deadlock was detected (MySQL/MariaDB), the
database file is locked (SQLite). Everything else is raised at once. The caller's function must
be a whole transaction (it begins, writes and commits, or raises with nothing committed), so a
retried attempt never commits anything twice.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable
from typing import TypeVar

import sqlalchemy as sa

T = TypeVar("T")
log = logging.getLogger(__name__)

# MySQL/MariaDB error numbers that mean "the server or the connection is (temporarily) gone"
# or "the transaction lost a lock race": worth retrying the whole transaction.
_RETRYABLE_MYSQL_ERRNOS = frozenset(
    {
        1040,  # too many connections
        1053,  # server shutdown in progress
        1205,  # lock wait timeout exceeded
        1213,  # deadlock found when trying to get lock
        1290,  # running with --read-only (fail-over in progress)
        1317,  # query execution was interrupted (server shutting down)
        1836,  # running in read-only mode
        1927,  # connection was killed
        2002,  # can't connect through socket
        2003,  # can't connect to server
        2006,  # server has gone away
        2013,  # lost connection during query
        2014,  # commands out of sync (a connection broken mid-protocol)
        2055,  # lost connection at handshake / system error
        4031,  # client disconnected by server (inactivity)
    }
)
# Errors that mean "this row's data is not acceptable": the writer isolates the offending image
# instead of failing the batch.
# Values the server refuses, including a row larger than max_allowed_packet (1153, 1301): a
# problem of that record, never an outage.
_DATA_MYSQL_ERRNOS = frozenset({1048, 1153, 1264, 1265, 1292, 1301, 1366, 1406, 3140, 4025, 4078})
_SQLITE_RETRYABLE = ("database is locked", "database table is locked", "database schema has changed")


class DatabaseUnavailableError(RuntimeError):
    """The database stayed unreachable (or locked) past the retry deadline."""


def _mysql_errno(exc: BaseException) -> int | None:
    orig = getattr(exc, "orig", exc)
    args = getattr(orig, "args", ())
    if args and isinstance(args[0], int):
        return args[0]
    return None


def is_retryable(exc: BaseException) -> bool:
    """True when ``exc`` is a transient connection/lock problem worth a retry."""
    if isinstance(exc, sa.exc.DBAPIError):
        if exc.connection_invalidated:
            return True
        errno = _mysql_errno(exc)
        if errno is not None:
            return errno in _RETRYABLE_MYSQL_ERRNOS
        text = str(exc.orig).lower()
        if any(marker in text for marker in _SQLITE_RETRYABLE):
            return True
        # PyMySQL's InterfaceError(0, '') on a connection the server closed.
        return isinstance(exc, sa.exc.InterfaceError)
    if isinstance(exc, ConnectionError | TimeoutError | BrokenPipeError):
        return True
    return False


def is_data_error(exc: BaseException) -> bool:
    """True when the database rejected a value (too long, out of range, bad encoding...)."""
    if isinstance(exc, UnicodeError | OverflowError | ValueError):
        return True
    if isinstance(exc, sa.exc.DataError | sa.exc.IntegrityError):
        return True
    if isinstance(exc, sa.exc.DBAPIError):
        errno = _mysql_errno(exc)
        return errno in _DATA_MYSQL_ERRNOS
    return False


def describe(exc: BaseException) -> str:
    """A one-line description of a database error (the driver's message, not SQLAlchemy's SQL dump)."""
    orig = getattr(exc, "orig", None)
    if orig is not None:
        return f"{type(orig).__name__}: {orig}"[:500]
    return f"{type(exc).__name__}: {exc}"[:500]


def call_with_retry(
    attempt: Callable[[], T],
    *,
    deadline_seconds: float,
    what: str = "database write",
    on_retry: Callable[[BaseException, float], None] | None = None,
    initial_delay: float = 0.25,
    max_delay: float = 8.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call ``attempt`` until it succeeds, retrying transient errors with back-off.

    The deadline runs from the first failure: after ``deadline_seconds`` of failures the last
    error is raised as ``DatabaseUnavailableError`` with a message naming the deadline.
    Every retry is logged (warning) with its reason and the time left; ``on_retry(error, delay)``
    is called before each sleep (the writer drops its broken connection there).
    """
    if not math.isfinite(deadline_seconds) or deadline_seconds < 0:
        raise ValueError(
            f"the retry deadline must be a finite number of seconds >= 0, not {deadline_seconds!r}"
        )
    first_failure: float | None = None
    delay = initial_delay
    attempts = 0
    while True:
        attempts += 1
        try:
            return attempt()
        except Exception as exc:
            if not is_retryable(exc):
                raise
            now = clock()
            if first_failure is None:
                first_failure = now
            waited = now - first_failure
            if waited >= deadline_seconds:
                raise DatabaseUnavailableError(
                    f"{what} failed: database unreachable for {waited:.0f} s "
                    f"({attempts} attempts, retry deadline {deadline_seconds:g} s): {describe(exc)}"
                ) from exc
            jittered = delay * (0.75 + 0.5 * random.random())  # writers do not reconnect in lock-step
            pause = min(jittered, max_delay, max(0.0, deadline_seconds - waited))
            log.warning(
                "%s: %s; retrying in %.1f s (%.0f s of the %g s retry deadline left)",
                what,
                describe(exc),
                pause,
                deadline_seconds - waited,
                deadline_seconds,
            )
            if on_retry is not None:
                on_retry(exc, pause)
            sleep(pause)
            delay = min(delay * 2, max_delay)
