"""Which software wrote a row: the semingest release and the version of each stage's reader.

``READER_VERSIONS`` is the one place a reader's version lives. Bump a stage's number whenever a
change to its reader can change what it extracts from the same file (a fixed vendor parser, a
better scale-bar detector, new preprocessing for the classifier): rows written by the older
reader are then found by ``semingest run --reprocess --stage STAGE`` and re-extracted, and only
those. A refactor that extracts the same values needs no bump.

The stored value is ``"<stage>/<number>"`` (e.g. ``metadata/1``), compared for equality.
"""

from __future__ import annotations

from functools import cache

from semingest_api import semingest_version as _distribution_version
from semingest_api.stages import Stage

# The stages whose rows carry a reader version (``--reprocess --stage``); decoding and the
# database write extract nothing of their own.
READER_VERSIONS: dict[Stage, int] = {
    Stage.METADATA: 1,  # exif_meta, instrument_meta
    Stage.SCALEBAR: 1,  # pixel_size
    Stage.INFERENCE: 1,  # inference (the model itself is inference.model_id)
}
VERSIONED_STAGES: tuple[Stage, ...] = tuple(READER_VERSIONS)


def reader_version(stage: Stage | str) -> str:
    """The current reader version of ``stage`` as stored in ``reader_version`` columns."""
    stage = Stage(stage)
    if stage not in READER_VERSIONS:
        versioned = ", ".join(VERSIONED_STAGES)
        raise ValueError(f"the {stage} stage has no reader version (stages with one: {versioned})")
    return f"{stage.value}/{READER_VERSIONS[stage]}"


def reader_versions() -> dict[str, str]:
    """Every versioned stage's current reader version (for ``ingest_runs.reader_versions``)."""
    return {stage.value: reader_version(stage) for stage in VERSIONED_STAGES}


@cache
def semingest_version() -> str:
    """The semingest release writing the rows (``semingest_api.semingest_version``, cached per process)."""
    return _distribution_version()
