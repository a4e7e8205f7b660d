"""tests/unit stays fast: importing every module of it must not import TensorFlow."""

import os
import subprocess
import sys
from pathlib import Path

UNIT = Path(__file__).resolve().parent


def test_unit_tier_imports_no_tensorflow():
    modules = sorted(f"tests.unit.{p.stem}" for p in UNIT.glob("test_*.py"))
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'tf_keras', 'keras', "
        "'tensorflowjs'))\n"
        "assert not heavy, heavy[:5]\n"
        "print(len(sys.modules))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([*sys.path])}
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=UNIT.parents[1],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert len(modules) >= 5  # the glob found the tier
