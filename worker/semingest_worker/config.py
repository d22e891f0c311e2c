"""``JobConfig``: everything one run needs, from the ``semingest run`` options or a SemIngest spec."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from . import imageio
from .discovery import DEFAULT_INCLUDE
from .faults import FaultPlan
from .pipeline import PipelineConfig

if TYPE_CHECKING:
    from semingest_api.spec import SemIngestSpec

    from .inference import ModelConfig


@dataclass(frozen=True)
class JobConfig:
    """Everything a run needs. ``model`` (an ``inference.ModelConfig``) switches inference on."""

    source: str
    database_url: str
    include: tuple[str, ...] = DEFAULT_INCLUDE
    exclude: tuple[str, ...] = ()
    metadata: bool = True
    scale_bar: bool = True
    thumbnails: bool = True
    model: ModelConfig | None = None
    partitions: int | None = None  # default: 4 x Spark's default parallelism
    batch_size: int = 500  # files per database transaction
    retry_deadline_seconds: float = 300.0
    max_pixels: int = imageio.DEFAULT_MAX_PIXELS
    run_id: str | None = None
    master: str | None = None  # None: whatever spark-submit configured
    spark_conf: Mapping[str, str] = field(default_factory=dict)
    task_max_failures: int | None = None
    status_target: str | None = None  # "namespace/name" of the SemIngest to report to
    app_name: str = "semingest"
    inference_skipped_because: str = "no model given"  # what the summary says when model is None
    faults: FaultPlan | None = None  # tests only (see ``faults``)
    engine: str = "local-spark"  # engines.Engine: auto, local-spark or inline (spark-submit: Spark)
    inline_max_files: int | None = None  # auto: inline up to this many files (engines.inline_max_files)
    # Stages whose rows from an older reader are re-extracted (``--reprocess``; provenance.VERSIONED_STAGES).
    reprocess: tuple[str, ...] = ()

    @classmethod
    def from_spec(
        cls,
        spec: SemIngestSpec | Mapping[str, object],
        *,
        database_url: str,
        source_root: str | None = None,
        run_id: str | None = None,
        status_target: str | None = None,
        master: str | None = None,
    ) -> JobConfig:
        """A JobConfig from a SemIngest spec (dict or ``spec.SemIngestSpec``), paths as mounted in the pods."""
        from semingest_api import spec as spec_mod

        parsed = spec if isinstance(spec, spec_mod.SemIngestSpec) else spec_mod.parse_spec(spec)
        root = source_root or os.path.join(spec_mod.SOURCE_MOUNT, parsed.source.path.lstrip("/"))
        model = None
        skipped_because = "no model given"
        if parsed.model is not None and not parsed.stages.inference:
            skipped_because = "stage off (spec.stages.inference is false)"
        if parsed.model is not None and parsed.stages.inference:
            from .inference import ModelConfig

            def mounted(path: str) -> str:
                return os.path.join(spec_mod.MODEL_MOUNT, path.lstrip("/"))

            model = ModelConfig(
                path=mounted(parsed.model.path),
                labels_path=mounted(parsed.model.labels) if parsed.model.labels is not None else None,
                batch_size=parsed.model.batch_size,
                input_tensor=parsed.model.input_tensor,
                output_tensor=parsed.model.output_tensor,
            )
        return cls(
            source=os.path.normpath(root),
            database_url=database_url,
            include=tuple(parsed.source.include),
            exclude=tuple(parsed.source.exclude),
            metadata=parsed.stages.metadata,
            scale_bar=parsed.stages.scale_bar,
            thumbnails=parsed.stages.thumbnails,
            model=model,
            partitions=parsed.partitions,
            batch_size=parsed.database.batch_size,
            retry_deadline_seconds=float(parsed.database.retry_deadline_seconds),
            run_id=run_id,
            status_target=status_target,
            master=master,
            inference_skipped_because=skipped_because,
        )

    def parameters(self) -> dict[str, Any]:
        """What ``ingest_runs.parameters`` records (JSON-safe; the database URL without its password)."""
        from .database import redact

        params = asdict(self)
        params["database_url"] = redact(self.database_url)
        params["spark_conf"] = dict(self.spark_conf)
        return params

    def pipeline_config(self, run_id: str, model_id: str | None) -> PipelineConfig:
        """What each partition needs (shipped to the executors)."""
        return PipelineConfig(
            database_url=self.database_url,
            run_id=run_id,
            metadata=self.metadata,
            scale_bar=self.scale_bar,
            thumbnails=self.thumbnails,
            model=self.model,
            model_id=model_id,
            batch_size=self.batch_size,
            retry_deadline_seconds=self.retry_deadline_seconds,
            max_pixels=self.max_pixels,
            faults=self.faults,
        )
