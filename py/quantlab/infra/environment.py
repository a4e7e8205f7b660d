"""Versions and machine facts recorded with every result."""

from __future__ import annotations

import os
import platform
from importlib import metadata

from .node_packages import tfjs_version


def _version(pkg: str) -> str | None:
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return None


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment(runtime: dict | None = None) -> dict:
    env = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "packages": {p: _version(p) for p in ("quantlab", "tensorflow", "tf-keras", "tensorflowjs", "numpy")},
    }
    # The tfjs that quantlab's evaluator is pinned to (its package-lock.json, packaged in a wheel);
    # `runtime` says what the evaluator that ran loaded.
    env["packages"]["tfjs"] = tfjs_version()
    if runtime:
        env["runtime"] = runtime
    return env
