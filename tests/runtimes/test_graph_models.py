"""Graph models (tensorflowjs_converter tf_saved_model -> tfjs_graph_model) and named multi-input,
multi-output prediction in every tfjs runtime, checked against TensorFlow's own outputs."""

from __future__ import annotations

import numpy as np
import pytest

from quantlab.errors import EvaluatorError, QuantlabError
from quantlab.infra.chromium import browser_unavailable_reason
from quantlab.tfjs.artifacts import read_artifact
from tests.conftest import require_runtime

RUNTIMES = ["node-wasm", "node-cpu", "browser-cpu"]


@pytest.fixture(scope="module", params=RUNTIMES)
def runtime(request):
    from quantlab.runtimes import make_runtime

    if request.param.startswith("browser-"):
        require_runtime(browser_unavailable_reason())
    rt = make_runtime(request.param, timeout=120)
    yield rt
    rt.close()


def _check(outputs, loaded, expected):
    assert set(loaded.output_names) == set(expected)
    assert len(outputs) == len(loaded.outputs)
    for spec, got in zip(loaded.outputs, outputs, strict=True):
        want = expected[spec["name"]]
        assert got.shape == want.shape, spec["name"]
        assert got.dtype == want.dtype, spec["name"]
        if want.dtype.kind == "f":
            np.testing.assert_allclose(got, want, atol=1e-5, rtol=0, err_msg=spec["name"])
        else:
            np.testing.assert_array_equal(got, want, err_msg=spec["name"])


def test_artifact_reads_graph_models(graph_models):
    for m in graph_models.values():
        art = read_artifact(m["dir"])
        assert art.format == "graph" and art.weights and art.weight_bytes > 0


def test_two_named_inputs_two_outputs_float_and_int(runtime, graph_models):
    m = graph_models["two_in_two_out"]
    loaded = runtime.load(m["dir"])
    assert loaded.format == "graph" and loaded.layers == []
    assert {i["name"]: (i["shape"], i["dtype"]) for i in loaded.inputs} == {
        "features": ([None, 4], "float32"),
        "ids": ([None], "int32"),
    }
    assert {o["name"]: o["dtype"] for o in loaded.outputs} == {"scores": "float32", "best": "int32"}
    # any order; int64 ids are cast to the int32 the model declares
    x = {"ids": m["inputs"]["ids"].astype("int64"), "features": m["inputs"]["features"]}
    outputs, t = runtime.predict(loaded, x, batch_size=8)  # 5 batches, the last one short
    _check(outputs, loaded, m["expected"])
    assert t.examples == len(m["inputs"]["ids"])
    runtime.unload(loaded)


def test_keras_made_saved_model(runtime, graph_models):
    m = graph_models["keras_two_in_two_out"]
    loaded = runtime.load(m["dir"])
    assert loaded.format == "graph"
    assert sorted(loaded.input_names) == ["a", "b"]
    outputs, _ = runtime.predict(loaded, m["inputs"], batch_size=16)
    _check(outputs, loaded, m["expected"])
    runtime.unload(loaded)


def test_control_flow_graph_needs_execute_async(runtime, graph_models):
    m = graph_models["control_flow"]
    loaded = runtime.load(m["dir"])
    x = m["inputs"]["x"]
    outputs, _ = runtime.predict(loaded, x, batch_size=10)  # one bare array: the single input
    _check(outputs, loaded, m["expected"])
    if hasattr(runtime, "execute_async"):
        assert runtime.execute_async[loaded.handle] is True
    runtime.unload(loaded)


def test_graph_input_errors_name_the_input(runtime, graph_models):
    m = graph_models["two_in_two_out"]
    loaded = runtime.load(m["dir"])
    x = m["inputs"]
    msg = r"INPUT_SHAPE: input features shape \[37,5\] does not match the model's features shape \[null,4\]"
    with pytest.raises(EvaluatorError, match=msg):
        runtime.predict(loaded, {"features": np.zeros((37, 5), np.float32), "ids": x["ids"]})
    with pytest.raises(EvaluatorError, match=r"BAD_REQUEST: missing input\(s\) ids; unknown input\(s\) idz"):
        runtime.predict(loaded, {"features": x["features"], "idz": x["ids"]})
    with pytest.raises(QuantlabError, match="pass {name: array}"):
        runtime.predict(loaded, x["features"])
    # intermediate nodes by name: the graph's own node names
    node = next(o["node"] for o in loaded.outputs if o["name"] == "scores").split(":")[0]
    (scores,), _ = runtime.predict(loaded, x, layers=[node])
    np.testing.assert_allclose(scores, m["expected"]["scores"], atol=1e-5)
    with pytest.raises(EvaluatorError, match="BAD_REQUEST"):
        runtime.predict(loaded, x, layers=["no_such_node"])
    runtime.unload(loaded)
