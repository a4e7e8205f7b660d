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
from quantlab.demos.registry import ALL_DEMOS
from quantlab.errors import EvaluatorError, RuntimeUnavailable
from quantlab.infra.chromium import browser_unavailable_reason
from quantlab.runtimes.browser import BrowserRuntime
from tests.conftest import invoke_cli, processes_with_env

IN_CI = os.environ.get("CI") == "true"


@pytest.fixture
def browser_ok():
    reason = browser_unavailable_reason()
    if reason and not IN_CI:
        pytest.skip(reason)


@pytest.fixture(scope="module")
def tiny_models(small_convnet_dir, tmp_path_factory):
    """MODELS/tiny/<variant>/ as `analyze model.json --name tiny` writes them, and that MODEL."""
    models = tmp_path_factory.mktemp("delivery-models")
    for v in VARIANTS:
        shutil.copytree(small_convnet_dir / v, models / "tiny" / v)
    shutil.copytree(small_convnet_dir / "float32", models / "source")
    return models


def _model(models: Path) -> str:
    """The MODEL that MODELS/tiny/ was made from (`tiny_models`)."""
    return str(models / "source" / "model.json")


def test_delivery_cli_on_a_tiny_model(browser_ok, tiny_models, tmp_path):
    out = tmp_path / "out"
    proc = invoke_cli("delivery", _model(tiny_models), "--name", "tiny", "--models-dir",
                   str(tiny_models), "--out", out, "--runs", "1", "--profiles", "slow-4g,none")  # fmt: skip
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


def test_variants_made_from_another_model_are_refused_before_any_page(browser_ok, tiny_models, tmp_path):
    """delivery resolves MODEL to a subject as analyze does: MODELS/tiny/ made from another model
    (the marker names it) is refused, exit 2, naming both, before any page loads."""
    models = tmp_path / "models"
    shutil.copytree(tiny_models / "tiny", models / "tiny")
    (models / "tiny" / ".quantlab-owned").write_text(str(tmp_path / "other" / "model.json") + "\n")
    proc = invoke_cli("delivery", _model(tiny_models), "--name", "tiny", "--models-dir",
                   str(models), "--out", str(tmp_path / "out"))  # fmt: skip
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "holds the variants of" in proc.stderr and "other/model.json" in proc.stderr
    assert not (tmp_path / "out").exists()
    # the folder of variants itself is not a model: one line saying what to pass instead
    proc = invoke_cli(
        "delivery", str(models / "tiny"), "--models-dir", str(models), "--out", str(tmp_path / "out")
    )
    assert proc.returncode == 2 and "a folder of variants quantlab wrote, not a model" in proc.stderr
    assert "pass the MODEL given to `analyze`" in proc.stderr and not (tmp_path / "out").exists()


def test_unknown_profile_exit_2_lists_valid(tiny_models, tmp_path):
    proc = invoke_cli("delivery", "mnist", "--profiles", "slow-3g", "--out", str(tmp_path / "o"))
    assert proc.returncode == 2
    text = proc.stdout + proc.stderr
    assert "slow-3g" in text and "slow-4g, fast-4g, none" in text


def test_chromium_missing_is_one_line_with_the_install_command(tiny_models, tmp_path):
    env = {"QUANTLAB_CHROMIUM": str(tmp_path / "no-chromium")}
    proc = invoke_cli("delivery", _model(tiny_models), "--name", "tiny",
                   "--models-dir", str(tiny_models), "--out", str(tmp_path / "o"), env=env)  # fmt: skip
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


# A profile slow enough that each tiny variant's transfer takes seconds, with no latency: the time
# below is the throughput's alone.
TEST_SLOW = {
    "title": "test slow",
    "phrase": "on the test profile",
    "latency_ms": 0.0,
    "download_bytes_per_s": 3_000,
    "upload_bytes_per_s": -1,
    "source": "tests",
}
PACKET = 1500  # Chromium's throttle releases the bytes in packets of this size, on a fixed clock


def test_concurrent_pages_each_get_their_own_throttle(browser_ok, tiny_models, monkeypatch):
    """Two variants loaded at once, in two pages, under a profile of 3,000 B/s: each load still takes
    at least its own bytes / 3,000 B/s. (Chromium's ThrottlingNetworkInterceptor hands out
    1500-byte packets on a clock that started when the conditions were set: the first packet may
    come up to one tick early, hence one packet less in the bound.) A lower bound: a slow machine
    only makes the loads longer."""
    from quantlab.analysis.delivery import PROFILES
    from quantlab.analysis.delivery_run import measure_delivery, variant_folders

    monkeypatch.setitem(PROFILES, "test-slow", TEST_SLOW)
    folders = {v: f for v, f in variant_folders(tiny_models / "tiny").items() if v in ("float32", "uint8")}
    record = measure_delivery(folders, ["test-slow"], runs=2, pages=2)
    assert record["errors"] == {}
    c = record["concurrency"]
    assert c["pages"] == 2 and c["concurrent_profiles"] == ["test-slow"] and c["sequential_profiles"] == []
    assert c["peak_concurrent_loads"] == 2  # the loads did overlap
    for v in folders:
        m = record["variants"][v]["test-slow"]
        br = record["sizes"][v]["total"]["br"]
        assert m["transfer_bytes"] >= br  # the brotli body, and the headers
        bound_ms = (br - PACKET) / TEST_SLOW["download_bytes_per_s"] * 1000
        assert bound_ms > 500, "the tiny variant is too small for a meaningful bound"
        assert min(m["load_ms"]["runs"]) >= bound_ms, (v, m["load_ms"], bound_ms)


