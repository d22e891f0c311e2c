"""What to load (``ModelConfig``) and how many CPU threads TensorFlow may use in this process."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ModelConfig:
    """A site-provided classification model. Hashable: it keys the per-process classifier cache.

    ``path``: a Keras ``.keras`` file, a SavedModel directory, or a frozen GraphDef ``.pb``.
    ``labels_path``: one label per line; ``None`` means the 10 SEM categories (spec.DEFAULT_LABELS).
    ``batch_size``: images per model call (a single-image GraphDef runs one image per call).
    ``input_tensor`` / ``output_tensor``: GraphDef tensor names (default ``DecodeJpeg:0`` and
    ``final_result:0``) or SavedModel signature input/output keys (default: the only one).
    Ignored for Keras files, whose single input and output are used.
    ``threads``: TensorFlow intra-op threads for this process; ``None`` = ``default_thread_count()``.
    """

    path: str
    labels_path: str | None = None
    batch_size: int = 32
    input_tensor: str | None = None
    output_tensor: str | None = None
    threads: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, not {self.batch_size!r}")
        if self.threads is not None and (
            isinstance(self.threads, bool) or not isinstance(self.threads, int) or self.threads < 1
        ):
            raise ValueError(f"threads must be a positive integer or None, not {self.threads!r}")


def default_thread_count() -> int:
    """CPU threads one model-running process should use so the node is not oversubscribed.

    Inside a Spark task, PySpark runs one Python worker process per concurrently running task, so
    an executor with N cores holds N such processes, each with its own TensorFlow: each one's
    share is its task's CPUs (``spark.task.cpus``, normally 1), not the executor's N cores.
    Elsewhere (the driver, the ``semingest`` CLI, a benchmark): ``SPARK_EXECUTOR_CORES`` when set,
    else the CPUs this process may run on (affinity mask and cgroup CPU quota respected).
    """
    task_cpus = _spark_task_cpus()
    if task_cpus:
        return task_cpus
    value = os.environ.get("SPARK_EXECUTOR_CORES", "").strip()
    if value.isdigit() and int(value) > 0:
        return int(value)
    return available_cpus()


def available_cpus() -> int:
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    quota = _cgroup_cpu_quota()
    if quota is not None:
        cpus = min(cpus, quota)
    return max(1, cpus)


def _spark_task_cpus() -> int | None:
    try:
        from pyspark import TaskContext
    except ImportError:
        return None
    context = TaskContext.get()
    if context is None:
        return None
    try:
        cpus = int(context.cpus())
    except Exception:  # noqa: BLE001 - older PySpark without cpus(): fall back to the environment
        return None
    return cpus if cpus > 0 else None


def _cgroup_cpu_quota() -> int | None:
    """Whole CPUs allowed by a cgroup v2 ``cpu.max`` quota (a Kubernetes CPU limit), if any."""
    try:
        text = Path("/sys/fs/cgroup/cpu.max").read_text().split()
    except OSError:
        return None
    if len(text) != 2 or text[0] == "max":
        return None
    try:
        quota, period = int(text[0]), int(text[1])
    except ValueError:
        return None
    if quota <= 0 or period <= 0:
        return None
    return max(1, math.ceil(quota / period))
