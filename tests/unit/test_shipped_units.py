"""Fast checks of what shipped models need (no TensorFlow, no Node): manifests under any name,
missing-op messages, constants versus weights, natural input ranges, verdicts."""

from __future__ import annotations

import json

import numpy as np
import pytest

from quantlab.errors import ArtifactError, QuantlabError


def _manifest(path, shard="w.bin"):
    path.write_text(json.dumps({"format": "graph-model", "modelTopology": {"node": []},
                                "weightsManifest": [{"paths": [shard], "weights": []}]}))  # fmt: skip
    return path


def test_a_folder_with_one_manifest_under_any_name(tmp_path):
    from quantlab.sources import detect, folder_manifest

    m = _manifest(tmp_path / "faceres.json")
    (tmp_path / "notes.json").write_text('{"not": "a model"}')
    assert folder_manifest(tmp_path) == m
    src = detect(tmp_path)
    assert src.format == "tfjs-graph" and src.model_json == m and src.path == tmp_path
    assert detect(m).model_json == m  # the file itself


def test_model_json_wins_and_two_manifests_are_listed(tmp_path):
    from quantlab.sources import folder_manifest

    _manifest(tmp_path / "a.json")
    _manifest(tmp_path / "b.json")
    with pytest.raises(ArtifactError, match=r"2 tfjs manifests \(a\.json, b\.json\)"):
        folder_manifest(tmp_path)
    _manifest(tmp_path / "model.json")
    assert folder_manifest(tmp_path).name == "model.json"


def test_a_shard_is_read_beside_its_manifest(tmp_path):
    from quantlab.tfjs.artifacts import read_artifact

    path = tmp_path / "pkg" / "m.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"format": "graph-model", "modelTopology": {"node": []},
        "weightsManifest": [{"paths": ["m.bin"], "weights": [{"name": "w", "shape": [2], "dtype": "float32"}]}]}))  # fmt: skip  # noqa: E501
    with pytest.raises(ArtifactError, match=r"m\.bin: weight shard missing"):
        read_artifact(path)
    (path.parent / "m.bin").write_bytes(np.zeros(2, "<f4").tobytes())
    art = read_artifact(path)
    assert art.manifest_path == path and art.model_json_bytes == path.stat().st_size


@pytest.mark.parametrize(
    "message, op",
    [
        ("BatchMatMul for non non-float32 tensors not yet supported.", "BatchMatMul"),
        ("Kernel 'Atan2' not registered for backend 'wasm'", "Atan2"),
        ("model.execute failed: 'DenseBincount' is not yet implemented", "DenseBincount"),
        ("The shape of dict['x'] must be [1,2], but was [3,2]", None),
    ],
)
def test_missing_op_is_read_from_tfjs_messages(message, op):
    from quantlab.runtimes.op_support import missing_op

    assert missing_op(message) == op


def test_a_runtime_is_proposed_only_when_it_ran_the_model():
    from quantlab.errors import EvaluatorError
    from quantlab.runtimes.op_support import missing_op_error

    tried = []

    def runs_on(name):
        tried.append(name)
        if name == "node-tensorflow":
            raise EvaluatorError("tfjs-node is not built")
        return name == "node-cpu"

    err = missing_op_error(
        EvaluatorError("Kernel 'Erf' not registered"), "m/model.json", "node-wasm", runs_on
    )
    assert err.op == "Erf" and err.alternative == "node-cpu" and "--runtime node-cpu" in str(err)
    assert tried == ["node-tensorflow", "node-cpu"]
    none = missing_op_error(EvaluatorError("Kernel 'Erf' not registered"), "m", "node-wasm", lambda n: False)
    assert none.alternative is None and "no other tfjs Node runtime" in str(none)
    assert missing_op_error(EvaluatorError("timeout"), "m", "node-wasm", runs_on) is None


def _graph(*nodes):
    return {"format": "graph-model", "modelTopology": {"node": [{"name": n, "op": op, "input": list(i)}
                                                                  for n, op, *i in nodes]}}  # fmt: skip


def test_nonfinite_constants_are_told_from_weights():
    from quantlab.tfjs.constants import split_nonfinite

    g = _graph(("x", "Placeholder"), ("k", "Const"), ("thr", "Const"), ("b", "Const"),
               ("conv", "Conv2D", "x", "k"), ("add", "BiasAdd", "conv", "b"),
               ("nms", "NonMaxSuppressionV3", "add", "add", "thr"))  # fmt: skip
    arrays = [("k", np.array([[np.nan, 1.0]], np.float32)), ("thr", np.array(-np.inf, np.float32)),
              ("b", np.array([np.inf, 0], np.float32)), ("ok", np.ones(3, np.float32))]  # fmt: skip
    constants, weights = split_nonfinite(g, arrays)
    assert list(constants) == ["thr"] and constants["thr"]["values"] == ["-inf"]
    assert constants["thr"]["read_by"] == ["NonMaxSuppressionV3"]
    assert weights == {"k": 1, "b": 1}  # a kernel and a bias: learned, so they stop a run
    # A layers model has only learned weights.
    layers = {"format": "layers-model", "modelTopology": {"class_name": "Sequential"}}
    assert split_nonfinite(layers, arrays) == ({}, {"k": 1, "thr": 1, "b": 1})


