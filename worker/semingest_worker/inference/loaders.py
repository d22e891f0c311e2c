"""One loader per model form: Keras ``.keras`` file, SavedModel directory, frozen GraphDef ``.pb``.

Each loader returns a ``LoadedModel``: what input one call takes (``input_spec``), the activation
of its output (read from the graph), and ``run(images) -> scores`` over prepared images. Every
failure to load raises ``ModelLoadError`` naming the file and the cause. TensorFlow is imported
here, lazily, so importing the package costs nothing on the driver.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from .activation import FinalActivation, final_activation
from .errors import ModelLoadError
from .preprocess import InputSpec
from .tf_threads import ThreadPools

KERAS = "keras"
SAVED_MODEL = "saved_model"
GRAPHDEF = "graphdef"

DEFAULT_GRAPHDEF_INPUT = "DecodeJpeg:0"
DEFAULT_GRAPHDEF_OUTPUT = "final_result:0"
_SAVED_MODEL_FILES = ("saved_model.pb", "saved_model.pbtxt")
_VARIABLE_OPS = frozenset({"VariableV2", "Variable", "VarHandleOp"})
_IMAGE_INPUT_OPS = frozenset(
    {"Placeholder", "PlaceholderWithDefault", "DecodeJpeg", "DecodePng", "DecodeImage"}
)


class LoadedModel(Protocol):
    form: str
    input_spec: InputSpec
    activation: FinalActivation
    batches: bool  # False: the model takes one image per call (``run`` loops)

    def run(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Raw outputs, shape (len(images), classes), float32, for images made by prepare_for_model."""
        ...


def model_form(path: Path) -> str:
    """Which form ``path`` is, from what it is on disk; ``ModelLoadError`` when none fits."""
    if not path.exists():
        raise ModelLoadError(f"model {path} does not exist")
    if path.is_dir():
        if any((path / name).is_file() for name in _SAVED_MODEL_FILES):
            return SAVED_MODEL
        raise ModelLoadError(f"model directory {path} is not a SavedModel: it has no saved_model.pb")
    if path.suffix == ".keras":
        return KERAS
    if path.suffix == ".pb":
        return GRAPHDEF
    raise ModelLoadError(
        f"unknown model format for {path}: expected a Keras .keras file, a SavedModel directory "
        "(holding saved_model.pb) or a frozen GraphDef .pb file"
    )


def model_files(path: Path) -> list[tuple[str, Path]]:
    """The files making up the model, as (name relative to the model, path), in sorted order."""
    if path.is_dir():
        return sorted((p.relative_to(path).as_posix(), p) for p in path.rglob("*") if p.is_file())
    return [(path.name, path)]


def load_model(
    path: Path, *, input_tensor: str | None, output_tensor: str | None, pools: ThreadPools
) -> LoadedModel:
    form = model_form(path)
    if form == KERAS:
        if input_tensor or output_tensor:
            raise ModelLoadError(
                f"model {path}: input/output tensor names apply to SavedModel and GraphDef models, "
                "a Keras file's single input and output are always used"
            )
        return KerasModel.load(path)
    if form == SAVED_MODEL:
        return SavedModelModel.load(path, input_key=input_tensor, output_key=output_tensor)
    return GraphDefModel.load(
        path,
        input_name=input_tensor or DEFAULT_GRAPHDEF_INPUT,
        output_name=output_tensor or DEFAULT_GRAPHDEF_OUTPUT,
        pools=pools,
    )


class KerasModel:
    form = KERAS
    batches = True

    def __init__(self, model: Any, function: Any, input_spec: InputSpec, activation: FinalActivation):
        self._model = model  # keeps the variables alive for the traced function
        self._function = function
        self.input_spec = input_spec
        self.activation = activation

    @classmethod
    def load(cls, path: Path) -> KerasModel:
        import keras
        import tensorflow as tf

        try:
            model = keras.saving.load_model(str(path), compile=False)
        except Exception as exc:  # noqa: BLE001 - Keras raises many types for bad files
            raise ModelLoadError(f"cannot load Keras model {path}: {type(exc).__name__}: {exc}") from exc
        if len(model.inputs) != 1 or len(model.outputs) != 1:
            raise ModelLoadError(
                f"Keras model {path} has {len(model.inputs)} inputs and {len(model.outputs)} outputs; "
                "an image classifier with one image input and one score output is expected"
            )
        spec = _image_input_spec(
            tuple(model.inputs[0].shape), str(model.inputs[0].dtype), f"Keras model {path}"
        )
        signature = tf.TensorSpec((None, spec.height, spec.width, spec.channels), spec.dtype)
        function = tf.function(lambda x: model(x, training=False), input_signature=[signature])
        concrete = function.get_concrete_function()
        activation = final_activation(concrete.graph.as_graph_def(), concrete.outputs[0].name)
        return cls(model, concrete, spec, activation)

    def run(self, images: Sequence[np.ndarray]) -> np.ndarray:
        return _run_stacked(images, lambda batch: self._function(batch).numpy())


