"""Cron schedules (5 fields, UTC): the next tick, and the tick that is due now.

A scheduled SemIngest starts a new incremental run on each tick, never while a run is active:
a tick that passes during a run is taken as soon as the run ends (the latest missed tick only,
like a CronJob with concurrencyPolicy Forbid). ``suspend`` stops new runs.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

_MONTHS = {m: i for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split(), start=1)}
_DAYS = {d: i for i, d in enumerate("sun mon tue wed thu fri sat".split())}
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


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    days_restricted: bool
    weekdays_restricted: bool

    def day_matches(self, day: dt.datetime) -> bool:
        dom = day.day in self.days
        dow = (day.isoweekday() % 7) in self.weekdays
        if self.days_restricted and self.weekdays_restricted:
            return dom or dow  # cron: either restriction matches
        return dom and dow


def _value(text: str, names: dict[str, int], lo: int, hi: int, what: str) -> int:
    key = text.lower()
    if key in names:
        return names[key]
    if not text.isdigit():
        raise ValueError(f"{what}: {text!r} is not a number")
    value = int(text)
    if what == "day of week" and value == 7:
        value = 0
    if not lo <= value <= hi:
        raise ValueError(f"{what}: {value} is out of range {lo}-{hi}")
    return value


def _field(text: str, lo: int, hi: int, what: str, names: dict[str, int] | None = None) -> frozenset[int]:
    names = names or {}
    top = 7 if what == "day of week" else hi
    out: set[int] = set()
    for part in text.split(","):
        if not part:
            raise ValueError(f"{what}: empty list item in {text!r}")
        rng, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                raise ValueError(f"{what}: bad step {step_text!r}")
            step = int(step_text)
        if rng == "*":
            start, end = lo, hi
        elif "-" in rng:
            a, b = rng.split("-", 1)
            start, end = _value(a, names, lo, top, what), _value(b, names, lo, top, what)
            if b == "7" and what == "day of week":
                end = 7
            if end < start:
                raise ValueError(f"{what}: range {rng!r} runs backwards")
        else:
            start = _value(rng, names, lo, top, what)
            end = hi if step_text else start
        out.update(v % 7 if what == "day of week" else v for v in range(start, end + 1, step))
    return frozenset(out)


@functools.lru_cache(maxsize=256)
def parse_cron(expr: str) -> Cron:
    """Parse a 5-field cron expression (or @hourly, @daily, ...). Raises ValueError with the reason."""
    text = _MACROS.get(expr.strip().lower(), expr.strip())
    fields = text.split()
    if len(fields) != 5:
        raise ValueError(
            f"a cron schedule has 5 fields (minute hour day-of-month month day-of-week), got {len(fields)}"
        )
    minute, hour, dom, month, dow = fields
    return Cron(
        minutes=_field(minute, 0, 59, "minute"),
        hours=_field(hour, 0, 23, "hour"),
        days=_field(dom, 1, 31, "day of month"),
        months=_field(month, 1, 12, "month", _MONTHS),
        weekdays=_field(dow, 0, 6, "day of week", _DAYS),
        days_restricted=not dom.startswith("*"),
        weekdays_restricted=not dow.startswith("*"),
    )


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def next_tick(expr: str, after: dt.datetime) -> dt.datetime:
    """The first tick strictly after ``after`` (UTC)."""
    cron = parse_cron(expr)
    t = _utc(after).replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    limit = t + dt.timedelta(days=366 * 5)
    while t < limit:
        if t.month not in cron.months:
            t = (t.replace(day=1, hour=0, minute=0) + dt.timedelta(days=32)).replace(day=1)
        elif not cron.day_matches(t):
            t = t.replace(hour=0, minute=0) + dt.timedelta(days=1)
        elif t.hour not in cron.hours:
            t = t.replace(minute=0) + dt.timedelta(hours=1)
        elif t.minute not in cron.minutes:
            t += dt.timedelta(minutes=1)
        else:
            return t
    raise ValueError(f"schedule {expr!r} never fires")


def due_tick(expr: str, last: dt.datetime, now: dt.datetime) -> dt.datetime | None:
    """The latest tick in (last, now], or None when no tick passed since ``last``."""
    last, now = _utc(last), _utc(now)
    last = max(last, now - MAX_CATCH_UP)
    due = None
    t = next_tick(expr, last)
    while t <= now:
        due = t
        t = next_tick(expr, t)
    return due