def test_natural_ranges_and_defaulted_image_sides():
    from quantlab.input_spec import InputOptions, InputSpec
    from quantlab.synthetic_inputs import DEFAULT_IMAGE_SIDE, natural_range, synthetic_dims

    img = InputSpec("image", [None, None, None, 3], "int32")
    assert natural_range(img, None) == (0, 255)
    assert natural_range(InputSpec("ids", [None, 16], "int32"), None) == (0, 10)
    assert natural_range(InputSpec("x", [None, 4]), None) == (0.0, 1.0)
    assert natural_range(img, (-1.0, 1.0)) == (-1.0, 1.0)
    assert synthetic_dims(img, InputOptions()) == ([DEFAULT_IMAGE_SIDE, DEFAULT_IMAGE_SIDE, 3], True)
    assert synthetic_dims(img, InputOptions(input_shapes={"image": [1, 64, 32, 3]})) == ([64, 32, 3], False)
    with pytest.raises(QuantlabError, match="--input-shape seq:N,N"):
        synthetic_dims(InputSpec("seq", [None, None]), InputOptions())


def test_an_unknown_input_shape_name_is_refused():
    from quantlab.input_spec import InputOptions, InputSpec
    from quantlab.synthetic_inputs import check_shape_names

    specs = [InputSpec("input_1:0", [1, 4])]
    check_shape_names(specs, InputOptions(input_shapes={"input_1": [1, 4]}))  # the name without :0
    with pytest.raises(QuantlabError, match="--input-shape nope: .*input_1:0") as e:
        check_shape_names(specs, InputOptions(input_shapes={"nope": [1, 4]}))
    assert e.value.exit_code == 2


def test_padding_to_a_fixed_batch_repeats_the_last_example():
    from quantlab.analysis.evaluate import pad_to

    x = np.arange(8, dtype=np.float32).reshape(4, 2)
    p = pad_to(x, 3)
    assert p.shape == (6, 2) and p[4:].tolist() == [[6, 7], [6, 7]]
    assert pad_to(x, 2) is x
    named = pad_to({"a": x, "b": x[:, :1]}, 3)
    assert named["a"].shape == (6, 2) and named["b"].shape == (6, 1)


def test_verdicts_name_the_worst_output():
    from quantlab.cli.analyze_many import status, verdict

    def v(name, score, loss=False, output="emb", value=None):
        worst = {"output": output, "kind": "embedding", "metric": "cosine_mean", "value": value or score,
                 "score": score, "interval": None}  # fmt: skip
        return {"name": name, "weight_bytes": 4 if name == "float32" else 1, "worst": worst, "loss": loss,
                "nonfinite": 0}  # fmt: skip

    assert status(v("uint8", 0.31, True)) == "breaks" and status(v("uint8", 0.995, True)) == "loses"
    assert status(v("uint8", 0.9999)) == "safe"
    said = verdict("m.json", [v("float32", 1.0), v("uint8", 0.31, True)])
    assert said.startswith("uint8 breaks output emb (cosine 0.3100)") and "quantlab tune m.json" in said
    assert verdict("m.json", [v("float32", 1.0), v("uint8", 0.9999)]).startswith("uint8 safe")


def test_layer_patterns_never_take_a_nested_layers_weights():
    from quantlab.analysis.sweep import dtype_map_for, layer_patterns

    layers = {
        "StatefulPartitionedCall": ["StatefulPartitionedCall/Const"],
        "StatefulPartitionedCall/conv": ["StatefulPartitionedCall/conv/w", "StatefulPartitionedCall/conv/b"],
        "w_score": ["w_score"],
        "dense": ["dense/kernel", "dense/bias"],
    }
    every = [n for names in layers.values() for n in names]
    # "StatefulPartitionedCall/*" would also match conv's weights: exact names instead.
    assert layer_patterns("StatefulPartitionedCall", layers["StatefulPartitionedCall"], every) == [
        "StatefulPartitionedCall/Const"
    ]
    assert layer_patterns("dense", layers["dense"], every) == ["dense/*"]  # what a user would type
    assert layer_patterns("w_score", ["w_score"], every) == ["w_score"]  # a top-level weight
    assert layer_patterns("x", ["x[0]"], every) == ["x[[]0]"]  # escaped for fnmatch
    m = dtype_map_for({"StatefulPartitionedCall": "float16", "dense": "uint8"}, layers)
    assert m == {"float16": ["StatefulPartitionedCall/Const"], "uint8": True}


def test_a_missing_kernel_elsewhere_says_what_to_do():
    """tune, parity or equalize on a model the runtime cannot run: the CLI's one line keeps tfjs'
    words and adds the op and the command that finds a runtime that runs it (not a guess)."""
    from quantlab.cli.guard import _said
    from quantlab.errors import DataError, EvaluatorError
    from quantlab.runtimes.op_support import MissingOp

    raw = EvaluatorError("PREDICT_FAILED: BatchMatMul for non non-float32 tensors not yet supported.")
    said = _said(raw)
    assert said.startswith(str(raw)) and "no kernel for op BatchMatMul" in said
    assert "`quantlab analyze MODEL` finds a runtime" in said
    checked = MissingOp(
        "m/model.json: node-wasm has no kernel for op Erf; node-cpu runs it", "Erf", "node-wasm", "x"
    )
    assert _said(checked) == str(checked)  # analyze's own, checked message: unchanged
    assert _said(DataError("Erf is not supported in --inputs")) == "Erf is not supported in --inputs"
