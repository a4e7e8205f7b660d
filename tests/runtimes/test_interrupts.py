"""Ctrl-C while a runtime waits for its job: the runtime is killed at once, and the cleanup that
follows (unload, close) returns immediately, leaving no process and no temp folder."""

from __future__ import annotations

import os
import signal
import threading
import time

import numpy as np
import pytest

from quantlab.runtimes.browser import browser_unavailable_reason
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


def test_ctrl_c_while_the_browser_works_closes_it(tmp_path):
    require_runtime(browser_unavailable_reason())
    from quantlab.runtimes.browser import BrowserRuntime

    rt = BrowserRuntime("cpu", timeout=600)
    io_dir = rt.io_dir
    assert rt._chromium_pids()
    rt.page.evaluate(
        "() => { window.quantlab.hold = () => { document.title = 'held'; return new Promise(() => {}); }; }"
    )
    flag = tmp_path / "unused"
    _interrupt_when(lambda: flag.exists() or time.sleep(0.5) or True)  # SIGINT ~0.5 s into the call
    t0 = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            rt._call("hold", None)  # a job that never ends
        t1 = time.monotonic()
        rt.close()
        assert time.monotonic() - t1 < 1.0 and t1 - t0 < 30
        assert rt.dead and rt._chromium_pids() == []
        assert not io_dir.exists()
    finally:
        rt.kill()
