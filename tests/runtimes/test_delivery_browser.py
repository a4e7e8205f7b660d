"""`quantlab delivery` in headless Chromium on a tiny model, and every fault it must survive:
Chromium missing, a page that hangs or crashes, a model too large for the page, a bad profile."""

from __future__ import annotations

import json
import os
import shutil
import signal
from pathlib import Path

import pytest

from quantlab.convert.converter import VARIANTS
from quantlab.errors import EvaluatorError, RuntimeUnavailable
from quantlab.runtimes.browser import BrowserRuntime, browser_unavailable_reason
from tests.conftest import run_cli

IN_CI = os.environ.get("CI") == "true"


@pytest.fixture
def browser_ok():
    reason = browser_unavailable_reason()
    if reason and not IN_CI:
        pytest.skip(reason)


@pytest.fixture(scope="module")
def tiny_models(small_convnet_dir, tmp_path_factory):
    """MODELS/tiny/<variant>/ as `analyze` writes them."""
    models = tmp_path_factory.mktemp("delivery-models")
    for v in VARIANTS:
        shutil.copytree(small_convnet_dir / v, models / "tiny" / v)
    return models


def test_delivery_cli_on_a_tiny_model(browser_ok, tiny_models, tmp_path):
    out = tmp_path / "out"
    proc = run_cli("delivery", str(tiny_models / "tiny"), "--models-dir", str(tiny_models), "--out", str(out),
                   "--runs", "1", "--profiles", "slow-4g,none", timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    record = json.loads((out / "tiny" / "delivery.json").read_text())
    assert list(record["sizes"]) == list(VARIANTS) and record["errors"] == {}
    assert record["content_encoding"] == "br" and record["runs"] == 1
    for v in VARIANTS:
        for p in ("slow-4g", "none"):
            m = record["variants"][v][p]
            assert m["requests"] == record["sizes"][v]["requests"] == 2
            assert m["decoded_bytes"] == record["sizes"][v]["total"]["raw"]
            assert m["first_prediction_ms"]["median"] >= m["load_ms"]["median"] > 0
            assert m["tf_memory_bytes"] > 0 and m["js_heap_used_bytes"] > 0
        # two round trips of 562.5 ms: Slow 4G really throttled the page
        assert record["variants"][v]["slow-4g"]["load_ms"]["median"] > 1000
        assert record["variants"][v]["none"]["load_ms"]["median"] < 1000
    assert (
        record["conclusion"].startswith("uint8 shows the first prediction")
        and "Slow 4G" in record["conclusion"]
    )
    assert "time per variant" in proc.stdout + proc.stderr


def test_unknown_profile_exit_2_lists_valid(tiny_models, tmp_path):
    proc = run_cli("delivery", "mnist", "--profiles", "slow-3g", "--out", str(tmp_path / "o"), timeout=120)
    assert proc.returncode == 2
    text = proc.stdout + proc.stderr
    assert "slow-3g" in text and "slow-4g, fast-4g, none" in text


def test_chromium_missing_is_one_line_with_the_install_command(tiny_models, tmp_path):
    env = {"QUANTLAB_CHROMIUM": str(tmp_path / "no-chromium")}
    proc = run_cli("delivery", str(tiny_models / "tiny"), "--models-dir", str(tiny_models),
                   "--out", str(tmp_path / "o"), env=env, timeout=120)  # fmt: skip
    assert proc.returncode == 5
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    assert len(lines) == 1 and "no-chromium" in lines[0] and "apt-get install -y chromium" in lines[0]


def test_chromium_missing_in_parity_is_reported_unavailable(monkeypatch, tmp_path):
    from quantlab.analysis.parity import unavailable_reason

    monkeypatch.setenv("QUANTLAB_CHROMIUM", str(tmp_path / "missing"))
    for name in ("browser-webgl-f16", "browser-webgpu"):
        assert "apt-get install -y chromium" in unavailable_reason(name)
    with pytest.raises(RuntimeUnavailable):
        BrowserRuntime("webgpu")


def _assert_gone(rt):
    assert rt.dead and rt._chromium_pids() == [] and not rt.io_dir.exists()


def test_a_hanging_page_times_out_and_the_browser_is_closed(browser_ok):
    rt = BrowserRuntime("cpu", timeout=3)
    rt.page.evaluate("() => { window.quantlab.hang = () => new Promise(() => {}); }")
    with pytest.raises(EvaluatorError, match="hang timed out after 3 s"):
        rt._call("hang", None)
    _assert_gone(rt)
    with pytest.raises(EvaluatorError, match="stopped earlier"):
        rt._call("unload", "b1")


def test_a_crashed_page_is_a_clear_error_and_leaves_no_chromium(browser_ok):
    rt = BrowserRuntime("cpu", timeout=30)
    # the renderer dies as the kernel's OOM killer would end it
    renderers = [
        p for p in rt._chromium_pids() if b"--type=renderer" in Path(f"/proc/{p}/cmdline").read_bytes()
    ]
    assert renderers
    for pid in renderers:
        os.kill(pid, signal.SIGKILL)
    with pytest.raises(EvaluatorError, match="the page crashed"):
        rt._call("unload", "b1")
    _assert_gone(rt)


def test_a_model_too_large_for_the_page_is_reported_not_loaded(browser_ok, tiny_models):
    from quantlab.analysis.delivery_run import measure_delivery, variant_folders

    folders = variant_folders(tiny_models / "tiny")
    cap = folders and (folders["uint8"] / "group1-shard1of1.bin").stat().st_size + 5000
    record = measure_delivery(folders, ["none"], runs=1, max_model_bytes=cap)
    assert set(record["variants"]) == {"uint8"}  # the only one under the cap
    for v in ("float32", "float16", "uint16"):
        assert record["errors"][v].startswith("too large for the page")
    assert record["conclusions"] == []  # no float32 to compare with
