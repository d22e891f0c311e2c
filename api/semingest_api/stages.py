"""The stages a file goes through in the worker's pipeline, in order.

One definition for every place that names them: the pipeline's per-stage seconds, the
``<stage>_seconds`` columns of ``ingest_runs``, the SemIngest's ``status.stageSeconds`` keys
and the benchmark report.
"""

from __future__ import annotations

from enum import StrEnum


class Stage(StrEnum):
    """A pipeline stage; the value is the name used in summaries, columns and the status."""

    DECODE = "decode"
    METADATA = "metadata"
    SCALEBAR = "scalebar"
    INFERENCE = "inference"
    THUMBNAILS = "thumbnails"
    DATABASE = "database"


STAGE_NAMES: tuple[str, ...] = tuple(stage.value for stage in Stage)
