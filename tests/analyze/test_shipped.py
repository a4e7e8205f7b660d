"""Models as shipped (issue 21): a NAME.json + NAME.bin graph with a fixed batch, a -Inf constant
and two outputs of different kinds, one of which uint8 collapses; its bad-input cases; tune's
objective on it; and real shipped models from $QUANTLAB_ZOO through one `analyze` command."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import invoke_cli
from tests.fixtures import shipped_graph


def _run(tmp_path, *args):
    out, models = tmp_path / "reports", tmp_path / "models"
    proc = invoke_cli(*args, "--out", str(out), "--models-dir", str(models))
    return proc, out, models


def _one_line(proc) -> str:
    err = proc.stderr.strip()
    assert "Traceback" not in err
    return err.splitlines()[-1]


@pytest.fixture
def shipped(tmp_path) -> Path:
    return shipped_graph.write(tmp_path / "pkg")


def test_shipped_graph_as_given(shipped, tmp_path):
    from tensorflowjs.quantization import dequantize_weights, quantize_weights

    proc, out, models = _run(tmp_path, "analyze", str(shipped), "--json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    r = json.loads(proc.stdout)
    assert r["demo"] == "shipped"  # the manifest's stem names it
    assert r["inputs"]["batch"] == {"fixed": 3, "size": 3, "padded": 2}  # 64 = 21 * 3 + 1
    assert r["output_kinds"] == {"score": "small", "embedding": "embedding"}
    assert list(r["source"]["kept_float32"]["constants"]) == ["floor"]
    manifest = json.loads((models / "shipped" / "uint8" / "model.json").read_text())
    entries = {w["name"]: w for g in manifest["weightsManifest"] for w in g["weights"]}
    assert "quantization" not in entries["floor"] and entries["w_embed"]["quantization"]["dtype"] == "uint8"
    by = {v["name"]: v for v in r["variants"]}
    # float32 against itself: every output perfect, headline score 1.
    assert by["float32"]["headline"]["score"] == 1.0
    # uint8: every small weight of w_embed rounds to 0 (module docstring): the embedding of every
    # example is 0, cosine 0, and it is the headline although the one-value score is fine.
    u8 = by["uint8"]
    assert u8["worst_output"] == "embedding" and u8["headline"]["value"] == 0.0
    assert u8["outputs"]["embedding"]["loss"] is True and u8["metrics"]["worst_output_score"] == 0.0
    # The score's relative error, recomputed with the converter's own uint8 round trip in numpy.
    w = shipped_graph.weights()
    q, meta = quantize_weights(w["w_score"], np.uint8)
    w8 = dict(w, w_score=dequantize_weights(q, meta, np.float32))
    x = np.random.default_rng(1337).uniform(0.0, 1.0, (64, 4)).astype(np.float32)
    ref, got = shipped_graph.expected(x, w)["score"], shipped_graph.expected(x, w8)["score"]
    score = u8["outputs"]["score"]  # a sigmoid: a small output in [0, 1], judged in its own units
    assert score["kind"] == "small" and score["metric"] == "abs_error" and "cosine_mean" not in score
    assert score["abs_error"] == pytest.approx(np.mean(np.abs(got - ref)), rel=0.02)
    page = (out / "shipped" / "index.html").read_text()
    assert "embedding" in page and "floor" in json.dumps(r["source"])


def test_nan_in_a_kernel_stops_unless_allowed(tmp_path):
    bad = shipped_graph.write(tmp_path / "pkg", "broken", nan_kernel=True)
    proc, out, models = _run(tmp_path, "analyze", str(bad))
    assert proc.returncode == 4
    line = _one_line(proc)
    assert "w_score" in line and "--allow-nonfinite" in line and "floor" not in line
    assert not (models / "broken").exists() and not (out / "broken").exists()
    proc, _, models = _run(tmp_path, "analyze", str(bad), "--allow-nonfinite", "--json", "--samples", "6")
    assert proc.returncode == 0, proc.stderr[-3000:]
    r = json.loads(proc.stdout)
    assert r["source"]["kept_float32"]["nonfinite_weights"] == {"w_score": 1}
    u8 = {v["name"]: v for v in r["variants"]}["uint8"]
    assert u8["outputs"]["score"]["nonfinite"] > 0  # NaN in, NaN out: flagged, never a pass


def test_bad_shipped_inputs_are_one_line(shipped, tmp_path):
    # Two manifests in one folder: both named, nothing made.
    shutil.copy(shipped, shipped.with_name("other.json"))
    proc, out, models = _run(tmp_path, "analyze", str(shipped.parent))
    assert proc.returncode == 4 and "other.json" in _one_line(proc) and "shipped.json" in _one_line(proc)
    assert not models.exists() and not out.exists()
    # A JSON file that is not a manifest.
    (tmp_path / "config.json").write_text('{"name": "not a model"}')
    proc, *_ = _run(tmp_path, "analyze", str(tmp_path / "config.json"))
    assert proc.returncode == 4 and "modelTopology" in _one_line(proc)
    # A shard missing (the manifest names shipped.bin; it was renamed).
    lone = tmp_path / "lone"
    lone.mkdir()
    shutil.copy(shipped, lone / "shipped.json")
    shutil.copy(shipped.with_suffix(".bin"), lone / "weights.bin")
    proc, out, models = _run(tmp_path, "analyze", str(lone / "shipped.json"))
    assert proc.returncode == 4 and "shipped.bin" in _one_line(proc) and "missing" in _one_line(proc)
    assert not (models / "shipped").exists()


def test_output_and_input_shape_names_are_checked(shipped, tmp_path):
    proc, out, models = _run(tmp_path, "analyze", str(shipped), "--output", "nope")
    assert proc.returncode == 2
    assert "--output nope" in _one_line(proc) and "score, embedding" in _one_line(proc)
    assert not (models / "shipped").exists() and not (out / "shipped").exists()
    proc, *_ = _run(tmp_path, "analyze", str(shipped), "--input-shape", "y:3,4")
    assert proc.returncode == 2 and "--input-shape y" in _one_line(proc) and "x" in _one_line(proc)


def test_output_picks_what_counts(shipped, tmp_path):
    proc, *_ = _run(tmp_path, "analyze", str(shipped), "--output", "score", "--json", "--samples", "9")
    assert proc.returncode == 0, proc.stderr[-3000:]
    r = json.loads(proc.stdout)
    u8 = {v["name"]: v for v in r["variants"]}["uint8"]
    assert r["counted_outputs"] == ["score"] and u8["worst_output"] == "score"
    assert u8["outputs"]["embedding"]["counted"] is False and u8["outputs"]["embedding"]["value"] == 0.0


def test_tune_never_answers_a_collapsed_output(shipped, tmp_path):
    proc, _, models = _run(tmp_path, "tune", str(shipped), "--max-drop", "0.01", "--json", "--samples", "48")
    assert proc.returncode == 0, proc.stderr[-3000:]
    r = json.loads(proc.stdout)
    assert r["metric"] == "worst_output_score"
    dtype_map = r["verified"]["dtype_map"]
    # w_embed must not stay uint8 (its embedding collapses there): promoted to a 2-byte dtype.
    promoted = [p for dtype in ("float16", "uint16") for p in dtype_map.get(dtype, [])]
    uint8 = dtype_map.get("uint8")
    assert "w_embed" in promoted and not (isinstance(uint8, list) and "w_embed" in uint8), dtype_map
    assert r["verified"]["metric"] >= 1.0 - 0.01 - 1e-9


# -- real shipped models ---------------------------------------------------------------------------
ZOO_MODELS = ("blazeface", "faceboxes", "handtrack", "faceres", "facemesh-attention")


@pytest.fixture(scope="module")
def zoo() -> Path:
    value = os.environ.get("QUANTLAB_ZOO")
    if not value:
        if os.environ.get("CI"):
            pytest.fail("set QUANTLAB_ZOO to the shipped-model folder (CI uses ../shared/zoo)")
        pytest.skip("QUANTLAB_ZOO not set")
    return Path(value)


def test_zoo_models_as_shipped_in_one_command(zoo, tmp_path):
    from quantlab.report.browser_check import check_report

    paths = [str(zoo / f"{m}.json") for m in ZOO_MODELS]
    args = ("--samples", "4", "--variants", "float32,uint8", "--json")
    proc, out, _ = _run(tmp_path, "analyze", *paths, *args)
    assert proc.returncode == 0, proc.stderr[-4000:]
    by = {r["demo"]: r for r in json.loads(proc.stdout)}
    assert set(by) == set(ZOO_MODELS)
    assert by["blazeface"]["inputs"]["batch"]["fixed"] == 1 and len(by["blazeface"]["outputs"]) == 4
    consts = by["faceboxes"]["source"]["kept_float32"]["constants"]
    assert any(n.endswith("score_threshold") for n in consts)
    assert by["handtrack"]["inputs"]["ranges"] == {"input_tensor:0": [0, 255]}  # uint8 pixels
    assert by["facemesh-attention"]["config"]["runtime_fallback"]["op"] == "BatchMatMul"
    fr = {v["name"]: v for v in by["faceres"]["variants"]}
    assert fr["uint8"]["worst_output"] == "global_pooling/Mean"  # the embedding, not the sigmoid
    assert fr["uint8"]["outputs"]["gender_pred/Sigmoid:0"]["kind"] == "small"
    for r in by.values():
        assert all(len(v["outputs"]) == len(r["outputs"]) for v in r["variants"])
    page = (out / "overview.html").read_text()
    assert all(m in page for m in ZOO_MODELS) and "faceres" in page
    found = check_report(out, tmp_path / "shots")
    assert found["ok"], found


def test_many_models_one_failing_the_others_go_on(shipped, tmp_path):
    (tmp_path / "config.json").write_text('{"name": "not a model"}')
    proc, out, models = _run(
        tmp_path, "analyze", str(tmp_path / "config.json"), str(shipped), "--samples", "6"
    )
    assert proc.returncode == 4, proc.stderr[-3000:]  # the first failure's code, after the others ran
    assert "Traceback" not in proc.stderr and "config.json" in proc.stdout + proc.stderr
    assert (out / "shipped" / "results.json").is_file() and (models / "shipped" / "uint8").is_dir()
    page = (out / "overview.html").read_text()
    assert "config" in page and "modelTopology" in page and "shipped/index.html" in page
    assert not (out / "config").exists() and not (models / "config").exists()
