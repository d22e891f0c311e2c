"""Process one partition of files as a stream: decode, metadata, scale bar, inference, thumbnails, bulk write.

``process_partition(files, config)`` runs inside a Spark task (or anywhere else). Files are
decoded one at a time and held only in small compute batches (at most ``compute_batch`` images
or ``compute_batch_pixels`` pixels), where the scale-bar reader and the classifier run batched;
their results (no pixels) are written with ONE database connection per partition, one
transaction per ``batch_size`` files. It returns small ``Counters``; the driver adds them up.

One bad image never fails the partition: a file that cannot be decoded, metadata with
problems, a scale-bar or classifier failure on one image, even a value the database refuses,
each become a 'failed' record with a specific reason, and the rest goes on. What does fail the
partition (and so the task, which Spark may retry) is the database staying unreachable past the
retry deadline: retried tasks rewrite the same keys, so rows are never duplicated.

The fault-tolerance tests inject faults through ``PipelineConfig.faults`` (see ``faults``).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from semingest_api.stages import Stage

from . import imageio
from .budget import BudgetExceeded, time_budget
from .faults import NO_FAULTS, FaultPlan
from .records import ImageFile, ImageResult, InstrumentMeta, MetadataResult, ScaleBarReading

if TYPE_CHECKING:
    from .database import ImageWriter
    from .inference import ModelConfig
    from .inference.classifier import Classifier

log = logging.getLogger(__name__)

FAILURE_SAMPLE = 50  # failed files (path -> reason) kept per partition for the run summary


@dataclass(frozen=True)
class PipelineConfig:
    """What each partition needs (picklable: shipped to the executors)."""

    database_url: str
    run_id: str
    metadata: bool = True
    scale_bar: bool = True
    thumbnails: bool = True
    model: ModelConfig | None = None  # None: skip the inference stage
    model_id: str | None = None
    batch_size: int = 500  # files per database transaction
    retry_deadline_seconds: float = 300.0
    max_pixels: int = imageio.DEFAULT_MAX_PIXELS
    max_image_bytes: int = imageio.DEFAULT_MAX_BYTES
    file_time_budget_seconds: float = 120.0  # decode + metadata of one file; 0 for no budget
    image_limit_hint: str | None = None  # why max_image_bytes is what it is (added to bomb reasons)
    compute_batch: int = 32  # images decoded and held at once
    compute_batch_pixels: int = 64_000_000
    faults: FaultPlan | None = None  # tests only (see ``faults``)
    persist_labels: bool = True  # keep scale-bar label readings in ``ocr_labels`` (see label_store)
    threads_per_worker: int = 1  # OpenCV/OpenMP threads per Python worker (0: the libraries' default)


@dataclass
class Counters:
    """What a partition did; added up on the driver."""

    processed: int = 0  # files whose outcome was committed (ok or failed)
    failed: int = 0
    rejected_by_database: int = 0
    stage_seconds: dict[str, float] = field(default_factory=lambda: {stage.value: 0.0 for stage in Stage})
    per_vendor: dict[str, dict[str, int]] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)  # a sample: path -> reason
    database_retries: int = 0
    database_connections: int = 0

    def add_seconds(self, stage: Stage | str, seconds: float) -> None:
        name = str(stage)
        self.stage_seconds[name] = self.stage_seconds.get(name, 0.0) + seconds

    def merge(self, other: Counters) -> Counters:
        self.processed += other.processed
        self.failed += other.failed
        self.rejected_by_database += other.rejected_by_database
        self.database_retries += other.database_retries
        self.database_connections += other.database_connections
        for stage, seconds in other.stage_seconds.items():
            self.add_seconds(stage, seconds)
        for vendor, counts in other.per_vendor.items():
            mine = self.per_vendor.setdefault(vendor, {})
            for key, value in counts.items():
                mine[key] = mine.get(key, 0) + value
        for path, reason in other.failures.items():
            if len(self.failures) < FAILURE_SAMPLE:
                self.failures.setdefault(path, reason)
        return self


@dataclass
class _Work:
    """One file between decoding and writing (holds the pixels until its compute batch is done)."""

    result: ImageResult
    image: imageio.DecodedImage | None = None
    pixels: int = 0


def process_partition(files: Iterable[ImageFile], config: PipelineConfig) -> Counters:
    """Ingest ``files`` (a stream) and return the partition's counters."""
    from . import label_store
    from .database import ImageWriter

    limit_threads(config.threads_per_worker)
    counters = Counters()
    classifier = _classifier(config)
    faults = config.faults.armed() if config.faults is not None else NO_FAULTS
    writer = ImageWriter(
        config.database_url, model_id=config.model_id, retry_deadline_seconds=config.retry_deadline_seconds
    )
    # the label store shares the writer's connection (one per partition); it is flushed first
    store = (
        label_store.DatabaseLabelStore(config.database_url, connect=writer.shared_connection)
        if config.persist_labels
        else None
    )
    with writer, label_store.installed(store):
        pending: list[ImageResult] = []
        batch: list[_Work] = []
        batch_pixels = 0
        for file in files:
            faults.before_file()
            work = _read(file, config, counters)
            batch.append(work)
            batch_pixels += work.pixels
            if len(batch) >= config.compute_batch or batch_pixels >= config.compute_batch_pixels:
                pending.extend(_finish(batch, config, classifier, counters))
                batch, batch_pixels = [], 0
                while len(pending) >= config.batch_size:
                    _flush(writer, pending[: config.batch_size], counters)
                    pending = pending[config.batch_size :]
                    faults.after_commit(counters.processed)  # with uncommitted work in hand
        pending.extend(_finish(batch, config, classifier, counters))
        for start in range(0, len(pending), config.batch_size):
            _flush(writer, pending[start : start + config.batch_size], counters)
        counters.database_connections += writer.connections_opened
    return counters


