"""CPU seconds and peak memory of a whole process tree, sampled from ``/proc`` (Linux).

``getrusage(RUSAGE_CHILDREN)`` misses Spark's JVM and Python workers: they are not all waited
for by their parents. ``TreeSampler`` polls ``/proc`` every ``interval`` seconds, follows every
descendant of a root pid and keeps the last user+system time seen for each. A process that lives
shorter than one interval (or its last interval) is undercounted; Spark's JVM and its Python
workers live through the run, so the error is small (Tesseract calls are the short-lived ones).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


@dataclass
class TreeUsage:
    cpu_seconds: float
    peak_rss_mb: float  # the largest sum of RSS over the tree seen at one sample
    processes_seen: int


def _stat(pid: int) -> tuple[int, float, int] | None:
    """(ppid, user+system seconds, rss bytes) of ``pid``; None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    rest = data[data.rindex(b")") + 2 :].split()  # after "pid (comm) "
    # rest[0] = state (field 3); ppid = field 4; utime = 14; stime = 15; rss = 24 (pages)
    ppid = int(rest[1])
    cpu = (int(rest[11]) + int(rest[12])) / _TICKS
    rss = int(rest[21]) * _PAGE
    return ppid, cpu, rss


class TreeSampler:
    def __init__(self, root_pid: int, interval: float = 0.2) -> None:
        self.root = root_pid
        self.interval = interval
        self._cpu: dict[int, float] = {}
        self._peak_rss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="bench-proctree", daemon=True)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def sample(self) -> None:
        stats: dict[int, tuple[int, float, int]] = {}
        for name in os.listdir("/proc"):
            if name.isdigit():
                st = _stat(int(name))
                if st is not None:
                    stats[int(name)] = st
        children: dict[int, list[int]] = {}
        for pid, (ppid, _cpu, _rss) in stats.items():
            children.setdefault(ppid, []).append(pid)
        tree, todo = [], [self.root]
        while todo:
            pid = todo.pop()
            if pid in stats:
                tree.append(pid)
                todo.extend(children.get(pid, ()))
        rss = 0
        for pid in tree:
            _ppid, cpu, r = stats[pid]
            self._cpu[pid] = max(self._cpu.get(pid, 0.0), cpu)
            rss += r
        self._peak_rss = max(self._peak_rss, rss)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def usage(self) -> TreeUsage:
        return TreeUsage(sum(self._cpu.values()), self._peak_rss / 2**20, len(self._cpu))


@dataclass(frozen=True)
class SampledRun:
    """A finished command: exit status, its stdout, wall seconds and its process tree's usage."""

    returncode: int
    stdout: str
    wall_seconds: float
    usage: TreeUsage


def run_sampled(
    cmd: list[str], log_path: str | os.PathLike, *, timeout: float, env=None, cwd=None
) -> SampledRun:
    """Run ``cmd`` (stderr to ``log_path``), sampling its whole process tree; kill it after ``timeout``.

    Raises ``subprocess.TimeoutExpired`` (after killing it) when it runs too long.
    """
    import subprocess
    import time

    t0 = time.perf_counter()
    with open(log_path, "wb") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, env=env, cwd=cwd)
        with TreeSampler(proc.pid) as sampler:
            try:
                stdout, _ = proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
                raise
    return SampledRun(
        returncode=proc.returncode,
        stdout=stdout.decode("utf-8", errors="replace"),
        wall_seconds=time.perf_counter() - t0,
        usage=sampler.usage(),
    )
