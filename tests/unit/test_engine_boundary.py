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
DEMO_CODE = [
    "demos",
    "pipeline",
    "mobilenet",
    "train",
    "models",
    "datasets",
    "probes",
    "tune_cli",
    "parity_cli",
]


def test_engine_modules_import_no_demo_code_and_no_tensorflow():
    code = (
        "import sys\n"
        + "".join(f"import quantlab.{m}\n" for m in ENGINE)
        + f"demo = {DEMO_CODE!r}\n"
        + "bad = [m for m in sys.modules if m.startswith('quantlab.') and m.split('.')[1] in demo]\n"
        + "bad += [m for m in ('tensorflow', 'tf_keras', 'tensorflowjs') if m in sys.modules]\n"
        + "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == ""