def limit_threads(threads: int) -> None:
    """One compute thread per Python worker: Spark (or the inline pool) runs one worker per core,
    and OpenCV's and OpenMP's own pools on top of that make the workers fight over the cores."""
    if threads <= 0:
        return
    os.environ["OMP_THREAD_LIMIT"] = str(threads)  # Tesseract (a child process, or libtesseract)
    os.environ["OMP_NUM_THREADS"] = str(threads)
    try:
        import cv2

        if cv2.getNumThreads() != threads:
            cv2.setNumThreads(threads)
    except ImportError:  # pragma: no cover - cv2 is a worker dependency
        pass


def partition_runner(config: PipelineConfig) -> Callable[[Iterable[ImageFile]], Iterator[Counters]]:
    """The ``mapPartitions`` function: yields one ``Counters`` per partition."""

    def run(files: Iterable[ImageFile]) -> Iterator[Counters]:
        _quiet_logging()
        yield process_partition(files, config)

    return run


# -- stages ---------------------------------------------------------------------------------------
def _read(file: ImageFile, config: PipelineConfig, counters: Counters) -> _Work:
    """Decode and read metadata within the file's time budget; a failure is the file's outcome."""
    if file.problem is not None:
        return _Work(ImageResult(file=file, run_id=config.run_id, status="failed", error=file.problem))
    try:
        with time_budget(config.file_time_budget_seconds):
            return _decode_and_read_metadata(file, config, counters)
    except BudgetExceeded as exc:
        reason = f"reading the file {exc}: skipped (a hung mount, a slow device, or a pathological file)"
        return _Work(ImageResult(file=file, run_id=config.run_id, status="failed", error=reason))


