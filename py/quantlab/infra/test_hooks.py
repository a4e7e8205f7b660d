"""Test hooks in the Python steps, the twin of the evaluator's predict hook (js/protocol.json
"test_hooks"): with QUANTLAB_TEST_HOLD=<point> and QUANTLAB_TEST_BLOCK_DIR=<dir>, the step named
<point> writes <dir>/<point>-started (holding the pid) and waits until <dir>/release exists (at
most 10 minutes), so an interruption test signals the CLI while that step is certainly running.
Points: `train-epoch` (inside Keras fit, after the first epoch) and `convert` (inside a variant's
atomic folder, after its files are written and before the rename)."""

from __future__ import annotations

import os
import time
from pathlib import Path

HOLD_ENV, BLOCK_DIR_ENV = "QUANTLAB_TEST_HOLD", "QUANTLAB_TEST_BLOCK_DIR"


def hold(point: str) -> None:
    """No-op unless a test asked to hold `point`; the wait is interruptible (time.sleep)."""
    block_dir = os.environ.get(BLOCK_DIR_ENV)
    if os.environ.get(HOLD_ENV) != point or not block_dir:
        return
    started = Path(block_dir, f"{point}-started")
    started.with_suffix(".part").write_text(str(os.getpid()))
    os.replace(started.with_suffix(".part"), started)  # whole, or not there at all
    deadline = time.monotonic() + 600  # a test that failed before releasing leaves no stuck run
    while not Path(block_dir, "release").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
