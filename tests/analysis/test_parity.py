"""Parity: runtimes agree with Keras on every variant; a corrupted weight is caught and located."""

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from quantlab.analysis.parity import run_parity, unavailable_reason
from quantlab.convert.converter import VARIANTS
from quantlab.infra.tfcompat import keras
from tests.helpers import corrupt_weight

IN_CI = os.environ.get("CI") == "true"


@pytest.fixture(scope="module")
def setup(small_convnet_dir):
    original = keras().models.load_model(small_convnet_dir / "keras.h5")
    x = np.load(small_convnet_dir / "x.npy")
    return {v: small_convnet_dir / v for v in VARIANTS}, original, x


def _runtime_pairs(record, name):
    return [p for p in record["pairs"] if p["kind"] == "runtime" and p["actual"].startswith(name + " ")]


def test_node_wasm_and_cpu_agree_with_keras_in_every_variant(setup):
    dirs, original, x = setup
    record = run_parity(dirs, original, x, ["keras", "node-wasm", "node-cpu"])
    assert record["passed"] and record["unavailable"] == {}
    for name in ("node-wasm", "node-cpu"):
        pairs = _runtime_pairs(record, name)
        assert [p["variant"] for p in pairs] == list(VARIANTS)
        assert all(p["passed"] and p["stats"]["max_abs"] < 1e-5 for p in pairs)
    quant = {p["variant"]: p for p in record["pairs"] if p["kind"] == "quantization"}
    assert quant["float32"]["stats"]["max_abs"] == 0 and quant["float32"]["passed"]
    assert quant["uint8"]["stats"]["max_abs"] > quant["uint16"]["stats"]["max_abs"] > 0


def test_pooled_node_runtime_gives_the_one_process_figures(setup):
    """Parity's Node rows on an evaluator pool of 2 (variants and shards spread) are those of one
    evaluator: the merged outputs are bit-identical, so every statistic is equal."""
    dirs, original, x = setup
    one = run_parity(dirs, original, x, ["node-wasm"], workers=1, batch_size=16)
    two = run_parity(dirs, original, x, ["node-wasm"], workers=2, batch_size=16)
    assert two["runtimes"]["node-wasm"]["workers"] == 2 and "workers" not in one["runtimes"]["node-wasm"]
    stats = [[p["stats"] for p in _runtime_pairs(r, "node-wasm")] for r in (one, two)]
    assert stats[0] == stats[1] and len(stats[0]) == len(VARIANTS)
    assert not _evaluator_children(), "parity left an evaluator of its own running"


def _evaluator_children() -> list[int]:
    """Live Node evaluators started by this process (a runtime started and never closed)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            status = (entry / "status").read_text()
            cmd = (entry / "cmdline").read_bytes()
        except (OSError, ValueError):
            continue
        ppid = next((ln.split()[1] for ln in status.splitlines() if ln.startswith("PPid:")), None)
        if ppid == str(os.getpid()) and b"evaluator.mjs" in cmd and "\tZ" not in status:
            found.append(int(entry.name))
    return found


def test_corrupted_weight_is_detected_and_localised(setup, tmp_path):
    dirs, original, x = setup
    broken = tmp_path / "float32"
    shutil.copytree(dirs["float32"], broken)
    corrupt_weight(broken, "dense/kernel", delta=5.0)
    record = run_parity({"float32": broken}, original, x, ["node-wasm"])
    assert not record["passed"]
    (runtime_pair,) = _runtime_pairs(record, "node-wasm")
    assert runtime_pair["passed"] is False and runtime_pair["first_bad_layer"]["layer"] == "dense"
    (artifact_pair,) = [p for p in record["pairs"] if p["kind"] == "quantization"]
    assert artifact_pair["first_bad_layer"]["layer"] == "dense"


def test_corruption_in_an_early_layer_is_named_not_the_last(setup, tmp_path):
    dirs, original, x = setup
    broken = tmp_path / "float32"
    shutil.copytree(dirs["float32"], broken)
    corrupt_weight(broken, "conv/kernel", delta=3.0)
    record = run_parity({"float32": broken}, original, x, ["node-cpu"])
    (pair,) = _runtime_pairs(record, "node-cpu")
    assert pair["first_bad_layer"]["layer"] == "conv"


@pytest.mark.parametrize("name", ["browser-cpu", "browser-wasm", "browser-webgl", "node-tensorflow"])
def test_browser_and_tfjs_node_agree_with_keras(setup, name):
    reason = unavailable_reason(name)
    if reason and not IN_CI:
        pytest.skip(reason)  # CI installs chromium and builds tfjs-node, so there it must run
    dirs, original, x = setup
    record = run_parity(dirs, original, x, [name])
    assert record["unavailable"] == {} and record["passed"]
    assert len(_runtime_pairs(record, name)) == len(VARIANTS)
    if name.startswith("browser"):
        info = record["runtimes"][name]
        assert info["backend"] == name.removeprefix("browser-")
        assert info["blocked_requests"] == [] and info["console_errors"] == []


def test_unavailable_runtime_is_reported_with_its_install_command(setup, tmp_path, monkeypatch):
    monkeypatch.setenv("QUANTLAB_TFJS_NODE_DIR", str(tmp_path / "none"))
    dirs, original, x = setup
    record = run_parity({"float32": dirs["float32"]}, original, x[:4], ["node-tensorflow"])
    assert "quantlab setup --tfjs-node" in record["unavailable"]["node-tensorflow"]
    assert _runtime_pairs(record, "node-tensorflow") == []


@pytest.mark.parametrize("name", ["browser-webgl-f16", "browser-webgpu"])
def test_phone_gpu_precision_and_webgpu_in_parity(setup, name):
    """Both run here (Chromium 156, SwiftShader); where they cannot, they are reported unavailable
    with the reason, never as a pass. float16 textures show as a larger runtime error than webgl's."""
    dirs, original, x = setup
    record = run_parity({"float32": dirs["float32"], "uint8": dirs["uint8"]}, original, x[:16], [name])
    if name in record["unavailable"]:  # reported with its reason, and no pair counted as a pass
        assert not _runtime_pairs(record, name) and record["passed"]
        pytest.skip(record["unavailable"][name])
    pairs = _runtime_pairs(record, name)
    assert [p["variant"] for p in pairs] == ["float32", "uint8"]
    info = record["runtimes"][name]
    assert info["blocked_requests"] == [] and info["console_errors"] == []
    if name == "browser-webgl-f16":
        assert info["backend"] == "webgl" and info["precision"] == "float16"
        assert info["tf_flags"] == {"WEBGL_FORCE_F16_TEXTURES": True, "WEBGL_RENDER_FLOAT32_ENABLED": False}
        assert all(p["stats"]["max_abs"] > 1e-5 for p in pairs)  # float16 intermediates show
    else:
        assert info["backend"] == "webgpu" and info["precision"] == "float32"
        assert all(p["passed"] and p["stats"]["max_abs"] < 1e-4 for p in pairs)
