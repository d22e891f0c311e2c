"""Stage 3: classify each image into the SEM categories with a site-provided TensorFlow model.

    classifier = load_classifier(ModelConfig(path="model.keras", labels_path="labels.txt"))
    for outcome in classifier.classify_each(images):   # Classification or InferenceImageError
        ...

Models: a Keras ``.keras`` file, a SavedModel directory, or a frozen GraphDef ``.pb`` (input
``DecodeJpeg:0``, output ``final_result:0`` by default, one image per run). Importing this package
does not import TensorFlow; ``load_classifier`` does.
"""

from .classifier import Classifier, clear_classifier_cache, load_classifier, model_digest
from .config import ModelConfig, default_thread_count
from .errors import ImageConversionError, InferenceImageError, ModelLoadError
from .labels import read_labels
from .preprocess import InputSpec, prepare_for_model, to_rgb_uint8

__all__ = [
    "Classifier",
    "ImageConversionError",
    "InferenceImageError",
    "InputSpec",
    "ModelConfig",
    "ModelLoadError",
    "clear_classifier_cache",
    "default_thread_count",
    "load_classifier",
    "model_digest",
    "prepare_for_model",
    "read_labels",
    "to_rgb_uint8",
]
