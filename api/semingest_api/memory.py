"""How big an image a Python worker can take: one rule for the operator's sizing and the worker.

Measured on this project's pipeline (decode, metadata, scale bar, the inference input), peak
memory per decoded byte of the first page: 8-bit grey 9.5x, 16-bit grey 7.9x, 8-bit RGB 4.3x
(6000x6000 frames; see ``docs/memory.md``). So a Python worker needs about ``PEAK_PER_DECODED_BYTE``
times the decoded size of the largest image it may meet. Spark runs one Python worker per
executor core; they share the executor's ``memoryOverhead`` with the JVM's off-heap memory, which
gets ``1 - PYTHON_SHARE_OF_OVERHEAD`` of it. The worker refuses (records, with this reason)
images that its executors' memory cannot hold, instead of being killed by the kernel mid-batch.
"""

from __future__ import annotations

import math
import re

PEAK_PER_DECODED_BYTE = 10
PYTHON_SHARE_OF_OVERHEAD = 0.75
# Where no executor size is known (local runs): the decoder's own default.
DEFAULT_MAX_IMAGE_BYTES = 256 * 1024 * 1024

_SPARK_MEMORY = re.compile(r"(\d+)\s*([kmgtp]?)b?", re.IGNORECASE)
_UNITS = {"": 1024 * 1024, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4, "p": 1024**5}


def parse_spark_memory(text: str) -> int:
    """Bytes of a Spark memory string: ``"1638m"``, ``"2g"``, ``"512"`` (MiB, as Spark reads it)."""
    match = _SPARK_MEMORY.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"not a Spark memory size: {text!r}")
    return int(match.group(1)) * _UNITS[match.group(2).lower()]


def python_worker_bytes(overhead_bytes: int, cores: int) -> int:
    """Memory one Python worker of an executor with this overhead and these cores may use."""
    return int(overhead_bytes * PYTHON_SHARE_OF_OVERHEAD) // max(1, cores)


def max_image_bytes(overhead_bytes: int, cores: int) -> int:
    """The largest decoded image (bytes) such an executor's Python workers can process."""
    return python_worker_bytes(overhead_bytes, cores) // PEAK_PER_DECODED_BYTE


def memory_per_core_for(image_bytes: int, overhead_share: float) -> int:
    """Pod memory per core (whole MiB) that lets a Python worker take an image of ``image_bytes``."""
    needed = image_bytes * PEAK_PER_DECODED_BYTE / PYTHON_SHARE_OF_OVERHEAD / overhead_share
    return (math.ceil(needed / 2**20) + 1) * 2**20