def _decode_and_read_metadata(file: ImageFile, config: PipelineConfig, counters: Counters) -> _Work:
    result = ImageResult(file=file, run_id=config.run_id, status="ok")
    t0 = time.perf_counter()
    try:
        image = imageio.decode_image(
            file.path, max_pixels=config.max_pixels, max_bytes=config.max_image_bytes
        )
    except imageio.ImageDecodeError as exc:
        counters.add_seconds(Stage.DECODE, time.perf_counter() - t0)
        hint = config.image_limit_hint if "bytes decoded, limit" in exc.reason else None
        result.status, result.error = "failed", f"{exc.reason} ({hint})" if hint else exc.reason
        return _Work(result)
    except Exception as exc:  # noqa: BLE001 - the decoder promises ImageDecodeError only; be safe
        counters.add_seconds(Stage.DECODE, time.perf_counter() - t0)
        result.status, result.error = "failed", f"cannot decode: {type(exc).__name__}: {exc}"
        return _Work(result)
    t1 = time.perf_counter()
    counters.add_seconds(Stage.DECODE, t1 - t0)
    result.image_hash = image.image_hash
    result.width, result.height = image.width, image.height
    result.mode, result.format, result.page_count = image.mode, image.format, image.page_count
    if config.metadata:
        from .metadata import extract_metadata

        try:
            meta = extract_metadata(image, file)
        except Exception as exc:  # noqa: BLE001 - a reader bug must not lose the image
            meta = MetadataResult(
                exif={}, instrument=InstrumentMeta(), problems=(f"metadata: {type(exc).__name__}: {exc}",)
            )
        result.metadata = meta
        if meta.problems:
            _fail(result, "; ".join(meta.problems))
        counters.add_seconds(Stage.METADATA, time.perf_counter() - t1)
    return _Work(result, image, image.width * image.height)


def _finish(
    batch: list[_Work], config: PipelineConfig, classifier: Classifier | None, counters: Counters
) -> list[ImageResult]:
    """Scale bars and inference for a compute batch (batched), then drop the pixels."""
    decoded = [(w, w.image) for w in batch if w.image is not None]
    if decoded and config.scale_bar:
        t0 = time.perf_counter()
        _scale_bars(decoded)
        counters.add_seconds(Stage.SCALEBAR, time.perf_counter() - t0)
    if decoded and classifier is not None:
        t0 = time.perf_counter()
        _classify(decoded, classifier)
        counters.add_seconds(Stage.INFERENCE, time.perf_counter() - t0)
    if decoded and config.thumbnails:
        t0 = time.perf_counter()
        _thumbnails(decoded)
        counters.add_seconds(Stage.THUMBNAILS, time.perf_counter() - t0)
    results = []
    for w in batch:
        w.image = None
        results.append(w.result)
    return results


def _scale_bars(work: list[tuple[_Work, imageio.DecodedImage]]) -> None:
    from .scalebar import ScaleBarInput, read_scale_bars

    inputs = []
    for w, image in work:
        ins = w.result.metadata.instrument if w.result.metadata is not None else None
        inputs.append(
            ScaleBarInput(
                gray=image.gray(),
                vendor=ins.vendor if ins is not None else None,
                databar_height_px=ins.databar_height_px if ins is not None else None,
                metadata_pixel_size_m=ins.pixel_size_m if ins is not None else None,
            )
        )
    try:
        readings = read_scale_bars(inputs)
        if len(readings) != len(inputs):
            raise RuntimeError(f"read_scale_bars returned {len(readings)} readings for {len(inputs)} images")
    except Exception:  # noqa: BLE001 - isolate the image that breaks the batch
        log.warning(
            "batched scale-bar reading failed; reading the %d images one by one", len(inputs), exc_info=True
        )
        readings = []
        for (w, _image), one in zip(work, inputs, strict=True):
            try:
                readings.append(read_scale_bars([one])[0])
            except Exception as exc:  # noqa: BLE001
                reason = f"scale-bar stage failed: {type(exc).__name__}: {exc}"
                _fail(w.result, reason)
                readings.append(ScaleBarReading(reason=reason))
    for (w, _image), reading in zip(work, readings, strict=True):
        w.result.scale_bar = reading


def _thumbnails(work: list[tuple[_Work, imageio.DecodedImage]]) -> None:
    """A thumbnail per image; one that cannot be made is logged and left out (the image is fine)."""
    from .thumbnails import make_thumbnail

    for w, image in work:
        try:
            w.result.thumbnail = make_thumbnail(image.pixels8())
        except Exception:  # noqa: BLE001 - a preview is never worth losing an image for
            log.warning("no thumbnail for %s", w.result.file.path, exc_info=True)


def _content_rows(w: _Work, image: imageio.DecodedImage) -> int | None:
    """Rows above the data bar: where the scale-bar stage found it; searched only when that stage
    did not run or found no data bar."""
    geometry = w.result.scale_bar.geometry if w.result.scale_bar is not None else None
    if geometry is not None and geometry.databar_rows is not None:
        return geometry.databar_rows[0]
    from .scalebar import content_rows

    try:
        return content_rows(image.gray())
    except Exception:  # noqa: BLE001 - classify the whole frame then
        log.debug("content_rows failed for %s", w.result.file.path, exc_info=True)
        return None


