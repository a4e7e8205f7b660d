"""tfjs-made (JavaScript) layers and graph models from tests/fixtures/js/make_js_fixtures.mjs: Python reads
them, and node-wasm / node-cpu reproduce the outputs tfjs saved with them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from quantlab.runtimes.node import TfjsNodeRuntime
from quantlab.tfjs.artifacts import read_artifact

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "js"
NAMES = ["seq_batchnorm", "two_in_two_out", "graph_conv"]
FORMAT = {"graph_conv": "graph"}


def _fixture(name: str):
    folder = FIXTURES / name
    spec = json.loads((folder / "fixture.json").read_text())

    def read(entry):
        return np.fromfile(folder / entry["file"], "<f4").reshape(entry["shape"])

    return folder, spec, {i["name"]: read(i) for i in spec["inputs"]}, [read(o) for o in spec["outputs"]]


@pytest.mark.parametrize("name", NAMES)
def test_python_reads_the_js_made_artifacts(name):
    folder, spec, _, _ = _fixture(name)
    first_line = (folder / "model.json").read_text().splitlines()[0]
    assert "make_js_fixtures.mjs" in first_line
    art = read_artifact(folder)
    assert art.format == FORMAT.get(name, "layers") and [p.name for p in art.shard_paths] == [
        "group1-shard1of1.bin"
    ]
    if name == "seq_batchnorm":  # the moving statistics really are non-trivial
        values = dict(zip([w.name for w in art.weights], _weights(art), strict=True))
        np.testing.assert_allclose(values["bn/moving_mean"], [0.25, -0.5, 1.0, 0.125])
        np.testing.assert_allclose(values["bn/moving_variance"], [0.5, 2.0, 0.25, 4.0])
    if name == "graph_conv":  # the int32 Const is a weight, as in converted graphs
        assert {w.name: w.dtype for w in art.weights}["pool/axes"] == "int32"


def _weights(art):
    data = art.shard_paths[0].read_bytes()
    out, offset = [], 0
    for w in art.weights:  # float32 and int32: 4 bytes each
        size = int(np.prod(w.shape))
        out.append(
            np.frombuffer(data, f"<{'i' if w.dtype == 'int32' else 'f'}4", size, offset).reshape(w.shape)
        )
        offset += 4 * size
    return out


@pytest.fixture(scope="module", params=["wasm", "cpu"])
def node(request):
    rt = TfjsNodeRuntime(request.param, timeout=120)
    yield rt
    rt.close()


@pytest.mark.parametrize("name", NAMES)
def test_node_reproduces_the_tfjs_reference(node, name):
    folder, spec, inputs, expected = _fixture(name)
    loaded = node.load(folder)
    assert loaded.format == FORMAT.get(name, "layers")
    assert loaded.input_names == [i["name"] for i in spec["inputs"]]
    assert loaded.output_names == [o["name"] for o in spec["outputs"]]
    x = inputs if len(inputs) > 1 else next(iter(inputs.values()))  # dict, or one bare array
    outputs, t = node.predict(loaded, x, batch_size=3)  # several batches
    node.unload(loaded)
    assert t.examples == len(next(iter(inputs.values())))
    for got, want in zip(outputs, expected, strict=True):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)


def test_layer_outputs_of_a_multi_input_model(node):
    folder, _, inputs, expected = _fixture("two_in_two_out")
    loaded = node.load(folder)
    (cls, hidden), _ = node.predict(loaded, inputs, layers=["cls", "hidden"])
    node.unload(loaded)
    np.testing.assert_allclose(cls, expected[1], atol=1e-5, rtol=0)
    assert hidden.shape == (7, 6) and np.abs(hidden).max() <= 1.0  # tanh
