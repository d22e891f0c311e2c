"""The inference stage's errors: one for the model (fails the run), one per image (recorded)."""

from __future__ import annotations


class ModelLoadError(Exception):
    """The model (or its labels file) cannot be used; the message says which file and why.

    Raised by ``load_classifier`` before any image is processed, so a run fails early and clearly.
    """


class ImageConversionError(ValueError):
    """An image cannot be turned into the model's input (degenerate shape, unsupported dtype, NaN)."""


class InferenceImageError(Exception):
    """One image could not be classified; the others in its batch are unaffected.

    ``index`` is the image's position in the list given to ``Classifier.classify_each``;
    ``reason`` is the specific, human-readable cause for the failed-image record.
    """

    def __init__(self, index: int, reason: str):
        super().__init__(f"image {index}: {reason}")
        self.index = index
        self.reason = reason
