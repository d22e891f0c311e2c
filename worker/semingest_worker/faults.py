"""Fault injection for the fault-tolerance tests: an optional ``FaultPlan`` in the pipeline config.

Production runs have none (``PipelineConfig.faults`` is None) and no code path reads the
environment for it. A test hands one in (``JobConfig(faults=FaultPlan(...))``); it travels to
the executors with the pipeline config:

* ``kill_after_files=N``: on a task's first attempt, the Python worker kills itself with SIGKILL
  once N files of its partition are committed, while the rest of its current compute batch is
  decoded but not yet written (so Spark retries the task over committed and uncommitted work);
* ``slow_ms_per_file=M``: every file takes M ms longer (slow storage), so a test can act while a
  run is still in progress.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from dataclasses import dataclass

log = logging.getLogger(__name__)

KILL_MESSAGE = "fault injection: killing this Python worker"


@dataclass(frozen=True)
class FaultPlan:
    kill_after_files: int | None = None
    slow_ms_per_file: int = 0

    def __post_init__(self) -> None:
        if self.kill_after_files is not None and self.kill_after_files < 1:
            raise ValueError(f"kill_after_files must be at least 1, not {self.kill_after_files}")
        if self.slow_ms_per_file < 0:
            raise ValueError(f"slow_ms_per_file must not be negative, not {self.slow_ms_per_file}")

    def armed(self) -> ArmedFaults:
        """The faults for this task: the kill only on a Spark task's first attempt."""
        return ArmedFaults(
            kill_after_files=self.kill_after_files if _first_task_attempt() else None,
            slow_seconds=self.slow_ms_per_file / 1000.0,
        )


@dataclass(frozen=True)
class ArmedFaults:
    """A ``FaultPlan`` as it applies inside one partition."""

    kill_after_files: int | None = None
    slow_seconds: float = 0.0

    def before_file(self) -> None:
        if self.slow_seconds:
            time.sleep(self.slow_seconds)

    def after_commit(self, committed: int) -> None:
        if self.kill_after_files is not None and committed >= self.kill_after_files:
            log.error("%s after %d committed files", KILL_MESSAGE, committed)
            os.kill(os.getpid(), signal.SIGKILL)


NO_FAULTS = ArmedFaults()


def _first_task_attempt() -> bool:
    try:
        from pyspark import TaskContext
    except ImportError:
        return False
    context = TaskContext.get()
    return context is not None and context.attemptNumber() == 0