class SavedModelModel:
    form = SAVED_MODEL
    batches = True

    def __init__(self, loaded: Any, signature: Any, input_key: str, output_key: str, input_spec: InputSpec, activation: FinalActivation):  # fmt: skip
        self._loaded = loaded  # keeps the variables alive for the signature function
        self._signature = signature
        self._input_key = input_key
        self._output_key = output_key
        self.input_spec = input_spec
        self.activation = activation

    @classmethod
    def load(cls, path: Path, *, input_key: str | None, output_key: str | None) -> SavedModelModel:
        import tensorflow as tf

        try:
            loaded = tf.saved_model.load(str(path))
        except Exception as exc:  # noqa: BLE001 - TensorFlow raises many types for bad SavedModels
            raise ModelLoadError(f"cannot load SavedModel {path}: {type(exc).__name__}: {exc}") from exc
        signatures = dict(getattr(loaded, "signatures", {}) or {})
        if "serving_default" in signatures:
            signature = signatures["serving_default"]
        elif len(signatures) == 1:
            signature = next(iter(signatures.values()))
        else:
            raise ModelLoadError(
                f"SavedModel {path} has no 'serving_default' signature "
                f"(signatures: {', '.join(sorted(signatures)) or 'none'})"
            )
        inputs: dict[str, Any] = dict(signature.structured_input_signature[1])
        outputs: dict[str, Any] = dict(signature.structured_outputs)
        in_key = _pick_key(inputs, input_key, f"SavedModel {path}", "input")
        out_key = _pick_key(outputs, output_key, f"SavedModel {path}", "output")
        in_spec = inputs[in_key]
        spec = _image_input_spec(
            tuple(in_spec.shape), in_spec.dtype.name, f"SavedModel {path} input '{in_key}'"
        )
        output_names = dict(zip(tf.nest.flatten({k: k for k in outputs}), signature.outputs, strict=True))
        activation = final_activation(signature.graph.as_graph_def(), output_names[out_key].name)
        return cls(loaded, signature, in_key, out_key, spec, activation)

    def run(self, images: Sequence[np.ndarray]) -> np.ndarray:
        import tensorflow as tf

        def call(batch: np.ndarray) -> np.ndarray:
            return self._signature(**{self._input_key: tf.constant(batch)})[self._output_key].numpy()

        return _run_stacked(images, call)


class GraphDefModel:
    """A frozen TensorFlow 1 graph, e.g. from TensorFlow's image-retraining tool (retrain.py).

    Such a graph's ``DecodeJpeg:0`` input is ONE ``H x W x 3`` uint8 image (the graph resizes and
    normalises it itself), so each image is one ``Session.run`` on one reused session: the batch
    size does not apply. A graph whose input tensor has rank 4 (a batch dimension) runs batched.
    """

    form = GRAPHDEF

    def __init__(self, session: Any, input_tensor: Any, output_tensor: Any, input_spec: InputSpec, batches: bool, activation: FinalActivation):  # fmt: skip
        self._session = session
        self._input = input_tensor
        self._output = output_tensor
        self.input_spec = input_spec
        self.batches = batches
        self.activation = activation

    @classmethod
    def load(cls, path: Path, *, input_name: str, output_name: str, pools: ThreadPools) -> GraphDefModel:
        import tensorflow as tf
        from google.protobuf.message import DecodeError

        graph_def = tf.compat.v1.GraphDef()
        try:
            graph_def.ParseFromString(path.read_bytes())
        except (DecodeError, RuntimeWarning, ValueError) as exc:
            raise ModelLoadError(f"model {path} is not a frozen TensorFlow GraphDef: {exc}") from exc
        except OSError as exc:
            raise ModelLoadError(f"cannot read model {path}: {exc}") from exc
        if not graph_def.node:
            raise ModelLoadError(f"model {path} is not a frozen TensorFlow GraphDef: it has no graph nodes")
        variables = [n.name for n in graph_def.node if n.op in _VARIABLE_OPS]
        if variables:
            raise ModelLoadError(
                f"GraphDef {path} is not frozen: it holds variables ({', '.join(variables[:3])}...); "
                "freeze it (variables converted to constants) first"
            )
        graph = tf.Graph()
        try:
            with graph.as_default():
                tf.import_graph_def(graph_def, name="")
        except Exception as exc:  # noqa: BLE001 - import errors come as ValueError, TypeError, ...
            raise ModelLoadError(f"GraphDef {path} cannot be imported: {type(exc).__name__}: {exc}") from exc
        input_tensor = _graph_tensor(graph, graph_def, input_name, path, "input")
        output_tensor = _graph_tensor(graph, graph_def, output_name, path, "output")
        shape = input_tensor.shape
        rank = shape.rank
        if rank not in (None, 3, 4):
            raise ModelLoadError(
                f"GraphDef {path}: input tensor '{input_tensor.name}' has rank {rank}; "
                "expected an H x W x C image (or a batch of them)"
            )
        dims = [None, None, None] if rank is None else list(shape)[-3:]
        channels = dims[2] if dims[2] is not None else 3
        if channels not in (1, 3):
            raise ModelLoadError(
                f"GraphDef {path}: input tensor '{input_tensor.name}' takes {channels} channels"
            )
        spec = InputSpec(
            height=dims[0], width=dims[1], channels=channels, dtype=input_tensor.dtype.as_numpy_dtype.__name__
        )
        config = tf.compat.v1.ConfigProto(
            intra_op_parallelism_threads=pools.intra_op, inter_op_parallelism_threads=pools.inter_op
        )
        session = tf.compat.v1.Session(graph=graph, config=config)
        activation = final_activation(graph_def, output_tensor.name)
        return cls(session, input_tensor, output_tensor, spec, rank == 4, activation)

    def run(self, images: Sequence[np.ndarray]) -> np.ndarray:
        if self.batches:
            return _run_stacked(images, lambda batch: self._session.run(self._output, {self._input: batch}))
        rows = [
            np.asarray(self._session.run(self._output, {self._input: image})).reshape(-1) for image in images
        ]
        return np.stack(rows).astype(np.float32, copy=False)


