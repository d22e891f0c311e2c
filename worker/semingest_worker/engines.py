"""Where a run's pipeline executes: on Spark, or inline (a process pool on this machine).

Spark's start-up (a JVM, a SparkContext, the first Python worker) costs 5-10 s on a small
machine: more than a folder of a few hundred images takes to ingest, and on one machine Spark
stays slower per image after it (serialising each partition's files to the JVM and back):
``make bench`` measured 1,000 images on one core at 123 images/s inline against 70 on local
Spark, and 5,000 images on two cores took 20.9 s inline against 25.0 s. ``semingest run --engine
auto`` (the default) therefore runs inline whenever the master is local (``local``,
``local[N]``, ``local[*]``): the same ``process_partition`` over a process pool with one worker
per core the process may use. A cluster master (``spark://``, ``k8s://``, ``yarn``...) runs on
Spark, and so does a run given a Spark-only option (``--partitions``, ``--max-failures``,
``--conf``; see ``cli._engine``).

``--inline-max-files`` (or ``$SEMINGEST_INLINE_MAX_FILES``) caps the files left after the skip
check that auto runs inline (no cap by default; a re-run with nothing new never starts
anything). ``--engine local-spark`` and ``--engine inline`` force one or the other. The
Kubernetes entry point (spark-submit) always uses Spark: its executors are already there.

The inline engine keeps Spark's guarantees that matter here: each partition is a stream with
one database connection, one bad image fails only itself, and the partitions' counters are
added up on the driver. Like local Spark without ``--max-failures`` (Spark's local mode makes
one attempt per task) it has no task retry: a worker that dies (killed by the kernel) fails the
run, and the next run continues from what was committed.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import re
import sys
import threading
from collections.abc import Callable, Sequence
from enum import StrEnum

from .pipeline import Counters, PipelineConfig, process_partition
from .records import ImageFile

# No cap by default: inline is the faster engine on one machine at every size measured.
INLINE_MAX_FILES: int | None = None
INLINE_MAX_FILES_ENV = "SEMINGEST_INLINE_MAX_FILES"
PARTITIONS_PER_WORKER = 4  # load balancing: the pool hands the next partition to a free worker
MIN_PARTITION_FILES = 25  # each partition opens one database connection: not for a handful of files
TICK_SECONDS = 2.0


class Engine(StrEnum):
    AUTO = "auto"
    LOCAL_SPARK = "local-spark"
    INLINE = "inline"


def inline_max_files(value: int | None = None) -> int | None:
    """The cap: ``value``, else ``$SEMINGEST_INLINE_MAX_FILES``, else ``INLINE_MAX_FILES`` (None: no cap)."""
    if value is not None:
        return value
    text = os.environ.get(INLINE_MAX_FILES_ENV, "").strip()
    if not text:
        return INLINE_MAX_FILES
    try:
        number = int(text)
    except ValueError:
        raise ValueError(f"${INLINE_MAX_FILES_ENV} must be a whole number of files, got {text!r}") from None
    if number < 0:
        raise ValueError(f"${INLINE_MAX_FILES_ENV} must be >= 0, got {number}")
    return number


def is_local_master(master: str | None) -> bool:
    """``local``, ``local[N]``, ``local[*]``, ``local[N,F]`` (None: the CLI's default, local[*])."""
    return master is None or re.fullmatch(r"local(\[(\*|\d+)(,\d+)?\])?", master) is not None


def choose(requested: Engine, files: int, cap: int | None, master: str | None = None) -> Engine:
    """The engine that runs ``files`` files: ``requested`` unless it is AUTO; AUTO is inline on a
    local master for at most ``cap`` files (None: any number), Spark otherwise."""
    if requested is not Engine.AUTO:
        return requested
    if not is_local_master(master):
        return Engine.LOCAL_SPARK
    return Engine.INLINE if cap is None or files <= cap else Engine.LOCAL_SPARK


def workers_for(master: str | None) -> int:
    """Inline workers for a Spark-style ``master``: ``local[N]`` -> N, otherwise the CPUs this
    process may run on (its affinity: ``taskset`` is respected)."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    found = re.fullmatch(r"local\[(\d+)(?:,\d+)?\]", master or "")
    if found:
        return max(1, int(found.group(1)))
    if master == "local":
        return 1
    return max(1, usable)


def split(todo: Sequence[ImageFile], parts: int) -> list[list[ImageFile]]:
    """``todo`` dealt into ``parts`` partitions of nearly equal length, every ``parts``-th file
    to the same one (each keeps the listing's order). Dealt, not cut in contiguous slices: a
    folder is often one instrument or one kind of image, and contiguous slices then differ in
    cost (measured: 1,000 synthetic files in two vendor folders on two workers, single runs,
    took ~7 % longer cut than dealt, the last slice running alone)."""
    parts = max(1, min(parts, len(todo)))
    return [list(todo[i::parts]) for i in range(parts)]


def partitions_for(files: int, workers: int) -> int:
    """``PARTITIONS_PER_WORKER`` per worker, fewer when a partition would hold fewer than
    ``MIN_PARTITION_FILES`` files, never fewer than one per worker."""
    return max(workers, min(workers * PARTITIONS_PER_WORKER, files // MIN_PARTITION_FILES))


def execute_inline(
    pipeline: PipelineConfig,
    todo: Sequence[ImageFile],
    *,
    workers: int,
    tick: Callable[[], None] | None = None,
) -> tuple[Counters, int]:
    """Run the pipeline over ``todo`` on ``workers`` processes (1: this process); returns the
    counters added up and the number of partitions. ``tick`` is called every ``TICK_SECONDS``
    while the work runs (progress polling), on the calling thread."""
    workers = max(1, min(workers, len(todo)))
    if workers == 1:
        return _in_this_process(pipeline, list(todo), tick), 1
    slices = split(todo, partitions_for(len(todo), workers))
    context = multiprocessing.get_context(_start_method(pipeline))
    counters = Counters()
    with cf.ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = [pool.submit(process_partition, part, pipeline) for part in slices]
        try:
            pending = set(futures)
            while pending:
                done, pending = cf.wait(pending, timeout=TICK_SECONDS, return_when=cf.FIRST_EXCEPTION)
                for future in done:
                    future.result()  # a partition's failure (database gone for good) fails the run
                if pending and tick is not None:
                    tick()
        except BaseException:
            for future in futures:
                future.cancel()
            raise
        for future in futures:
            counters.merge(future.result())
    return counters, len(slices)


def _start_method(pipeline: PipelineConfig) -> str:
    """``fork`` where it is safe and fast; ``forkserver`` with a model: this process has loaded
    TensorFlow (the driver checks the model), whose threads make a forked child hang."""
    if not sys.platform.startswith("linux"):
        return "spawn"
    return "forkserver" if pipeline.model is not None else "fork"


def _in_this_process(
    pipeline: PipelineConfig, todo: list[ImageFile], tick: Callable[[], None] | None
) -> Counters:
    """One partition on a helper thread, so this thread can tick (progress) while it runs."""
    box: dict[str, object] = {}

    def work() -> None:
        try:
            box["counters"] = process_partition(todo, pipeline)
        except BaseException as exc:  # noqa: BLE001 - handed to the calling thread
            box["error"] = exc

    thread = threading.Thread(target=work, name="semingest-inline", daemon=True)
    thread.start()
    while thread.is_alive():
        thread.join(TICK_SECONDS)
        if thread.is_alive() and tick is not None:
            tick()
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    counters = box["counters"]
    assert isinstance(counters, Counters)
    return counters
