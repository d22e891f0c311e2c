"""Tiny image classifiers saved in the three forms the inference stage loads (test helper).

``build_tiny_model(tmp_path)`` builds a small CNN with Keras (fixed random weights from ``seed``)
and saves it as a ``.keras`` file, a SavedModel directory (``model.export``) and a frozen
GraphDef written through ``tf.compat.v1`` the way TensorFlow's image-retraining tool lays it out:
a ``DecodeJpeg`` op whose uint8 ``H x W x 3`` output is fed (one image), resized in the graph, and a softmax
``final_result`` — with the Keras model's weights as graph constants. Reused by the pipeline's
integration tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from semingest_api.spec import DEFAULT_LABELS


@dataclass(frozen=True)
class TinyModelPaths:
    keras: Path  # model.keras
    saved_model: Path  # SavedModel directory
    graphdef: Path  # frozen GraphDef .pb (only for softmax models)
    labels: Path  # labels file, one label per line
    input_size: int
    labels_list: tuple[str, ...]
    model: Any  # the in-memory Keras model (reference outputs in tests)


def build_tiny_model(
    tmp_path: Path,
    *,
    seed: int = 0,
    input_size: int = 32,
    labels: tuple[str, ...] = DEFAULT_LABELS,
    final_activation: str | None = "softmax",
    graphdef_names: tuple[str, str] = ("DecodeJpeg", "final_result"),
    graphdef_batched: bool = False,
    name: str = "tiny",
) -> TinyModelPaths:
    """Build and save the model under ``tmp_path / name``; ``final_activation=None`` gives logits
    (then no GraphDef is written: the retraining tool's graphs always end in softmax).
    ``graphdef_batched``: the GraphDef takes a float32 batch (N x H x W x 3 placeholder) instead."""
    import keras

    folder = Path(tmp_path) / name
    folder.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((input_size, input_size, 3), name="image")
    x = keras.layers.Rescaling(1.0 / 255.0)(inputs)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(x)
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(len(labels), activation=final_activation, name="scores")(x)
    model = keras.Model(inputs, outputs)
    dense = model.get_layer("scores")
    kernel, bias = dense.get_weights()
    # Spread the scores (and break the tie of an all-black image) so no top-1 label is a near tie.
    dense.set_weights([kernel * 30.0, np.linspace(0.0, 0.5, bias.shape[0], dtype=np.float32)])

    paths = TinyModelPaths(
        keras=folder / "model.keras",
        saved_model=folder / "saved_model",
        graphdef=folder / "retrained_graph.pb",
        labels=folder / "labels.txt",
        input_size=input_size,
        labels_list=tuple(labels),
        model=model,
    )
    model.save(paths.keras)
    model.export(str(paths.saved_model), format="tf_saved_model", verbose=False)
    paths.labels.write_text("".join(f"{label}\n" for label in labels), encoding="utf-8")
    if final_activation == "softmax":
        paths.graphdef.write_bytes(
            _frozen_graphdef(model, input_size, *graphdef_names, batched=graphdef_batched)
        )
    return paths


def _frozen_graphdef(
    model: Any, input_size: int, input_name: str, output_name: str, *, batched: bool
) -> bytes:
    """The Keras model rebuilt as a TensorFlow 1 graph with its weights as constants."""
    import keras
    import tensorflow as tf

    weights = {layer.name: layer.get_weights() for layer in model.layers}  # eagerly, before graph mode
    graph = tf.Graph()
    with graph.as_default():
        if batched:
            x = tf.compat.v1.placeholder(tf.float32, [None, input_size, input_size, 3], name=input_name)
        else:
            # As in retrain.py's graphs: JPEG bytes -> a DecodeJpeg op whose H x W x 3 uint8
            # output is the tensor fed with pixels (feeding overrides the op).
            contents = tf.compat.v1.placeholder(tf.string, [], name=f"{input_name}/contents")
            image = tf.io.decode_jpeg(contents, channels=3, name=input_name)
            x = tf.expand_dims(tf.cast(image, tf.float32), 0)
            x = tf.raw_ops.ResizeBilinear(images=x, size=[input_size, input_size], half_pixel_centers=True)
        for layer in model.layers:
            if isinstance(layer, keras.layers.InputLayer):
                continue
            if isinstance(layer, keras.layers.Rescaling):
                x = x * float(layer.scale) + float(layer.offset)
            elif isinstance(layer, keras.layers.Conv2D):
                kernel, bias = weights[layer.name]
                x = tf.nn.conv2d(x, tf.constant(kernel), strides=1, padding=layer.padding.upper())
                x = tf.nn.relu(tf.nn.bias_add(x, tf.constant(bias)))
            elif isinstance(layer, keras.layers.MaxPooling2D):
                x = tf.nn.max_pool2d(x, layer.pool_size, layer.strides, layer.padding.upper())
            elif isinstance(layer, keras.layers.GlobalAveragePooling2D):
                x = tf.reduce_mean(x, axis=[1, 2])
            elif isinstance(layer, keras.layers.Dense):
                kernel, bias = weights[layer.name]
                x = tf.nn.bias_add(tf.matmul(x, tf.constant(kernel)), tf.constant(bias))
            else:
                raise TypeError(f"no GraphDef translation for layer {type(layer).__name__}")
        tf.nn.softmax(x, name=output_name)
    return graph.as_graph_def().SerializeToString()