def _run_stacked(images: Sequence[np.ndarray], call: Any) -> np.ndarray:
    """``call`` on the images stacked into batches of equal shape (models without a fixed size may
    get several), results in the images' order."""
    by_shape: dict[tuple[int, ...], list[int]] = {}
    for index, image in enumerate(images):
        by_shape.setdefault(image.shape, []).append(index)
    rows: list[np.ndarray | None] = [None] * len(images)
    for indices in by_shape.values():
        out = np.asarray(call(np.stack([images[i] for i in indices])))
        out = out.reshape(len(indices), -1)
        for position, index in enumerate(indices):
            rows[index] = out[position]
    return np.stack(rows).astype(np.float32, copy=False)  # type: ignore[arg-type]


def _image_input_spec(shape: tuple[Any, ...], dtype: str, what: str) -> InputSpec:
    if len(shape) != 4:
        raise ModelLoadError(
            f"{what} takes input of shape {shape}; expected (batch, height, width, channels)"
        )
    _, height, width, channels = shape
    if channels not in (1, 3):
        raise ModelLoadError(
            f"{what} takes {channels}-channel images; only 1 (grey) or 3 (RGB) are supported"
        )
    if dtype not in ("float16", "bfloat16", "float32", "float64", "uint8", "int32"):
        raise ModelLoadError(f"{what} takes {dtype} input; expected float or uint8 pixels")
    if dtype == "bfloat16":
        raise ModelLoadError(
            f"{what} takes bfloat16 input, which numpy cannot produce; export it with float32 input"
        )
    return InputSpec(
        height=int(height) if height is not None else None,
        width=int(width) if width is not None else None,
        channels=int(channels),
        dtype=dtype,
    )


def _pick_key(entries: dict[str, Any], wanted: str | None, what: str, kind: str) -> str:
    if wanted is not None:
        if wanted not in entries:
            raise ModelLoadError(
                f"{what} has no {kind} '{wanted}' (it has: {', '.join(sorted(entries)) or 'none'})"
            )
        return wanted
    if len(entries) != 1:
        raise ModelLoadError(
            f"{what} has {len(entries)} {kind}s ({', '.join(sorted(entries))}); name the one to use "
            f"with the {kind} tensor setting"
        )
    return next(iter(entries))


def _graph_tensor(graph: Any, graph_def: Any, name: str, path: Path, kind: str) -> Any:
    tensor_name = name if ":" in name else f"{name}:0"
    try:
        return graph.get_tensor_by_name(tensor_name)
    except (KeyError, ValueError):
        candidates = [n.name for n in graph_def.node if n.op in _IMAGE_INPUT_OPS][:10]
        hint = f"; its possible inputs: {', '.join(candidates)}" if candidates and kind == "input" else ""
        raise ModelLoadError(
            f"GraphDef {path} has no {kind} tensor '{tensor_name}'{hint} (set the {kind} tensor name)"
        ) from None
