"""Ctrl-C while a runtime waits for its job: the runtime is killed at once, and the cleanup that
follows (unload, close) returns immediately, leaving no process and no temp folder."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from quantlab.infra.chromium import browser_unavailable_reason
from quantlab.runtimes.node import TfjsNodeRuntime
from tests.conftest import node_processes_of, require_runtime


def _interrupt_when(path_exists, timeout=120.0):
    """SIGINT to this process once `path_exists()` is true (from a helper thread)."""

    def run():
        deadline = time.monotonic() + timeout
        while not path_exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=run, daemon=True).start()


@pytest.mark.parametrize("stop_node", [False, True], ids=["busy", "sigstopped"])
def test_ctrl_c_while_node_predicts_kills_it_at_once(small_convnet_dir, tmp_path, monkeypatch, stop_node):
    monkeypatch.setenv("QUANTLAB_TEST_BLOCK_DIR", str(tmp_path))  # the evaluator holds predict
    rt = TfjsNodeRuntime("cpu", timeout=600)
    pid, io_dir = rt.evaluator.proc.pid, rt.evaluator.io_dir
    loaded = rt.load(small_convnet_dir / "float32")
    started = tmp_path / "predict-started"
    if stop_node:
        _interrupt_when(lambda: started.exists() and not os.kill(pid, signal.SIGSTOP))
    else:
        _interrupt_when(started.exists)
    t0 = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            rt.predict(loaded, np.load(small_convnet_dir / "x.npy"))
        waited = time.monotonic() - t0
        t1 = time.monotonic()
        rt.unload(loaded)  # what `finally:` blocks do next: must not wait for Node
        rt.close()
        assert time.monotonic() - t1 < 1.0
        assert waited < 30
        assert rt.evaluator.proc.poll() is not None and not rt.evaluator.alive()
        assert not io_dir.exists()
        assert not any(line.split()[0] == str(pid) for line in node_processes_of())
    finally:
        if rt.evaluator.proc.poll() is None:
            rt.evaluator.proc.kill()


def test_ctrl_c_while_the_browser_works_closes_it(tmp_path, monkeypatch):
    """... and leaves nothing in $TMPDIR: no org.chromium.Chromium.*, playwright_chromiumdev_profile-*
    or playwright-artifacts-* folder (as `parity -r browser-cpu` interrupted did)."""
    require_runtime(browser_unavailable_reason())
    from quantlab.runtimes.browser import BrowserRuntime

    system_tmp = Path(tempfile.mkdtemp(prefix="qlt", dir="/tmp"))  # short: Chromium's socket is in it
    monkeypatch.setenv("TMPDIR", str(system_tmp))
    monkeypatch.setattr(tempfile, "tempdir", None)  # Python reads TMPDIR again
    rt = BrowserRuntime("cpu", timeout=600)
    io_dir = rt.io_dir
    assert rt._chromium_pids()
    # set when the page is inside the job: its request reaches this route handler, which
    # Playwright runs while the main thread waits in _call
    held = threading.Event()
    rt.page.route("**/quantlab-test-held", lambda route: (held.set(), route.fulfill(status=204)))
    rt.page.evaluate(
        "() => { window.quantlab.hold = () => {"
        " fetch('/quantlab-test-held'); return new Promise(() => {}); }; }"
    )
    _interrupt_when(held.is_set)  # SIGINT once the job that never ends is running in the page
    t0 = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            rt._call("hold", None)  # a job that never ends
        assert held.is_set()
        t1 = time.monotonic()
        rt.close()
        # far under the 600 s job timeout: close does not wait for the job (bounds, not timings)
        assert time.monotonic() - t1 < 60 and t1 - t0 < 120
        assert rt.dead and rt._chromium_pids() == []
        assert not io_dir.exists()
        assert sorted(p.name for p in system_tmp.iterdir()) == []
    finally:
        rt.kill()
        shutil.rmtree(system_tmp, ignore_errors=True)


def test_a_deep_tmpdir_still_leaves_chromium_room_for_its_socket(tmp_path, monkeypatch):
    """Chromium aborts ("Socket path too long") when $TMPDIR/org.chromium.Chromium.XXXXXX/
    SingletonSocket is over 107 bytes: the browser's temp folder then goes under /tmp."""
    from quantlab.runtimes.chromium_page import short_temp_dir

    deep = tmp_path / ("d" * 60)
    deep.mkdir()
    monkeypatch.setenv("TMPDIR", str(deep))
    monkeypatch.setattr(tempfile, "tempdir", None)
    made = short_temp_dir()
    try:
        socket = made / "org.chromium.Chromium.XXXXXX" / "SingletonSocket"
        assert len(str(socket)) <= 107 and made.parent == Path("/tmp")
    finally:
        made.rmdir()
    shallow = Path(tempfile.mkdtemp(prefix="q", dir="/tmp"))
    monkeypatch.setenv("TMPDIR", str(shallow))
    monkeypatch.setattr(tempfile, "tempdir", None)
    try:
        assert short_temp_dir().parent == shallow  # $TMPDIR whenever it leaves the room
    finally:
        shutil.rmtree(shallow)
