"""Layers found in topologies saved by Python's converter and by tfjs itself."""

from __future__ import annotations

from quantlab.tfjs.artifacts import topology_layers

BN = {"class_name": "BatchNormalization", "config": {"name": "bn", "epsilon": 0.01}}
DENSE = {"class_name": "Dense", "config": {"name": "d"}}


def test_python_converter_wraps_in_model_config():
    mj = {"modelTopology": {"model_config": {"class_name": "Sequential", "config": {"layers": [DENSE, BN]}}}}
    assert [la["config"]["name"] for la in topology_layers(mj)] == ["d", "bn"]


def test_tfjs_save_has_no_wrapper_and_nested_models_are_walked():
    inner = {"class_name": "Sequential", "config": {"name": "inner", "layers": [BN]}}
    mj = {"modelTopology": {"class_name": "Model", "config": {"layers": [DENSE, inner]}}}
    assert [la["config"]["name"] for la in topology_layers(mj)] == ["d", "bn"]


def test_graph_models_and_junk_have_no_layers():
    assert topology_layers({"modelTopology": {"node": [], "library": {}}}) == []
    assert topology_layers({"modelTopology": "x"}) == []
    assert topology_layers({"modelTopology": {"config": {"layers": ["junk", {"config": 3}]}}}) == []
