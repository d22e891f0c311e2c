"""What the model's final activation is, read from its graph (never guessed from sample values).

Works on a ``GraphDef`` (a frozen graph, or the graph of a traced Keras call / SavedModel
signature): from the output tensor it walks back through value-preserving ops (Identity, Cast,
Reshape, ...) and into called functions (``StatefulPartitionedCall``) until it reaches the op that
computed the values.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

# Ops that pass their first input's values through unchanged (or only change shape / dtype).
_PASSTHROUGH_OPS = frozenset(
    {
        "Identity",
        "IdentityN",
        "StopGradient",
        "Snapshot",
        "Cast",
        "Reshape",
        "Squeeze",
        "ExpandDims",
        "EnsureShape",
    }
)
_CALL_OPS = frozenset({"StatefulPartitionedCall", "PartitionedCall"})
_MAX_STEPS = 10_000


class FinalActivation(Enum):
    SOFTMAX = "softmax"  # outputs are probabilities already: stored as they are
    LOG_SOFTMAX = "log_softmax"  # softmax of them gives the probabilities
    SIGMOID = "sigmoid"  # independent per-class probabilities: not one category's scores
    NONE = "none"  # logits: softmax gives the probabilities


def final_activation(graph_def: Any, tensor_name: str) -> FinalActivation:
    """The activation producing ``tensor_name`` ("node:index" or "node") in ``graph_def``."""
    functions = {f.signature.name: f for f in graph_def.library.function}
    nodes = {n.name: n for n in graph_def.node}
    node_name, index = _split_graph_ref(tensor_name)
    scope: tuple[dict[str, Any], Any] = (nodes, None)  # (nodes by name, FunctionDef or None)
    for _ in range(_MAX_STEPS):
        nodes, function = scope
        node = nodes.get(node_name)
        if node is None:
            return FinalActivation.NONE  # a function argument or an unknown input: no activation seen
        if node.op == "Softmax":
            return FinalActivation.SOFTMAX
        if node.op == "LogSoftmax":
            return FinalActivation.LOG_SOFTMAX
        if node.op == "Sigmoid":
            return FinalActivation.SIGMOID
        if node.op in _CALL_OPS:
            called = functions.get(node.attr["f"].func.name)
            if called is None or index >= len(called.signature.output_arg):
                return FinalActivation.NONE
            ret = called.ret[called.signature.output_arg[index].name]
            scope = ({n.name: n for n in called.node_def}, called)
            node_name, index = _split_function_ref(ret)
            continue
        if node.op in _PASSTHROUGH_OPS:
            data_inputs = [i for i in node.input if not i.startswith("^")]
            if not data_inputs:
                return FinalActivation.NONE
            source = (
                data_inputs[index] if node.op == "IdentityN" and index < len(data_inputs) else data_inputs[0]
            )
            node_name, index = (
                _split_function_ref(source) if function is not None else _split_graph_ref(source)
            )
            continue
        return FinalActivation.NONE
    return FinalActivation.NONE


def _split_graph_ref(ref: str) -> tuple[str, int]:
    """``"node:1"`` -> ("node", 1); ``"node"`` -> ("node", 0) (GraphDef input syntax)."""
    name, _, index = ref.partition(":")
    return name, int(index) if index.isdigit() else 0


def _split_function_ref(ref: str) -> tuple[str, int]:
    """``"node:output_name:1"`` -> ("node", 1) (FunctionDef input syntax); an argument -> (arg, 0)."""
    parts = ref.split(":")
    if len(parts) == 3 and parts[2].isdigit():
        return parts[0], int(parts[2])
    return parts[0], 0