def _classify(work: list[tuple[_Work, imageio.DecodedImage]], classifier: Classifier) -> None:
    images = []
    for w, image in work:
        rgb = image.rgb8()
        rows = _content_rows(w, image)
        if rows is not None and 0 < rows < rgb.shape[0]:
            rgb = rgb[:rows]  # the micrograph without its data bar
        images.append(rgb)
    outcomes: list[Any]
    try:
        outcomes = list(classifier.classify_each(images))
    except Exception as exc:  # noqa: BLE001 - classify_each reports per image; this is a model crash
        outcomes = [exc] * len(images)
    for (w, _image), outcome in zip(work, outcomes, strict=True):
        if hasattr(outcome, "top1_label"):
            w.result.classification = outcome
        else:
            reason = getattr(outcome, "reason", None) or f"{type(outcome).__name__}: {outcome}"
            w.result.inference_error = reason
            _fail(w.result, f"inference: {reason}")


def _flush(writer: ImageWriter, pending: list[ImageResult], counters: Counters) -> None:
    if not pending:
        return
    outcome = writer.write(pending)
    counters.add_seconds(Stage.DATABASE, outcome.seconds)
    counters.database_retries += outcome.retries
    for position, result in enumerate(pending):
        reason = outcome.rejected.get(position)
        if reason is not None:
            counters.rejected_by_database += 1
            _fail(result, reason)
        counters.processed += 1
        if result.status == "failed":
            counters.failed += 1
            if len(counters.failures) < FAILURE_SAMPLE:
                counters.failures[result.file.display_path] = result.error or "failed"
        if result.image_hash is not None and reason is None:
            _count_vendor(result, counters)


def _count_vendor(result: ImageResult, counters: Counters) -> None:
    vendor = result.vendor or "unknown"
    counts = counters.per_vendor.setdefault(
        vendor, {"images": 0, "with_metadata_pixel_size": 0, "with_scale_bar": 0}
    )
    counts["images"] += 1
    if result.metadata is not None and result.metadata.instrument.pixel_size_m is not None:
        counts["with_metadata_pixel_size"] += 1
    if result.scale_bar is not None and result.scale_bar.pixel_size_m is not None:
        counts["with_scale_bar"] += 1


# -- helpers ----------------------------------------------------------------------------------------
def _fail(result: ImageResult, reason: str) -> None:
    result.status = "failed"
    result.error = reason if not result.error else f"{result.error}; {reason}"


def _classifier(config: PipelineConfig) -> Classifier | None:
    if config.model is None:
        return None
    from .inference import load_classifier

    classifier = load_classifier(config.model)  # cached per process: one load per Python worker
    if config.model_id is not None and classifier.model_id != config.model_id:
        raise RuntimeError(
            f"the model on this executor ({classifier.model_id}) differs from the driver's "
            f"({config.model_id}): the model files changed during the run"
        )
    return classifier


def _quiet_logging() -> None:
    logging.getLogger("PIL").setLevel(logging.WARNING)


def with_executor_image_limit(config: PipelineConfig, spark_conf: Any) -> PipelineConfig:
    """Lower the decoded-bytes limit to what the executors' Python workers can hold.

    On Kubernetes the executors' ``memoryOverhead`` (the operator's sizing) holds one Python worker
    per core; an image bigger than that share allows is recorded as too large for the executor
    size (with the spec field to raise) instead of getting the worker killed by the kernel.
    Local runs (no executor overhead set) keep the configured limit.
    """
    from semingest_api.memory import max_image_bytes, parse_spark_memory

    overhead = spark_conf.get("spark.executor.memoryOverhead", None)
    if not overhead:
        return config
    cores = int(spark_conf.get("spark.executor.cores", "1") or 1)
    limit = max_image_bytes(parse_spark_memory(overhead), cores)
    if limit >= config.max_image_bytes:
        return config
    return replace(
        config,
        max_image_bytes=limit,
        image_limit_hint="the executors' memory per core allows this much; raise spec.executors.memoryPerCore",
    )
