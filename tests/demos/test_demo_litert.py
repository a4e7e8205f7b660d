"""`quantlab evaluate DEMO --litert`: a trained demo's LiteRT variants in LiteRT.js, as rows of the
demo's results, scored with its own metric on the same test examples; full int8 calibrated on the
training data. And the MobileNetV2 demos' refusal (nothing held out to calibrate on)."""

from __future__ import annotations

import json
import shutil

from tests.conftest import invoke_cli, require_runtime

LITERT = ["litert-float32", "litert-float16", "litert-dynamic-int8", "litert-int8"]


def test_housing_litert_rows_beside_the_tfjs_ones(housing_quick, tmp_path):
    from quantlab.infra.chromium import browser_unavailable_reason
    from quantlab.runtimes.litert import litert_missing

    require_runtime(browser_unavailable_reason("wasm") or litert_missing())
    models = tmp_path / "models"
    shutil.copytree(housing_quick, models)
    out = tmp_path / "out"
    r = invoke_cli("evaluate", "housing", "--litert", "--limit", "300", "--models-dir", models, "--out", out)
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads((out / "housing" / "results.json").read_text())
    rows = {v["name"]: v for v in res["variants"]}
    assert list(rows) == ["float32", "float16", "uint16", "uint8", *LITERT]
    for name in LITERT:
        assert rows[name]["runtime"]["name"] == "browser-litert-wasm"
        assert rows[name]["runtime"]["n_examples"] == 300 and rows[name]["deltas"]["mae"]["n"] == 300
        tflite = models / "housing" / name / "model.tflite"
        assert rows[name]["weight_bytes"] == tflite.stat().st_size
        # bytes / gzipped bytes, as the tfjs rows' figure (> 1: gzip helps a float model)
        assert rows[name]["gzip_ratio"] > 1.0 and rows["float32"]["gzip_ratio"] > 1.0
    # LiteRT.js float32 and tfjs float32 compute the same model: the same MAE to float32 rounding
    assert abs(rows["litert-float32"]["metrics"]["mae"] - rows["float32"]["metrics"]["mae"]) < 1e-4
    lite = res["litert"]
    assert lite["float32_parity"]["reference"] == "keras" and lite["float32_parity"]["passed"]
    assert lite["variants"]["litert-int8"]["calibration"].startswith("100 training examples of housing")
    assert "LiteRT.js int8: " in lite["sentence"] and "tfjs uint8: " in lite["sentence"]
    assert lite["speed_note"].startswith("ms/example as measured here: tfjs in node-wasm in batches")
    assert "housing: tfjs (node-wasm) or LiteRT.js (browser-litert-wasm), mae: " in r.stdout + r.stderr


def test_mobilenet_demos_refuse_litert_before_any_work(tmp_path):
    m, o = tmp_path / "m", tmp_path / "o"
    r = invoke_cli("run", "mobilenetv2-graph", "--litert", "--models-dir", m, "--out", o)
    errors = [ln for ln in (r.stdout + r.stderr).splitlines() if ln.startswith("error:")]
    assert r.returncode == 2 and len(errors) == 1, r.stdout + r.stderr
    assert "mobilenetv2-graph scores every sample image" in errors[0] and "quantlab analyze" in errors[0]
    assert not m.exists() and not o.exists()
