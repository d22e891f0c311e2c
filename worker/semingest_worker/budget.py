"""A wall-clock budget for one file's work, so one stuck file cannot stall a run.

``time_budget(seconds)`` arms a one-shot ``SIGALRM`` timer around a block and raises
``BudgetExceeded`` in it when the time is up: a blocking system call (a read from a hung mount,
an ``open`` of a pipe) is interrupted, and pure-Python loops stop at the next bytecode. Code
inside a single long C call (a decoder, OpenCV) is stopped when it returns. Signals can only be
handled in the main thread, so elsewhere (and with ``seconds`` of 0 or less) the block runs
unbounded; Spark's Python workers and the inline engine run partitions in their main thread.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class BudgetExceeded(BaseException):
    """The block ran out of its time budget.

    A ``BaseException`` (like ``KeyboardInterrupt``): it arrives asynchronously, anywhere in the
    block, and the ``except Exception`` boundaries inside must not turn it into a decode error.
    """

    def __init__(self, seconds: float):
        super().__init__(f"took longer than its time budget of {seconds:g} s")
        self.seconds = seconds


@contextmanager
def time_budget(seconds: float) -> Iterator[None]:
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: object) -> None:
        raise BudgetExceeded(seconds)

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
