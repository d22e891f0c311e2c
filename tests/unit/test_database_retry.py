"""Back-off until a deadline: which errors are retried, how long, and the error after the deadline."""

from __future__ import annotations

import pymysql
import pytest
import sqlalchemy as sa

from semingest_worker.database.retry import (
    DatabaseUnavailableError,
    call_with_retry,
    is_data_error,
    is_retryable,
)


def _mysql_error(cls: type, errno: int, message: str) -> sa.exc.DBAPIError:
    return sa.exc.DBAPIError.instance("INSERT ...", {}, cls(errno, message), pymysql.Error)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_connection_and_lock_errors_are_retried_data_errors_are_not() -> None:
    assert is_retryable(
        _mysql_error(pymysql.err.OperationalError, 2013, "Lost connection to server during query")
    )
    assert is_retryable(_mysql_error(pymysql.err.OperationalError, 2003, "Can't connect to MySQL server"))
    assert is_retryable(_mysql_error(pymysql.err.OperationalError, 1213, "Deadlock found"))
    assert not is_retryable(_mysql_error(pymysql.err.DataError, 1406, "Data too long for column 'path'"))
    assert not is_retryable(
        _mysql_error(pymysql.err.ProgrammingError, 1146, "Table 'x.images' doesn't exist")
    )
    assert is_data_error(_mysql_error(pymysql.err.DataError, 1406, "Data too long"))
    assert is_data_error(_mysql_error(pymysql.err.OperationalError, 1366, "Incorrect string value"))
    assert not is_data_error(_mysql_error(pymysql.err.ProgrammingError, 1146, "Table doesn't exist"))
    import sqlite3

    locked = sa.exc.OperationalError("INSERT", {}, sqlite3.OperationalError("database is locked"))
    assert is_retryable(locked)


def test_transient_failures_are_retried_with_growing_back_off_until_success() -> None:
    clock = FakeClock()
    failures = [_mysql_error(pymysql.err.OperationalError, 2006, "MySQL server has gone away")] * 4
    retried: list[float] = []

    def attempt() -> str:
        if failures:
            raise failures.pop()
        return "committed"

    out = call_with_retry(
        attempt, deadline_seconds=60, clock=clock, sleep=clock.sleep, on_retry=lambda e, d: retried.append(d)
    )
    assert out == "committed"
    assert len(clock.sleeps) == 4 == len(retried)
    # exponential (with +-25 % jitter): each pause is larger than the previous one's lower bound
    assert clock.sleeps[-1] > clock.sleeps[0] * 3


def test_after_the_deadline_the_last_error_is_raised_clearly() -> None:
    clock = FakeClock()

    def attempt() -> None:
        raise _mysql_error(pymysql.err.OperationalError, 2003, "Can't connect to MySQL server on '127.0.0.1'")

    with pytest.raises(DatabaseUnavailableError) as info:
        call_with_retry(attempt, deadline_seconds=20, clock=clock, sleep=clock.sleep, what="writing a batch")
    assert 20 <= clock.now <= 21
    message = str(info.value)
    assert message.startswith("writing a batch failed: database unreachable for 20 s")
    assert "retry deadline 20 s" in message and "Can't connect" in message


def test_non_transient_errors_are_raised_at_once() -> None:
    clock = FakeClock()
    calls = []

    def attempt() -> None:
        calls.append(1)
        raise _mysql_error(pymysql.err.ProgrammingError, 1146, "Table 'x.images' doesn't exist")

    with pytest.raises(sa.exc.DBAPIError):
        call_with_retry(attempt, deadline_seconds=20, clock=clock, sleep=clock.sleep)
    assert calls == [1] and clock.sleeps == []


def test_every_retry_is_logged_with_its_reason_and_the_time_left(caplog) -> None:
    clock = FakeClock()
    failures = [
        _mysql_error(pymysql.err.OperationalError, 1213, "Deadlock found when trying to get lock"),
        _mysql_error(pymysql.err.OperationalError, 2003, "Can't connect to MySQL server on 'db'"),
    ]

    def attempt() -> str:
        if failures:
            clock.now += 5  # each failed attempt takes a while
            raise failures.pop()
        return "committed"

    with caplog.at_level("WARNING", logger="semingest_worker.database.retry"):
        assert call_with_retry(
            attempt, deadline_seconds=60, clock=clock, sleep=clock.sleep, what="writing a batch"
        )
    first, second = [r.getMessage() for r in caplog.records]
    assert first.startswith(
        "writing a batch: OperationalError: (2003, \"Can't connect to MySQL server on 'db'\")"
    )
    assert "retrying in 0." in first and "(60 s of the 60 s retry deadline left)" in first
    assert "Deadlock found" in second and "s of the 60 s retry deadline left)" in second
    left = float(second.rsplit("(", 1)[1].split(" s of")[0])
    assert left == pytest.approx(60 - clock.sleeps[0] - 5, abs=1)