def test_delivery_of_every_demo_with_variants(browser_ok, tiny_models, tmp_path):
    """No TARGET: every demo with variants is measured in one run (its own delivery.json, added to
    its results.json); a demo without variants is skipped with one line."""
    models, out = tmp_path / "models", tmp_path / "out"
    for demo in ("housing", "mnist"):
        for v in ("float32", "uint8"):
            shutil.copytree(tiny_models / "tiny" / v, models / demo / v)
    (models / "fashion-mnist" / "keras").mkdir(parents=True)  # trained, never converted
    (out / "mnist").mkdir(parents=True)
    (out / "mnist" / "results.json").write_text(json.dumps({"demo": "mnist", "variants": []}))
    proc = invoke_cli("delivery", "--models-dir", str(models), "--out", str(out), "--runs", "1",
                   "--profiles", "fast-4g,none", "--pages", "2")  # fmt: skip
    text = proc.stdout + proc.stderr
    assert proc.returncode == 0, text[-3000:]
    for demo in ("housing", "mnist"):
        record = json.loads((out / demo / "delivery.json").read_text())
        assert record["name"] == demo and list(record["variants"]) == ["float32", "uint8"]
        assert record["concurrency"]["targets"] == ["housing", "mnist"]
        assert record["concurrency"]["concurrent_profiles"] == ["fast-4g"]
        assert record["concurrency"]["sequential_profiles"] == ["none"]
        assert f"time per variant ({demo}): float32" in text
    assert "delivery" not in json.loads((out / "mnist" / "results.json").read_text())  # stored once
    assert not (out / "fashion-mnist").exists() and not (out / "mobilenetv2").exists()
    skipped = [line for line in text.splitlines() if "skipped" in line]
    assert sorted(line.split(":")[0] for line in skipped) == sorted(set(ALL_DEMOS) - {"housing", "mnist"})
    assert "total: " in text and "2 demos (housing, mnist)" in text

    # demo names given: the same, for those names; --json gives every record
    proc = invoke_cli("delivery", "mnist", "fashion-mnist", "--models-dir", str(models), "--out", str(out),
                   "--runs", "1", "--profiles", "none", "--json")  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads(proc.stdout)
    assert [r["name"] for r in doc["records"]] == ["mnist"] and list(doc["skipped"]) == ["fashion-mnist"]
    assert doc["records"][0]["concurrency"]["pages"] == 1  # nothing throttled: one page


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _started(pid: int) -> str | None:
    """The process's start time (field 22 of /proc/PID/stat): tells it from a later one that reuses
    its pid."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _browsers_and_children(env_marker: str) -> dict[int, str]:
    """Pid -> start time of the run's processes (those with `env_marker` in their environment:
    itself, Playwright's drivers, each Chromium) and of all their descendants (Chromium's zygotes
    and renderers start with a cleaned environment)."""
    from quantlab.infra.chromium import marked_pids

    roots = processes_with_env(env_marker)
    found = set(roots)
    for io_dir in filter(None, map(_io_dir, roots)):  # each Chromium, by its own switch
        found.update(marked_pids(f"--quantlab-io-dir={io_dir}"))  # and its descendants
    return {pid: t for pid in found if (t := _started(pid)) is not None}


def _io_dir(pid: int) -> str | None:
    for arg in _cmdline(pid).split(b"\0"):
        if arg.startswith(b"--quantlab-io-dir="):
            return arg.split(b"=", 1)[1].decode()
    return None


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_interrupted_while_pages_load_at_once_leaves_no_chromium(browser_ok, tiny_models, tmp_path, sig):
    """SIGINT or SIGTERM while two pages load under Slow 4G: exit 128 + signal, no delivery.json,
    and no process of the run left (Chromium, its helpers, Playwright's driver)."""
    import subprocess
    import sys
    import time
    import uuid

    from tests.conftest import ROOT

    marker = f"QUANTLAB_TEST_RUN={uuid.uuid4().hex}"
    import tempfile

    # where Chromium and Playwright would leave their folders (short: Chromium's socket path)
    system_tmp = Path(tempfile.mkdtemp(prefix="qt"))
    env = {**os.environ, marker.split("=")[0]: marker.split("=")[1], "TMPDIR": str(system_tmp)}
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "quantlab.cli", "delivery", _model(tiny_models), "--name",
         "tiny", "--models-dir", str(tiny_models), "--out", str(out), "--profiles", "slow-4g", "--runs", "5",
         "--pages", "2"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        # two Chromiums: two io dirs (counting processes would also count a child the browser has
        # forked but not yet exec'd, which still carries the browser's command line), each with a
        # page up: the loads start then
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            tree = _browsers_and_children(marker)
            pages = sum(b"--type=renderer" in _cmdline(p) for p in tree)
            if pages >= 2 and len({_io_dir(p) for p in tree} - {None}) == 2:
                break
            time.sleep(0.1)
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        assert len({_io_dir(p) for p in tree} - {None}) == 2
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 128 + sig, stderr[-3000:]
        assert f"interrupted by {signal.Signals(sig).name}" in stderr
        assert not (out / "tiny" / "delivery.json").exists()
        deadline = time.monotonic() + 60  # a generous bound: a loaded machine reaps slowly
        left = tree
        while left and time.monotonic() < deadline:
            time.sleep(0.2)
            left = {p: t for p, t in tree.items() if _started(p) == t}
        assert left == {}, [_cmdline(p)[:200] for p in left]
        # no org.chromium.Chromium.*, playwright_chromiumdev_profile-* or playwright-artifacts-*
        # folders left in $TMPDIR (they lived under the runtime's own folder, removed whole)
        leftovers = [
            p.name for p in system_tmp.iterdir() if "chrom" in p.name.lower() or "playwright" in p.name
        ]
        assert leftovers == []
    finally:
        if proc.poll() is None:
            proc.kill()
        shutil.rmtree(system_tmp, ignore_errors=True)
