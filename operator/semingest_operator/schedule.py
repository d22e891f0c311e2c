"""Cron schedules (5 fields, or @hourly/@daily/...), in UTC or ``spec.timeZone``: the next tick,
the tick that is due now, and a schedule's period. The cron arithmetic is cronsim's (a maintained
library: day-of-month/day-of-week "or" rule, L, names, and daylight-saving transitions in a zone).

Concurrency policy (like a CronJob with ``concurrencyPolicy: Forbid``): a scheduled SemIngest
starts a new incremental run on each tick, never while a run is active; a tick that passes during
a run is taken as soon as the run ends (the latest missed tick only, at most ``MAX_CATCH_UP``
back). ``suspend`` stops new runs.
"""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo

from cronsim import CronSim, CronSimError

_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
# How far back a missed tick is looked for (older ticks are not worth catching up on).
MAX_CATCH_UP = dt.timedelta(days=7)


def _expand(expr: str) -> str:
    return _MACROS.get(expr.strip().lower(), expr.strip())


@functools.lru_cache(maxsize=256)
def zone(name: str | None) -> dt.tzinfo:
    """The time zone of a schedule (UTC when None). Raises ValueError naming an unknown zone."""
    if not name:
        return dt.UTC
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r} (an IANA name such as Europe/Berlin or UTC)") from exc


@functools.lru_cache(maxsize=256)
def parse_cron(expr: str) -> str:
    """Check a cron expression; returns it with macros expanded. Raises ValueError with the reason."""
    text = _expand(expr)
    fields = text.split()
    if len(fields) != 5:
        raise ValueError(
            f"a cron schedule has 5 fields (minute hour day-of-month month day-of-week), got {len(fields)}"
        )
    try:
        CronSim(text, dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
    except CronSimError as exc:
        raise ValueError(f"{text!r}: {str(exc).lower()}") from exc
    return text


def _ticks(expr: str, after: dt.datetime, tz: str | None) -> CronSim:
    """The ticks strictly after ``after`` (aware datetimes in the schedule's zone)."""
    start = after if after.tzinfo is not None else after.replace(tzinfo=dt.UTC)
    return CronSim(parse_cron(expr), start.astimezone(zone(tz)).replace(second=0, microsecond=0))


def next_tick(expr: str, after: dt.datetime, tz: str | None = None) -> dt.datetime:
    """The first tick strictly after ``after``, in UTC."""
    try:
        return next(_ticks(expr, after, tz)).astimezone(dt.UTC)
    except StopIteration:
        raise ValueError(f"schedule {expr!r} never fires") from None


def due_tick(expr: str, last: dt.datetime, now: dt.datetime, tz: str | None = None) -> dt.datetime | None:
    """The latest tick in (last, now] (UTC), or None when no tick passed since ``last``."""
    last, now = last.astimezone(dt.UTC), now.astimezone(dt.UTC)
    last = max(last, now - MAX_CATCH_UP)
    # cronsim walks backwards from a start, strictly before it: the minute after ``now``.
    start = now.astimezone(zone(tz)).replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    try:
        latest = next(CronSim(parse_cron(expr), start, reverse=True)).astimezone(dt.UTC)
    except StopIteration:
        return None
    return latest if latest > last else None


def period(expr: str, now: dt.datetime, tz: str | None = None) -> dt.timedelta:
    """The time between the next two ticks after ``now`` (what "without success for longer than
    its period" is measured against)."""
    ticks = _ticks(expr, now, tz)
    first, second = next(ticks), next(ticks)
    return second.astimezone(dt.UTC) - first.astimezone(dt.UTC)
