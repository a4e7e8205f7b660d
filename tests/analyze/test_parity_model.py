"""`quantlab parity MODEL` for a user's model, through the real CLI: Keras, SavedModel, bare tfjs
and multi-input/multi-output sources, each against its own reference."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from tests.conftest import invoke_cli, processes_with_env, require_runtime

FAST = ("-r", "node-wasm", "-r", "node-cpu")


def _parity(tmp_path, model, *extra, models=None):
    out, models = tmp_path / "reports", models or tmp_path / "models"
    proc = invoke_cli(
        "parity", str(model), "--out", str(out), "--models-dir", str(models), "--json", *extra,
        env={"QUANTLAB_TEST_MARK": str(tmp_path)},  # finds this test's processes, and only them
    )  # fmt: skip
    return proc, out, models


def _record(proc, code: int = 0) -> dict:
    assert proc.returncode == code, proc.stderr[-2000:]
    return json.loads(proc.stdout)


def _rows(record, kind, runtime=None):
    rows = [p for p in record["pairs"] if p["kind"] == kind]
    return [p for p in rows if runtime is None or p["actual"].startswith(runtime + " ")]


@pytest.fixture(scope="module")
def analyzed(user_models, tmp_path_factory):
    """clf.h5 through `quantlab analyze` (float32 and uint8 only), as a user would first run it."""
    root = tmp_path_factory.mktemp("analyzed")
    proc = invoke_cli("analyze", str(user_models["clf.h5"]), "--inputs", str(user_models["clf.npz"]),
                   "--variants", "float32,uint8", "--out", str(root / "reports"),
                   "--models-dir", str(root / "models"))  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    return root


def _copy(analyzed, tmp_path):
    shutil.copytree(analyzed / "reports", tmp_path / "reports")
    shutil.copytree(analyzed / "models", tmp_path / "models")


def test_keras_h5_against_keras_reuses_analyze_artifacts(user_models, analyzed, tmp_path):
    _copy(analyzed, tmp_path)
    f32 = tmp_path / "models" / "clf" / "float32" / "group1-shard1of1.bin"
    before = f32.stat().st_mtime_ns
    npz = str(user_models["clf.npz"])
    proc, out, models = _parity(tmp_path, user_models["clf.h5"], "--inputs", npz, *FAST)
    r = _record(proc)
    assert r["reference"] == "keras" and r["model"] == "clf" and r["artifact_format"] == "layers"
    assert r["passed"] and r["n_examples"] == 300 and r["outputs"] == ["probs"]
    assert f32.stat().st_mtime_ns == before, "float32 written by analyze must be reused, not rewritten"
    assert (models / "clf" / "float16" / "model.json").is_file()  # missing variants are converted
    quant = {p["variant"]: p for p in _rows(r, "quantization")}
    assert list(quant) == ["float32", "float16", "uint16", "uint8"]
    assert all(p["reference"] == "keras original" for p in quant.values())
    assert quant["float32"]["stats"]["max_abs"] == 0 and quant["float32"]["passed"]
    assert quant["uint8"]["stats"]["max_abs"] > quant["uint16"]["stats"]["max_abs"] > 0
    for name in ("node-wasm", "node-cpu"):
        rows = {p["variant"]: p for p in _rows(r, "runtime", name)}
        assert rows["float32"]["reference"] == "keras original"
        assert rows["uint8"]["reference"] == "keras uint8"
        assert all(p["passed"] and p["stats"]["max_abs"] < 1e-5 for p in rows.values())
    # stored once, in parity.json; results.json keeps analyze's rows; the page joins the two
    assert json.loads((out / "clf" / "parity.json").read_text())["reference"] == "keras"
    results = json.loads((out / "clf" / "results.json").read_text())
    assert "parity" not in results and results["variants"]
    page = (out / "clf" / "index.html").read_text()
    assert "Parity: Keras vs tfjs runtimes" in page and "Reference: <b>keras</b>" in page
    assert not processes_with_env(f"QUANTLAB_TEST_MARK={tmp_path}")  # no Node or Chromium left


def test_corrupted_float32_artifact_fails_with_exit_6_and_names_the_layer(user_models, analyzed, tmp_path):
    from tests.helpers import corrupt_weight

    _copy(analyzed, tmp_path)
    corrupt_weight(tmp_path / "models" / "clf" / "float32", "hidden/kernel", delta=4.0)
    proc, out, _ = _parity(tmp_path, user_models["clf.h5"], "--inputs", str(user_models["clf.npz"]),
                           "-r", "node-wasm", "--variant", "float32", "--variant", "uint8")  # fmt: skip
    r = _record(proc, 6)
    assert not r["passed"] and r["n_failed"] == 2
    (runtime32,) = [p for p in _rows(r, "runtime", "node-wasm") if p["variant"] == "float32"]
    assert runtime32["passed"] is False and runtime32["first_bad_layer"]["layer"] == "hidden"
    (quant32,) = [p for p in _rows(r, "quantization") if p["variant"] == "float32"]
    assert quant32["passed"] is False and quant32["first_bad_layer"]["layer"] == "hidden"
    assert [p["passed"] for p in _rows(r, "runtime", "node-wasm") if p["variant"] == "uint8"] == [True]
    assert json.loads((out / "clf" / "parity.json").read_text())["passed"] is False


def test_plain_savedmodel_against_tensorflow(user_models, tmp_path):
    from quantlab.infra.tfcompat import import_tensorflow
    from quantlab.runtimes.node import TfjsNodeRuntime

    x = np.random.default_rng(5).normal(size=(40, 8)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    sm = user_models["plain_savedmodel"]
    proc, _, models = _parity(tmp_path, sm, "--inputs", str(tmp_path / "x.npy"), *FAST)
    r = _record(proc)
    assert r["reference"] == "tensorflow-savedmodel" and r["artifact_format"] == "graph"
    assert r["source"]["format"] == "saved-model" and r["outputs"] == ["scores"]
    assert "not localised" in r["localisation"]
    for p in _rows(r, "runtime"):
        want = "tensorflow original" if p["variant"] == "float32" else f"node-cpu {p['variant']}"
        assert p["reference"] == want and p["passed"] and p["stats"]["max_abs"] < 1e-5
    assert all(p["reference"] == "tensorflow original" for p in _rows(r, "quantization"))
    # Independently: TensorFlow's own signature output and tfjs on the float32 artifact agree.
    import_tensorflow()
    import tensorflow as tf

    expected = (
        tf.saved_model.load(str(user_models["plain_savedmodel"]))
        .signatures["serving_default"](x=tf.constant(x))["scores"]
        .numpy()
    )
    with TfjsNodeRuntime("wasm") as rt:
        loaded = rt.load(models / "plain_savedmodel" / "float32")
        (actual,), _ = rt.predict(loaded, x)
    assert expected.shape == (40, 3) and np.abs(actual - expected).max() < 1e-5


def test_bare_tfjs_layers_folder_against_node_cpu_float32(user_models, analyzed, tmp_path):
    web = tmp_path / "web_model"
    shutil.copytree(analyzed / "models" / "clf" / "float32", web)
    proc, _, models = _parity(tmp_path, web, "--inputs", str(user_models["clf_x.npy"]), "-r", "node-wasm")
    r = _record(proc)
    assert r["reference"] == "node-cpu float32" and r["model"] == "web_model"
    assert r["source"]["format"] == "tfjs-layers"
    assert (models / "web_model" / "uint8" / "model.json").is_file()
    rows = {p["variant"]: p for p in _rows(r, "runtime", "node-wasm")}
    assert rows["float32"]["reference"] == "node-cpu original"
    assert rows["uint8"]["reference"] == "node-cpu uint8"
    assert all(p["passed"] and p["stats"]["max_abs"] < 1e-5 for p in rows.values())
    quant = {p["variant"]: p for p in _rows(r, "quantization")}
    assert quant["float32"]["stats"]["max_abs"] == 0 and quant["uint8"]["stats"]["max_abs"] > 0
    assert r["runtimes"]["node-wasm"]["backend"] == "wasm"


def test_two_inputs_two_outputs_compares_every_output(user_models, tmp_path):
    npz = str(user_models["two_io.npz"])
    proc, _, _ = _parity(tmp_path, user_models["two_io.h5"], "--inputs", npz, *FAST)
    r = _record(proc)
    assert r["reference"] == "keras" and r["outputs"] == ["out1", "out2"]
    assert r["inputs"]["names"] == ["a", "b"]
    for p in r["pairs"]:
        assert set(p["outputs"]) == {"out1", "out2"}
        assert "top1_agreement" not in p["stats"]  # not meaningful across outputs
        if p["kind"] == "runtime":
            assert p["passed"] and all(o["passed"] for o in p["outputs"].values())
    (u8,) = [p for p in _rows(r, "quantization") if p["variant"] == "uint8"]
    assert u8["outputs"]["out2"]["max_abs"] > 0


def test_synthetic_inputs_and_browser(user_models, tmp_path):
    from quantlab.infra.chromium import browser_unavailable_reason

    require_runtime(browser_unavailable_reason())
    proc, _, _ = _parity(tmp_path, user_models["clf.h5"], "--samples", "16", "--input-range", "-2,2",
                         "-r", "browser-cpu", "--variant", "float32", "--variant", "uint8")  # fmt: skip
    r = _record(proc)
    assert r["inputs"]["kind"] == "synthetic" and r["n_examples"] == 16
    assert r["unavailable"] == {} and len(_rows(r, "runtime", "browser-cpu")) == 2
    assert r["runtimes"]["browser-cpu"]["blocked_requests"] == []


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["no/such/model.h5"], 4, "no such file or folder"),
        (["mnsit"], 4, "mnsit: neither a demo (housing, mnist"),
        (["{clf}", "--inputs", "{two_npz}"], 3, "no array for input features"),
        (["{clf}", "--samples", "0"], 2, "--samples 0: must be a positive number"),
        (["{clf}", "-r", "node-nope"], 2, "unknown runtime 'node-nope'"),
        (["{clf}", "--variant", "../x"], 2, "--variant '../x'"),
    ],
)
def test_bad_input_is_one_line_with_analyze_exit_codes(user_models, tmp_path, args, code, says):
    subst = {"clf": str(user_models["clf.h5"]), "two_npz": str(user_models["two_io.npz"])}
    proc, _, _ = _parity(tmp_path, *[a.format(**subst) for a in args])
    assert proc.returncode == code, proc.stderr[-2000:]
    assert says in proc.stderr and "Traceback" not in proc.stderr
