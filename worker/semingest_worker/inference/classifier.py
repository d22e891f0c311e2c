"""The classifier the pipeline uses: load once per process (cached), classify images in batches.

``load_classifier(config)`` sizes TensorFlow's thread pools, loads the model, reads the labels,
runs the model once on a test image (so a model that cannot run, or whose output size differs
from the label count, fails the run before any image is processed) and caches the result in the
per-process ``_CLASSIFIER_CACHE``: Spark reuses its Python workers across tasks, so each worker
loads a model once.

Scores are probabilities: a model whose final activation is softmax has its outputs stored as
they are; a model ending in logits (no activation) or log-softmax gets a softmax applied. The
decision comes from the model's graph, once, never from the values of a sample.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..records import Classification
from .activation import FinalActivation
from .config import ModelConfig, default_thread_count
from .errors import ImageConversionError, InferenceImageError, ModelLoadError
from .labels import read_labels
from .loaders import LoadedModel, load_model, model_files, model_form
from .preprocess import InputSpec, prepare_for_model
from .tf_threads import ThreadPools, configure_tensorflow_threads

_CHUNK_BYTES = 1 << 20
_DYNAMIC_PROBE_SIZE = 64  # test-image side for models that accept any size


class Classifier:
    """A loaded model with its labels. Make it with ``load_classifier``.

    ``classify_each`` reports per-image failures in place (one bad image never fails the others);
    ``classify`` is the same but raises the first failure.
    """

    def __init__(self, config: ModelConfig, model: LoadedModel, labels: tuple[str, ...], model_id: str, threads: ThreadPools):  # fmt: skip
        self.config = config
        self.model_id = model_id
        self.labels = labels
        self.threads = threads
        self._model = model

    @property
    def form(self) -> str:
        """ "keras", "saved_model" or "graphdef"."""
        return self._model.form

    @property
    def input_spec(self) -> InputSpec:
        return self._model.input_spec

    @property
    def batch_size(self) -> int:
        """Images per model call: the configured size, or 1 for a single-image GraphDef."""
        return self.config.batch_size if self._model.batches else 1

    def classify(self, images: Sequence[Any]) -> list[Classification]:
        """One Classification per image, in order; raises ``InferenceImageError`` for the first
        image that fails (use ``classify_each`` to keep the others)."""
        results = self.classify_each(images)
        for result in results:
            if isinstance(result, InferenceImageError):
                raise result
        return results  # type: ignore[return-value]

    def classify_each(self, images: Sequence[Any]) -> list[Classification | InferenceImageError]:
        """One entry per image, in order: its Classification, or an ``InferenceImageError`` with
        the reason (image not convertible, model failed on it, non-finite scores).

        Images are converted and run ``config.batch_size`` at a time. When a whole batch fails in
        the model, its images are retried one by one so only the culprit is reported.
        """
        results: list[Classification | InferenceImageError | None] = [None] * len(images)
        step = self.config.batch_size
        for start in range(0, len(images), step):
            indices: list[int] = []
            prepared: list[np.ndarray] = []
            for index in range(start, min(start + step, len(images))):
                try:
                    prepared.append(prepare_for_model(images[index], self._model.input_spec))
                    indices.append(index)
                except ImageConversionError as exc:
                    results[index] = InferenceImageError(
                        index, f"cannot convert the image for the model: {exc}"
                    )
            for index, outcome in zip(indices, self._run(indices, prepared), strict=True):
                results[index] = outcome
        return results  # type: ignore[return-value]

    def _run(
        self, indices: list[int], prepared: list[np.ndarray]
    ) -> list[Classification | InferenceImageError]:
        if not prepared:
            return []
        try:
            raw = self._model.run(prepared)
        except Exception:  # noqa: BLE001 - isolate the failing image(s) below
            if len(prepared) == 1:
                return [self._run_one(indices[0], prepared[0])]
            return [self._run_one(index, image) for index, image in zip(indices, prepared, strict=True)]
        return [self._classification(index, row) for index, row in zip(indices, raw, strict=True)]

    def _run_one(self, index: int, image: np.ndarray) -> Classification | InferenceImageError:
        try:
            raw = self._model.run([image])
        except Exception as exc:  # noqa: BLE001 - TensorFlow raises many error types
            return InferenceImageError(index, f"the model failed on this image: {type(exc).__name__}: {exc}")
        return self._classification(index, raw[0])

    def _classification(self, index: int, raw: np.ndarray) -> Classification | InferenceImageError:
        if raw.shape != (len(self.labels),):
            return InferenceImageError(
                index, f"the model gave {raw.size} scores for this image, expected {len(self.labels)}"
            )
        if not np.isfinite(raw).all():
            return InferenceImageError(
                index, "the model gave non-finite scores (NaN or infinity) for this image"
            )
        probabilities = _probabilities(raw, self._model.activation)
        top = int(np.argmax(probabilities))
        return Classification(
            model_id=self.model_id,
            top1_label=self.labels[top],
            top1_score=float(probabilities[top]),
            scores={label: float(p) for label, p in zip(self.labels, probabilities, strict=True)},
        )


def _probabilities(raw: np.ndarray, activation: FinalActivation) -> np.ndarray:
    if activation is FinalActivation.SOFTMAX:
        return raw
    shifted = raw.astype(np.float64) - float(raw.max())
    exp = np.exp(shifted)
    return exp / exp.sum()


# The named per-process cache: (config, on-disk signature of model + labels) -> Classifier.
_CLASSIFIER_CACHE: dict[tuple[ModelConfig, tuple[Any, ...]], Classifier] = {}
_CACHE_LOCK = threading.Lock()


def load_classifier(config: ModelConfig) -> Classifier:
    """The classifier for ``config``, loaded once per process (a replaced model file is reloaded).

    Raises ``ModelLoadError`` (model or labels missing, unknown format, corrupt, tensor not found,
    label count different from the model's output size, model failing on a test image).
    """
    key = (config, _disk_signature(config))
    with _CACHE_LOCK:
        cached = _CLASSIFIER_CACHE.get(key)
        if cached is not None:
            return cached
        classifier = _load(config)
        for stale in [k for k in _CLASSIFIER_CACHE if k[0] == config]:
            del _CLASSIFIER_CACHE[stale]
        _CLASSIFIER_CACHE[key] = classifier
        return classifier


def clear_classifier_cache() -> None:
    with _CACHE_LOCK:
        _CLASSIFIER_CACHE.clear()


def _load(config: ModelConfig) -> Classifier:
    path = Path(config.path)
    labels = read_labels(config.labels_path)
    model_form(path)  # a missing or unknown model fails here, before TensorFlow is imported
    # Before anything runs in TensorFlow: its pools are fixed at its first op.
    pools = configure_tensorflow_threads(config.threads or default_thread_count())
    model = load_model(
        path, input_tensor=config.input_tensor, output_tensor=config.output_tensor, pools=pools
    )
    if model.activation is FinalActivation.SIGMOID:
        raise ModelLoadError(
            f"model {path} ends in a sigmoid (independent per-class scores); a classifier into one of "
            "the categories ending in softmax or logits is expected"
        )
    outputs = _probe_output_size(model, path)
    if outputs != len(labels):
        source = (
            f"labels file {config.labels_path}" if config.labels_path else "the default SEM category list"
        )
        raise ModelLoadError(
            f"model {path} outputs {outputs} scores per image but {source} has {len(labels)} labels"
        )
    return Classifier(config, model, labels, model_digest(path, labels, config), pools)


def _probe_output_size(model: LoadedModel, path: Path) -> int:
    spec = model.input_spec
    probe = np.full((spec.height or _DYNAMIC_PROBE_SIZE, spec.width or _DYNAMIC_PROBE_SIZE, 3), 128, np.uint8)
    try:
        raw = model.run([prepare_for_model(probe, spec)])
    except Exception as exc:  # noqa: BLE001 - whatever TensorFlow raises, the model is unusable
        raise ModelLoadError(f"model {path} fails on a test image: {type(exc).__name__}: {exc}") from exc
    if raw.ndim != 2 or raw.shape[0] != 1 or raw.shape[1] < 2:
        raise ModelLoadError(
            f"model {path} gives output of shape {raw.shape[1:]} per image; expected a score vector"
        )
    return int(raw.shape[1])


def model_digest(path: Path, labels: Sequence[str], config: ModelConfig) -> str:
    """Hex SHA-256 over the model's bytes (every file of a SavedModel directory, by sorted
    relative path; a single file's name is not part of it), the labels, and any tensor names
    set in ``config`` (they select what is read from the model)."""
    digest = hashlib.sha256(b"semingest-model\0")
    single_file = path.is_file()
    for relative, file in model_files(path):
        _update_field(digest, b"" if single_file else relative.encode())
        digest.update(file.stat().st_size.to_bytes(8, "big"))
        with file.open("rb") as stream:
            while chunk := stream.read(_CHUNK_BYTES):
                digest.update(chunk)
    _update_field(digest, "\n".join(labels).encode())
    _update_field(digest, (config.input_tensor or "").encode())
    _update_field(digest, (config.output_tensor or "").encode())
    return digest.hexdigest()


def _update_field(digest: Any, data: bytes) -> None:
    digest.update(len(data).to_bytes(8, "big"))
    digest.update(data)


def _disk_signature(config: ModelConfig) -> tuple[Any, ...]:
    """Sizes and modification times of the model's files and the labels file (cheap to compute)."""
    entries: list[Any] = []
    paths = [Path(config.path)] + ([Path(config.labels_path)] if config.labels_path else [])
    for path in paths:
        try:
            for relative, file in model_files(path):
                stat = file.stat()
                entries.append((relative, stat.st_size, stat.st_mtime_ns))
        except OSError:
            entries.append((str(path), None))
    return tuple(entries)
