"""The engine (a user's model's road) never imports demo code: the demos are its clients."""

from __future__ import annotations

import subprocess
import sys

ENGINE = [
    "analysis.analyze",
    "analysis.evaluate",
    "results",
    "convert.requantize",
    "convert.source",
    "sources",
    "inputs",
    "tasks",
    "workspace",
    "analysis.parity",
    "analysis.parity_model",
    "runtimes.saved_model",
]
DEMO_CODE = "quantlab.demos"  # every demo module lives under it: registry, architectures, datasets...


def _demo_and_tf_modules_after_importing(modules: list[str]) -> list[str]:
    code = (
        "import sys\n"
        + "".join(f"import quantlab.{m}\n" for m in modules)
        + f"demo = {DEMO_CODE!r}\n"
        + "bad = [m for m in sys.modules if m == demo or m.startswith(demo + '.')]\n"
        + "bad += [m for m in ('tensorflow', 'tf_keras', 'tensorflowjs') if m in sys.modules]\n"
        + "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return [m for m in out.strip().split(",") if m]


def test_engine_modules_import_no_demo_code_and_no_tensorflow():
    assert _demo_and_tf_modules_after_importing(ENGINE) == []


def test_the_check_sees_demo_code():
    # the demo package is where the check looks: a demo module imported is reported
    assert "quantlab.demos.probes" in _demo_and_tf_modules_after_importing(["demos.probes"])
