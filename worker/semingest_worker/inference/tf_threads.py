"""Size TensorFlow's process-wide thread pools, once, before TensorFlow's runtime starts."""

from __future__ import annotations

import logging
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ThreadPools:
    intra_op: int  # threads one op (a convolution, a matmul) may use
    inter_op: int  # ops run concurrently


def pools_for(threads: int) -> ThreadPools:
    """A CNN's graph is a chain: one op at a time, each using all ``threads``; inter-op stays 1
    so the two pools together never exceed the process's share of the cores."""
    return ThreadPools(intra_op=threads, inter_op=1)


def configure_tensorflow_threads(threads: int) -> ThreadPools:
    """Apply ``pools_for(threads)`` to TensorFlow's eager runtime; returns the pools in effect.

    TensorFlow fixes its pools when its runtime initialises (the first op run in the process);
    afterwards they cannot change. Then the pools already in effect are kept and, when they differ
    from the request, a warning says so (a process runs one model configuration in practice).
    """
    import tensorflow as tf

    wanted = pools_for(threads)
    try:
        tf.config.threading.set_intra_op_parallelism_threads(wanted.intra_op)
        tf.config.threading.set_inter_op_parallelism_threads(wanted.inter_op)
        return wanted
    except RuntimeError:
        current = ThreadPools(
            intra_op=tf.config.threading.get_intra_op_parallelism_threads(),
            inter_op=tf.config.threading.get_inter_op_parallelism_threads(),
        )
        if current != wanted:
            log.warning(
                "TensorFlow was already initialised in this process with %s; keeping it instead of %s",
                current,
                wanted,
            )
        return current
