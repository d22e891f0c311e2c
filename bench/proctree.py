"""CPU seconds and peak memory of a whole process tree (Linux).

``getrusage(RUSAGE_CHILDREN)`` misses Spark's JVM and Python workers and Tesseract: they are not
all waited for by their parents (PySpark's daemon ignores SIGCHLD, so its children's CPU time
reaches nobody). Two ways to count it all:

* ``CpuCgroup`` (preferred): the command starts in a cgroup of its own (v1 ``cpuacct`` or v2),
  every descendant inherits it, and the kernel's ``cpuacct.usage`` / ``cpu.stat usage_usec`` is
  the exact CPU of the whole tree, short-lived processes included. Needs write access to the
  cgroup file system (root here); otherwise
* ``TreeSampler``: polls ``/proc`` every ``interval`` seconds, follows every descendant of a root
  pid and keeps the last user+system time seen for each. A process that lives shorter than one
  interval (or its last interval) is undercounted (Tesseract CLI calls are the short-lived ones).

``run_sampled`` uses the cgroup when it can and says which (``TreeUsage.cpu_method``); the
sampler always runs for the peak RSS.
"""

from __future__ import annotations

import os
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


@dataclass
class TreeUsage:
    cpu_seconds: float
    peak_rss_mb: float  # the largest sum of RSS over the tree seen at one sample
    processes_seen: int
    cpu_method: str = "sampled /proc"
    sampled_cpu_seconds: float | None = None  # what /proc sampling saw (when the cgroup counted)


_CGROUP_ROOTS = (Path("/sys/fs/cgroup/cpuacct"), Path("/sys/fs/cgroup/unified"), Path("/sys/fs/cgroup"))


class CpuCgroup:
    """A fresh cgroup whose CPU counter covers every process put in it and their descendants."""

    def __init__(self, path: Path, counter: Path, version: int) -> None:
        self.path, self.counter, self.version = path, counter, version

    @classmethod
    def create(cls) -> CpuCgroup | None:
        """A new cgroup, or None when the cgroup file system is not writable here."""
        for root in _CGROUP_ROOTS:
            v1 = (root / "cpuacct.usage").is_file()
            v2 = (root / "cgroup.controllers").is_file()
            if not (v1 or v2) or not os.access(root, os.W_OK):
                continue
            path = root / f"semingest-bench-{uuid.uuid4().hex[:12]}"
            try:
                path.mkdir()
            except OSError:
                continue
            counter = path / ("cpuacct.usage" if v1 else "cpu.stat")
            if counter.is_file():
                return cls(path, counter, 1 if v1 else 2)
            path.rmdir()
        return None

    def enter(self) -> None:
        """Move the calling process into the cgroup (a ``preexec_fn``: before the command runs)."""
        (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def cpu_seconds(self) -> float:
        text = self.counter.read_text()
        if self.version == 1:
            return int(text.strip()) / 1e9
        fields = dict(line.split() for line in text.splitlines() if line.strip())
        return int(fields["usage_usec"]) / 1e6

    def remove(self) -> None:
        """Remove the cgroup (its processes have ended; stragglers are moved to the parent)."""
        leftover = (self.path / "cgroup.procs").read_text().split()
        for pid in leftover:
            try:
                (self.path.parent / "cgroup.procs").write_text(pid)
            except OSError:
                pass
        import time

        for _ in range(25):  # exiting processes (zombies not yet reaped) keep it busy a moment
            try:
                self.path.rmdir()
                return
            except OSError:
                time.sleep(0.2)


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

    group = CpuCgroup.create()
    t0 = time.perf_counter()
    try:
        with open(log_path, "wb") as err:
            proc = subprocess.Popen(
                cmd,
                stdout=subprocess.PIPE,
                stderr=err,
                env=env,
                cwd=cwd,
                preexec_fn=group.enter if group is not None else None,  # noqa: PLW1509 - no threads in the child yet
            )
            with TreeSampler(proc.pid) as sampler:
                try:
                    stdout, _ = proc.communicate(timeout=timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.communicate()
                    raise
        wall = time.perf_counter() - t0
        usage = sampler.usage()
        if group is not None:
            usage.sampled_cpu_seconds = usage.cpu_seconds
            usage.cpu_seconds = group.cpu_seconds()
            usage.cpu_method = f"cgroup v{group.version} ({group.counter.name})"
    finally:
        if group is not None:
            group.remove()
    return SampledRun(
        returncode=proc.returncode,
        stdout=stdout.decode("utf-8", errors="replace"),
        wall_seconds=wall,
        usage=usage,
    )
