"""The tfjs-made (JavaScript) fixtures, layers and graph, through the real `analyze`, `evaluate`
and `quantize` CLIs, with labels taken from the outputs tfjs itself saved beside them; and
`--format` on every command that takes a MODEL."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.analyze.test_analyze_cli import _analyze, _results, node_left
from tests.conftest import invoke_cli
from tests.runtimes.test_js_fixtures import FIXTURES, _fixture


def _npz_with_tfjs_labels(name: str, path) -> np.ndarray:
    """The fixture's inputs under the model's input names, and labels from tfjs' own first output
    (argmax for class scores, the values for a regression head)."""
    _, _, inputs, expected = _fixture(name)
    y = expected[0].argmax(1) if expected[0].shape[1] > 1 else expected[0]
    np.savez(path, **inputs, y=y)
    return y


@pytest.mark.parametrize(
    ("name", "fmt", "task"),
    [
        ("seq_batchnorm", "tfjs-layers", "classification"),
        ("two_in_two_out", "tfjs-layers", "regression"),
        ("graph_conv", "tfjs-graph", "classification"),
    ],
)
def test_js_made_models_score_tfjs_own_outputs_exactly(name, fmt, task, tmp_path):
    npz = tmp_path / "data.npz"
    _npz_with_tfjs_labels(name, npz)
    proc, out, models = _analyze(tmp_path, FIXTURES / name, "--inputs", str(npz))
    r = _results(proc)
    assert r["source"]["format"] == fmt and r["task"] == task
    assert [v["name"] for v in r["variants"]] == ["float32", "float16", "uint16", "uint8"]
    f32 = r["variants"][0]["metrics"]
    if task == "classification":  # tfjs' own argmax, read back by node-wasm
        assert f32["accuracy"] == 1.0
    else:  # tfjs' own values (cpu backend) against node-wasm's: float32 rounding apart
        assert f32["mae"] < 1e-5
    uint8 = r["variants"][-1]
    assert 0 < next(iter(uint8["outputs"].values()))["rel_l2"] < 0.2
    assert (models / name / "uint8" / "model.json").is_file() and (out / name / "index.html").is_file()
    assert not node_left(tmp_path)


def test_a_format_that_is_not_the_content_is_refused(tmp_path):
    """--format tfjs-layers on the graph fixture: refused (exit 4, one line naming the model and
    what its content is), before any folder is made; the right format works through `evaluate`."""
    out, models, npz = tmp_path / "reports", tmp_path / "models", tmp_path / "data.npz"
    _npz_with_tfjs_labels("graph_conv", npz)
    common = ["--inputs", str(npz), "--out", str(out), "--models-dir", str(models), "--variant", "float32"]
    bad = invoke_cli("evaluate", str(FIXTURES / "graph_conv"), "--format", "tfjs-layers", *common)
    assert bad.returncode == 4, bad.stderr[-2000:]
    lines = bad.stderr.strip().splitlines()
    assert lines == [
        f"error: {FIXTURES / 'graph_conv'}: --format tfjs-layers, but its content is a "
        "tfjs-graph model; leave --format out, or point MODEL at a model of that format"
    ]
    assert not out.exists() and not models.exists()
    good = invoke_cli("evaluate", str(FIXTURES / "graph_conv"), "--format", "tfjs-graph", *common)
    assert good.returncode == 0, good.stderr[-2000:]
    record = json.loads((out / "graph_conv" / "results.json").read_text())
    assert record["source"]["format"] == "tfjs-graph" and record["variants"][0]["metrics"]["accuracy"] == 1.0


def test_evaluate_model_takes_the_synthetic_input_options(tmp_path):
    """evaluate MODEL is analyze MODEL: seeded synthetic inputs of the asked size, said so."""
    out = tmp_path / "reports"
    args = [
        "evaluate",
        str(FIXTURES / "graph_conv"),
        "--samples",
        "5",
        "--seed",
        "4",
        "--input-range",
        "-1,1",
    ]
    proc = invoke_cli(*args, "--task", "fidelity", "--out", str(out), "--models-dir", str(tmp_path / "m"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    r = json.loads((out / "graph_conv" / "results.json").read_text())
    assert r["inputs"]["kind"] == "synthetic" and r["inputs"]["n"] == 5 and r["task"] == "fidelity"
    assert r["inputs"]["seed"] == 4 and r["inputs"]["range"] == [-1, 1]


@pytest.mark.parametrize("command", ["quantize", "tune"])
def test_quantize_and_tune_refuse_a_format_that_is_not_the_content(command, tmp_path):
    """--format reaches quantize's and tune's detection: exit 4 before any folder is made."""
    models, out = tmp_path / "models", tmp_path / "out"
    extra = ["--max-drop", "0.05", "--out", str(out)] if command == "tune" else []
    model = FIXTURES / "graph_conv"
    proc = invoke_cli(command, str(model), "--format", "tfjs-layers", "--models-dir", str(models), *extra)
    assert proc.returncode == 4, proc.stderr[-2000:]
    assert "--format tfjs-layers, but its content is a tfjs-graph model" in proc.stderr
    assert not models.exists() and not out.exists()


def test_quantize_model_takes_format(tmp_path):
    models = tmp_path / "models"
    proc = invoke_cli(
        "quantize", str(FIXTURES / "graph_conv"), "--format", "tfjs-graph", "--models-dir", str(models)
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    spec = json.loads((models / "graph_conv" / "uint8" / "model.json").read_text())
    dtypes = {
        w["name"]: w.get("quantization", {}).get("dtype")
        for g in spec["weightsManifest"]
        for w in g["weights"]
    }
    assert dtypes["conv/kernel"] == "uint8" and dtypes["pool/axes"] is None  # int32 stays int32
