"""A one-line progress display for long runs (on stderr).

On a terminal the line is redrawn in place at most twice a second. Elsewhere (a log file, a CI
job, a Kubernetes pod) a plain line is written every ``log_interval`` seconds, and nothing at all
for runs shorter than that: short runs only print their final summary.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


def format_duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


class ProgressDisplay:
    """Call ``update(done, failed)`` as often as you like; it decides when to draw."""

    def __init__(
        self,
        total: int,
        *,
        stream: TextIO | None = None,
        enabled: bool = True,
        interactive: bool | None = None,
        redraw_interval: float = 0.5,
        log_interval: float = 30.0,
        clock=time.monotonic,
        started: float | None = None,
    ):
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.interactive = self.stream.isatty() if interactive is None else interactive
        self.interval = redraw_interval if self.interactive else log_interval
        self._clock = clock
        # The run's own start (``time.monotonic``) when given: the elapsed time and the rate are then
        # the ones the run summary reports (one clock, not a second one started with the display).
        self._started = clock() if started is None else started
        self._last_draw = self._started
        self._drawn = False

    def line(self, done: int, failed: int) -> str:
        elapsed = self._clock() - self._started
        rate = done / elapsed if elapsed > 0 else 0.0
        pct = 100.0 * done / self.total if self.total else 100.0
        # Files, as the run summary counts them (a duplicate is a file of an image already seen).
        parts = [f"semingest: {done}/{self.total} {_files(self.total)} ({pct:.0f}%)", f"{rate:.1f} files/s"]
        if failed:
            parts.append(f"{failed} failed")
        if 0 < done < self.total and rate > 0:
            parts.append(f"ETA {format_duration((self.total - done) / rate)}")
        parts.append(f"elapsed {format_duration(elapsed)}")
        return "  ".join(parts)

    def note(self, text: str) -> None:
        """A step with nothing counted yet (``starting Spark``): a line of its own, drawn at once
        (a whole line: the JVM may print to the same terminal while it starts)."""
        if not self.enabled:
            return
        line = f"semingest: {text} ({self.total} {_files(self.total)} to do)"
        self.stream.write(line + "\n")
        self.stream.flush()

    def update(self, done: int, failed: int = 0, *, force: bool = False) -> bool:
        """Draw if it is time (or ``force``); returns whether a line was drawn."""
        if not self.enabled:
            return False
        now = self._clock()
        if not force and now - self._last_draw < self.interval:
            return False
        self._last_draw = now
        text = self.line(done, failed)
        if self.interactive:
            self.stream.write("\r\x1b[2K" + text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()
        self._drawn = True
        return True

    def close(self, done: int, failed: int = 0) -> None:
        """Finish the display: a final line if anything was drawn (ends the in-place line)."""
        if self.enabled and self._drawn:
            self.update(done, failed, force=True)
            if self.interactive:
                self.stream.write("\n")
                self.stream.flush()


def _files(n: int) -> str:
    return "file" if n == 1 else "files"
