"""`quantlab analyze` through the real CLI and the real Node evaluator, for every source format."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import invoke_cli, processes_with_env


def _analyze(tmp_path, model, *extra):
    out, models = tmp_path / "reports", tmp_path / "models"
    proc = invoke_cli(
        "analyze", str(model), "--out", str(out), "--models-dir", str(models), "--json", *extra,
        env={"QUANTLAB_TEST_MARK": str(tmp_path)},  # finds this test's processes, and only them
    )  # fmt: skip
    return proc, out, models


def node_left(tmp_path) -> list[int]:
    """Node or Chromium processes a finished CLI run left behind (they inherit its marker)."""
    return processes_with_env(f"QUANTLAB_TEST_MARK={tmp_path}")


def _results(proc) -> dict:
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


def test_keras_h5_with_labels_reproduces_keras_accuracy(user_models, tmp_path):
    from quantlab.infra.tfcompat import keras

    proc, out, models = _analyze(tmp_path, user_models["clf.h5"], "--inputs", str(user_models["clf.npz"]))
    r = _results(proc)
    assert r["task"] == "classification" and r["source"]["format"] == "keras-h5"
    assert [v["name"] for v in r["variants"]] == ["float32", "float16", "uint16", "uint8"]
    # Independent reference: Keras itself on the same data.
    data = np.load(user_models["clf.npz"])
    model = keras().models.load_model(user_models["clf.h5"], compile=False)
    keras_acc = float(np.mean(np.argmax(model.predict(data["features"], verbose=0), 1) == data["y"]))
    by = {v["name"]: v for v in r["variants"]}
    assert by["float32"]["metrics"]["accuracy"] == pytest.approx(keras_acc, abs=1 / 300)
    assert [f["rel_l2"] for f in by["float32"]["outputs"].values()] == [0.0]  # float32 vs itself
    assert 0 < list(by["uint8"]["outputs"].values())[0]["rel_l2"] < 0.1
    assert by["uint8"]["weight_bytes"] * 4 == pytest.approx(by["float32"]["weight_bytes"], rel=0.01)
    assert (out / "clf" / "results.json").is_file() and (out / "index.html").is_file()
    assert "clf" in (out / "index.html").read_text()
    # BatchNorm found in the weight error, for a model saved by the converter
    assert r["weight_error"]["uint8"]["batchnorm"], "BatchNorm layer missing from the weight error"
    assert not node_left(tmp_path)


@pytest.mark.parametrize("fmt", ["clf.keras", "clf_savedmodel"])
def test_keras_v3_and_keras_savedmodel(user_models, tmp_path, fmt):
    extra = ["--output-format", "layers"] if fmt == "clf_savedmodel" else []
    proc, _, _ = _analyze(tmp_path, user_models[fmt], "--inputs", str(user_models["clf.npz"]), *extra)
    r = _results(proc)
    assert r["variants"][0]["metrics"]["accuracy"] > 0.5


def test_tfjs_layers_model_without_labels_is_fidelity_only(user_models, tmp_path):
    first, _, models = _analyze(tmp_path, user_models["clf.h5"], "--samples", "8", "--variants", "float32")
    _results(first)
    proc, _, _ = _analyze(
        tmp_path, models / "clf" / "float32" / "model.json", "--name", "again", "--inputs",
        str(user_models["clf_x.npy"]),
    )  # fmt: skip
    r = _results(proc)
    assert r["task"] == "fidelity" and r["source"]["format"] == "tfjs-layers"
    f32 = r["variants"][0]["outputs"]
    assert list(f32.values())[0]["max_abs"] == 0.0


def test_synthetic_inputs_are_said_to_be_synthetic(user_models, tmp_path):
    proc, out, _ = _analyze(tmp_path, user_models["clf.h5"], "--samples", "16", "--input-range", "-2,2")
    r = _results(proc)
    assert r["inputs"]["kind"] == "synthetic" and r["inputs"]["n"] == 16
    assert "synthetic" in r["note"]
    assert "synthetic" in (out / "clf" / "index.html").read_text()


def test_two_inputs_two_outputs(user_models, tmp_path):
    proc, _, _ = _analyze(tmp_path, user_models["two_io.h5"], "--inputs", str(user_models["two_io.npz"]))
    r = _results(proc)
    assert r["inputs"]["names"] and len(r["inputs"]["names"]) == 2
    assert len(r["outputs"]) == 2 and len(r["variants"][0]["outputs"]) == 2


@pytest.mark.parametrize(
    "make, code, words",
    [
        (lambda p: p / "absent.h5", 4, "no such file"),
        (lambda p: (p / "m.bin").write_bytes(bytes(range(256))) and p / "m.bin", 4, "binary data"),
        (lambda p: (p / "model.json").write_text("<html><body>Not found</body></html>") and p, 4, "HTML"),
    ],
)
def test_bad_models_are_one_line(tmp_path, make, code, words):
    path = make(tmp_path)
    proc, out, models = _analyze(tmp_path, path)
    assert proc.returncode == code, proc.stderr
    assert words in proc.stderr and "Traceback" not in proc.stderr
    assert not out.exists() and not models.exists()


def test_missing_shard_and_bad_inputs(user_models, tmp_path):
    first, _, models = _analyze(tmp_path, user_models["clf.h5"], "--samples", "4", "--variants", "float32")
    _results(first)
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(models / "clf" / "float32", broken)
    next(broken.glob("*.bin")).unlink()
    proc, out, _ = _analyze(tmp_path, broken)
    assert proc.returncode == 4 and "weight shard missing" in proc.stderr
    wrong = tmp_path / "wrong.npy"
    np.save(wrong, np.zeros((3, 5), np.float32))
    proc, out, _ = _analyze(tmp_path, user_models["clf.h5"], "--inputs", str(wrong), "--name", "w")
    assert proc.returncode == 3 and "expected shape" in proc.stderr and "features" in proc.stderr
    proc3, _, _ = _analyze(tmp_path, models / "clf" / "float32", "--output-format", "graph", "--name", "g")
    assert proc3.returncode == 2 and "tfjs models keep their format" in proc3.stderr
    proc4, _, _ = _analyze(
        tmp_path, user_models["clf.h5"], "--inputs", str(tmp_path / "nope.npz"), "--name", "n"
    )
    assert proc4.returncode == 3 and "nope.npz: no such file or folder" in proc4.stderr
    # a failed run leaves no folder it made, in MODELS or in OUT
    for name in ("broken", "w", "g", "n"):
        assert not (models / name).exists() and not (out / name).exists(), name
    assert not node_left(tmp_path)


@pytest.mark.parametrize(
    "args, words",
    [
        (["--name", "../../x"], "--name"),
        (["--name", "mnist"], "reserved"),
        (["--samples", "-5"], "--samples"),
        (["--timeout", "nan"], "--timeout"),
        (["--variants", "int4"], "unknown variant"),
        (["--runtime", "node-gpu"], "--runtime"),
        (["--map", "uint8"], "--map"),
    ],
)
def test_bad_options_exit_2_before_any_work(user_models, tmp_path, args, words):
    proc, out, models = _analyze(tmp_path, user_models["clf.h5"], *args)
    assert proc.returncode == 2, proc.stderr
    assert words in proc.stderr and "Traceback" not in proc.stderr
    assert not models.exists()


def test_plain_savedmodel_becomes_a_graph_model_checked_against_tensorflow(user_models, tmp_path):
    from quantlab.infra.tfcompat import import_tensorflow

    import_tensorflow()
    import tensorflow as tf

    x = np.random.default_rng(3).normal(size=(10, 8)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    proc, _, models = _analyze(tmp_path, user_models["plain_savedmodel"], "--inputs", str(tmp_path / "x.npy"))
    r = _results(proc)
    assert r["source"]["format"] == "saved-model" and r["source"]["output_format"] == "graph"
    assert r["task"] == "fidelity" and r["variants"][0]["metrics"]["worst_output_score"] == pytest.approx(1.0)
    # The graph model, re-loaded and run again, against TensorFlow's own SavedModel outputs.
    from quantlab.runtimes import make_runtime

    expected = (
        tf.saved_model.load(str(user_models["plain_savedmodel"]))
        .signatures["serving_default"](x=tf.constant(x))["scores"]
        .numpy()
    )
    with make_runtime("node-cpu") as rt:
        loaded = rt.load(models / "plain_savedmodel" / "float32")
        assert loaded.format == "graph"
        (got,), _ = rt.predict(loaded, x)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_graph_model_folder_is_requantized_in_place_of_the_converter(user_models, clf_graph, tmp_path):
    """A tfjs graph model folder (the converter's float32 output of the SavedModel) as MODEL."""
    proc, _, models2 = _analyze(
        tmp_path, clf_graph, "--name", "graphsrc", "--inputs", str(user_models["clf.npz"])
    )  # fmt: skip
    r = _results(proc)
    assert r["source"]["format"] == "tfjs-graph" and r["task"] == "classification"
    by = {v["name"]: v for v in r["variants"]}
    assert by["uint8"]["weight_bytes"] * 4 == by["float32"]["weight_bytes"]
    assert by["float32"]["metrics"]["accuracy"] > 0.5


def test_quantize_and_evaluate_take_a_model_too(user_models, tmp_path):
    models, out = tmp_path / "models", tmp_path / "reports"
    q = invoke_cli("quantize", str(user_models["clf.h5"]), "--models-dir", str(models), "--map", "uint8=*",
                "--name", "small")  # fmt: skip
    assert q.returncode == 0, q.stderr[-2000:]
    assert "same as: tensorflowjs_converter" in q.stderr + q.stdout
    assert sorted(p.name for p in (models / "clf").iterdir() if not p.name.startswith(".")) == [
        "float32",
        "small",
    ]
    e = invoke_cli("evaluate", str(user_models["clf.h5"]), "--inputs", str(user_models["clf.npz"]),
                   "--variant", "uint8", "--models-dir", str(models), "--out", str(out))  # fmt: skip
    assert e.returncode == 0, e.stderr[-2000:]
    r = json.loads((out / "clf" / "results.json").read_text())
    assert [v["name"] for v in r["variants"]] == ["float32", "uint8"] and r["task"] == "classification"


def test_an_already_quantized_model_is_analysed_against_its_dequantized_weights_with_a_warning(
    user_models, tmp_path
):
    """A tfjs model whose weights are uint8 already: analysed, with a warning in the log and a note
    in the results that float32 means its dequantized weights; its float32 and uint8 coincide."""
    first, _, models = _analyze(tmp_path, user_models["clf.h5"], "--samples", "4", "--variants", "uint8")
    _results(first)
    proc, _, _ = _analyze(
        tmp_path, models / "clf" / "uint8", "--name", "requant", "--inputs", str(user_models["clf.npz"]),
        "--variants", "float32,uint8",
    )  # fmt: skip
    r = _results(proc)
    log = " ".join(proc.stderr.split())  # rich wraps log lines
    assert "WARNING" in log and "its weights are already quantized: uint8; float32 here means" in log, log
    assert "fields missing" not in log  # float32's SQNR against itself is +inf, not a broken field
    assert "dequantized weights" in r["note"]
    by = {v["name"]: v for v in r["variants"]}
    # re-quantizing uint8-representable weights to uint8 keeps them: the same predictions
    assert by["uint8"]["metrics"]["accuracy"] == by["float32"]["metrics"]["accuracy"]


@pytest.mark.parametrize("fmt", ["clf.keras", "clf_savedmodel"])
def test_without_labels_every_format_is_fidelity_only(user_models, tmp_path, fmt):
    """.keras (layers) and a Keras SavedModel (graph, its natural output) fed an .npy: fidelity."""
    proc, _, _ = _analyze(tmp_path, user_models[fmt], "--inputs", str(user_models["clf_x.npy"]))
    r = _results(proc)
    assert r["task"] == "fidelity" and r["inputs"]["n"] == 300
    assert r["source"]["output_format"] == ("graph" if fmt == "clf_savedmodel" else "layers")
    by = {v["name"]: v for v in r["variants"]}
    assert list(by["float32"]["outputs"].values())[0]["max_abs"] == 0.0
    assert 0 < list(by["uint8"]["outputs"].values())[0]["rel_l2"] < 0.1


def test_plain_savedmodel_with_labels_scores_what_tensorflow_predicts(user_models, tmp_path):
    """Labels made by TensorFlow itself (argmax of the SavedModel's own scores): float32 in tfjs
    gets them all right, an independent check of the whole road (converter, evaluator, task)."""
    import tensorflow as tf

    x = np.random.default_rng(5).normal(size=(64, 8)).astype(np.float32)
    scores = (
        tf.saved_model.load(str(user_models["plain_savedmodel"]))
        .signatures["serving_default"](x=tf.constant(x))["scores"]
        .numpy()
    )
    keep = np.sort(scores, axis=1)[:, -1] - np.sort(scores, axis=1)[:, -2] > 1e-3  # no near-ties
    np.savez(tmp_path / "xy.npz", x=x[keep], y=np.argmax(scores[keep], axis=1))
    proc, _, _ = _analyze(tmp_path, user_models["plain_savedmodel"], "--inputs", str(tmp_path / "xy.npz"))
    r = _results(proc)
    assert r["task"] == "classification" and r["source"]["format"] == "saved-model"
    assert {v["name"]: v for v in r["variants"]}["float32"]["metrics"]["accuracy"] == 1.0
