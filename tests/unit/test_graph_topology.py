"""Which constants a tfjs model.json's topology reads as kernels, on hand-made topologies (and, when
$QUANTLAB_ZOO names the shipped-model folder, on the real graph models there)."""

import json
import os
from pathlib import Path

import pytest

from quantlab.tfjs.graph_topology import (
    KERNEL_OPS,
    const_consumers,
    depthwise_weights,
    is_graph,
    kernel_weights,
)


def _const(name):
    return {"name": name, "op": "Const", "attr": {"dtype": {"type": "DT_FLOAT"}}}


# x -> Conv2D(conv/filter) -> BiasAdd(conv/bias) -> Prelu(prelu/alpha) -> MatMul(dense/w)
#   -> MatMul(dense2/w as input 0) -> Conv2DBackpropInput(deconv/input_sizes, deconv/filter)
#   -> DepthwiseConv2dNative(unknown_1) -> Identity with a control input on ctrl_only;
# plus a library function whose body holds its own Const, read as "name:output:0".
GRAPH = {
    "format": "graph-model",
    "modelTopology": {
        "node": [
            {"name": "x", "op": "Placeholder"},
            _const("conv/filter"),
            _const("conv/bias"),
            _const("prelu/alpha"),
            _const("dense/w"),
            _const("dense2/w"),
            _const("deconv/input_sizes"),
            _const("deconv/filter"),
            _const("unknown_1"),
            _const("ctrl_only"),
            {"name": "conv", "op": "Conv2D", "input": ["x", "conv/filter"]},
            {"name": "bias_add", "op": "BiasAdd", "input": ["conv:0", "conv/bias"]},
            {"name": "prelu", "op": "Prelu", "input": ["bias_add", "prelu/alpha"]},
            {"name": "dense", "op": "MatMul", "input": ["prelu", "dense/w:0"]},
            {"name": "dense2", "op": "MatMul", "input": ["dense2/w", "dense"]},
            {
                "name": "deconv",
                "op": "Conv2DBackpropInput",
                "input": ["deconv/input_sizes", "deconv/filter", "dense2"],
            },
            {"name": "dw", "op": "DepthwiseConv2dNative", "input": ["deconv", "unknown_1"]},
            {"name": "out", "op": "Identity", "input": ["dw", "^ctrl_only", "^conv/filter"]},
        ],
        "library": {
            "function": [
                {
                    "signature": {"name": "body_fn", "inputArg": [{"name": "arg"}]},
                    "nodeDef": [
                        _const("body_fn/w"),
                        {"name": "c", "op": "Conv2D", "input": ["arg", "body_fn/w:output:0"]},
                        {"name": "r", "op": "Relu", "input": ["c:output:0", "^body_fn/w"]},
                    ],
                }
            ]
        },
    },
    "weightsManifest": [],
}


def test_const_consumers_by_hand():
    assert const_consumers(GRAPH) == {
        "conv/filter": [("Conv2D", 1)],  # its "^conv/filter" control input does not count
        "conv/bias": [("BiasAdd", 1)],
        "prelu/alpha": [("Prelu", 1)],
        "dense/w": [("MatMul", 1)],
        "dense2/w": [("MatMul", 0)],
        "deconv/input_sizes": [("Conv2DBackpropInput", 0)],
        "deconv/filter": [("Conv2DBackpropInput", 1)],
        "unknown_1": [("DepthwiseConv2dNative", 1)],
        "ctrl_only": [],
        "body_fn/w": [("Conv2D", 1)],
    }


def test_kernel_weights_by_hand():
    assert kernel_weights(GRAPH) == {
        "conv/filter",
        "dense/w",
        "dense2/w",
        "deconv/filter",
        "unknown_1",
        "body_fn/w",
    }
    assert depthwise_weights(GRAPH) == {"unknown_1"}
    assert {"Conv2D", "_FusedConv2D", "FusedDepthwiseConv2dNative", "_FusedMatMul"} <= KERNEL_OPS


def test_a_function_body_reads_only_its_own_nodes():
    # a body node named like a main-graph Const is not that Const
    g = {
        "modelTopology": {
            "node": [_const("w")],
            "library": {"function": [{"nodeDef": [{"name": "k", "op": "MatMul", "input": ["a", "w"]}]}]},
        }
    }
    assert const_consumers(g) == {"w": []} and kernel_weights(g) == set()


def test_layers_model_kernels_by_name():
    names = [
        "conv/kernel",
        "conv/bias",
        "bn/gamma",
        "bn/beta",
        "bn/moving_mean",
        "bn/moving_variance",
        "p_re_lu/alpha",
        "sep/depthwise_kernel",
        "sep/pointwise_kernel",
        "emb/embeddings",
        "lstm/recurrent_kernel",
        "kernel_size_not_a_variable",
    ]
    model = {
        "format": "layers-model",
        "modelTopology": {"class_name": "Sequential", "config": {"layers": []}},
        "weightsManifest": [{"paths": ["a.bin"], "weights": [{"name": n} for n in names]}],
    }
    assert not is_graph(model)
    assert kernel_weights(model) == {
        "conv/kernel",
        "sep/depthwise_kernel",
        "sep/pointwise_kernel",
        "emb/embeddings",
        "lstm/recurrent_kernel",
    }
    assert depthwise_weights(model) == {"sep/depthwise_kernel"}


def test_is_graph():
    assert is_graph({"format": "graph-model", "modelTopology": {}})
    assert is_graph({"modelTopology": {"node": []}})
    assert is_graph({"modelTopology": {"library": {}}})
    assert not is_graph({"modelTopology": {"model_config": {}}})
    assert not is_graph({})


ZOO = os.environ.get("QUANTLAB_ZOO")


@pytest.mark.skipif(not ZOO or not Path(ZOO).is_dir(), reason="set QUANTLAB_ZOO to the shipped-model folder")
def test_zoo_kernels_are_kernels():
    paths = sorted(Path(ZOO).glob("*.json"))
    assert paths, f"no model.json manifests in {ZOO}"
    for path in paths:
        model = json.loads(path.read_text())
        manifest = {w["name"] for g in model["weightsManifest"] for w in g["weights"]}
        kernels = kernel_weights(model)
        assert is_graph(model), path.name
        assert kernels, path.name
        assert kernels <= manifest, path.name
        assert not [k for k in kernels if k.endswith("alpha")], path.name
        assert depthwise_weights(model) <= kernels, path.name
