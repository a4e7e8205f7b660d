"""`quantlab tune MODEL`: the demos' search on a user's model, layers or graph, and the printed
command makes the very artifact tune chose."""

from __future__ import annotations

import json
import shlex

import pytest

from tests.conftest import invoke_cli, stock_converter


def _tune(tmp_path, model, *extra):
    return invoke_cli(
        "tune", str(model), "--json", "--backend", "wasm", "--out", str(tmp_path / "reports"),
        "--models-dir", str(tmp_path / "models"), *extra,
    )  # fmt: skip


def _same_artifact(a, b):
    ja, jb = (json.loads((p / "model.json").read_text()) for p in (a, b))
    assert ja["weightsManifest"] == jb["weightsManifest"]
    for shard in a.glob("*.bin"):
        assert shard.read_bytes() == (b / shard.name).read_bytes()


def test_graph_model_tune_and_its_quantlab_command(user_models, tmp_path):
    proc = _tune(tmp_path, user_models["clf_savedmodel"], "--inputs", str(user_models["clf.npz"]),
                 "--max-drop", "0.02")  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    r = json.loads(proc.stdout)
    assert r["format"] == "graph"
    assert r["metric"] == "accuracy" and 140 <= r["holdout"]["holdout_n"] <= 160  # half of 300, stratified
    cmd = r["quantlab_command"]
    assert cmd[:3] == ["quantlab", "quantize", str(user_models["clf_savedmodel"])]
    again = invoke_cli(*cmd[1:], "--models-dir", str(tmp_path / "models"))
    assert again.returncode == 0, again.stderr[-2000:]
    root = tmp_path / "models" / "clf_savedmodel"
    _same_artifact(root / "tuned", root / "mixed")
    results = json.loads((tmp_path / "reports" / "clf_savedmodel" / "tune.json").read_text())
    assert results["verified_within_budget"] is True
    # the stock converter, from the user's SavedModel itself, makes the same bytes
    conv = r["converter_command"]
    assert conv[:5] == ["tensorflowjs_converter", "--input_format", "tf_saved_model", "--output_format",
                        "tfjs_graph_model"] and conv[5] == str(user_models["clf_savedmodel"])  # fmt: skip
    conv[6] = str(tmp_path / "by_converter")
    stock_converter(conv[1:])
    _same_artifact(root / "tuned", tmp_path / "by_converter")


def test_layers_model_tune_without_labels_uses_fidelity(user_models, tmp_path):
    proc = _tune(tmp_path, user_models["clf.h5"], "--samples", "40", "--max-drop", "0.001")
    assert proc.returncode == 0, proc.stderr[-3000:]
    r = json.loads(proc.stdout)
    assert r["metric"] == "worst_output_score" and r["float32_metric"] == pytest.approx(1.0)
    assert r["converter_command"][0] == "tensorflowjs_converter"
    assert "tensorflowjs_converter" in shlex.join(r["converter_command"])
