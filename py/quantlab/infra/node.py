"""Which Node.js runs the evaluator: $QUANTLAB_NODE, the system's node (18 or newer), or the one
nodejs-bin bundles."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from functools import cache

from ..errors import EvaluatorError

NODE_ENV = "QUANTLAB_NODE"


def _node_major(exe: str) -> int | None:
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.match(r"v(\d+)\.", out.strip())
    return int(m.group(1)) if m else None


@cache
def find_node() -> str:
    """$QUANTLAB_NODE, else the system node if it is 18 or newer, else nodejs-bin's node."""
    if os.environ.get(NODE_ENV):
        exe = os.environ[NODE_ENV]
        if _node_major(exe) is None:
            raise EvaluatorError(f"${NODE_ENV}={exe} is not a working node executable")
        return exe
    system = shutil.which("node")
    if system and (_node_major(system) or 0) >= 18:
        return system
    try:
        from nodejs import node as bundled  # nodejs-bin

        if _node_major(bundled.path):
            return bundled.path
    except ImportError:
        pass
    raise EvaluatorError(
        f"no Node.js 18+ found: install Node.js or `pip install nodejs-bin`, or set ${NODE_ENV}"
    )
