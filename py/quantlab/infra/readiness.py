"""`quantlab setup` with no option: what is ready and what is missing, one line each, with the
command that installs what is missing. Reads only (no install, no TensorFlow import)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import metadata


@dataclass(frozen=True)
class Check:
    name: str
    ready: bool
    detail: str  # ready: what was found; missing: what is missing and the command that installs it
    needed: bool = True  # False: an extra that only some runtimes need

    def line(self) -> str:
        state = "ready" if self.ready else "missing"
        return f"{state:<8} {self.name:<16} {self.detail}"


def _requirements() -> list[str]:
    """quantlab's own dependencies (no extras), as its metadata lists them."""
    try:
        reqs = metadata.requires("quantlab") or []
    except metadata.PackageNotFoundError:
        return []
    return [r for r in reqs if "extra ==" not in r]


def python_packages() -> Check:
    try:
        from packaging.requirements import Requirement
    except ImportError:  # pragma: no cover (tensorflowjs depends on packaging)
        Requirement = None  # noqa: N806
    found, bad = [], []
    for text in _requirements():
        if Requirement is not None:
            req = Requirement(text)
            name, spec = req.name, req.specifier
            if req.marker is not None and not req.marker.evaluate():
                continue
        else:
            name, spec = re.split(r"[ <>=!~;\[]", text, maxsplit=1)[0], None
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            bad.append((text, "not installed"))
            continue
        if spec is not None and not spec.contains(version, prereleases=True):
            bad.append((text, f"{version} installed"))
        else:
            found.append(f"{name} {version}")
    if bad:
        names = ", ".join(f"{t} ({why})" for t, why in bad)
        install = " ".join(f"'{t.split(';')[0].strip()}'" for t, _ in bad)
        return Check("python packages", False, f"{names}: run `pip install {install}`")
    if not found:
        return Check("python packages", False, "quantlab's metadata not found: run `pip install quantlab`")
    shown = [f for f in found if f.split()[0] in ("tensorflow", "tf-keras", "tensorflowjs", "numpy")]
    return Check("python packages", True, f"{len(found)} of {len(found)} ({', '.join(shown)}, ...)")


def node() -> Check:
    from ..errors import QuantlabError
    from .node import find_node

    try:
        exe = find_node()
    except QuantlabError:
        return Check(
            "node", False, "no Node.js 18+: install Node.js 18+ (nodejs.org) or run `pip install nodejs-bin`"
        )
    import subprocess

    version = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=20).stdout.strip()
    return Check("node", True, f"{version} ({exe})")


def npm_packages() -> Check:
    from ..errors import QuantlabError
    from . import node_packages as npm
    from .npm_install import npm_root

    try:
        missing = npm.npm_packages_missing()
        root = npm_root(install=False)
    except QuantlabError as e:
        return Check("npm packages", False, str(e))
    if missing:
        return Check("npm packages", False, missing)
    return Check("npm packages", True, f"@tensorflow/tfjs {npm.tfjs_version()} in {root / 'node_modules'}")


def _installed_version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "?"


def chromium() -> Check:
    from .chromium import chromium_path, chromium_unavailable_reason

    reason = chromium_unavailable_reason()
    if reason:
        return Check("chromium", False, f"{reason} (the browser-* runtimes)", needed=False)
    playwright = _installed_version("playwright")
    return Check("chromium", True, f"{chromium_path()}, playwright {playwright} (the browser-* runtimes)")


def tfjs_node() -> Check:
    from ..infra.setup_tfjs_node import setup_command, tfjs_node_dir, tfjs_node_unavailable_reason

    if tfjs_node_unavailable_reason():
        detail = f"not built in {tfjs_node_dir()} (the node-tensorflow runtime): run `{setup_command()}`"
        return Check("tfjs-node", False, detail, needed=False)
    return Check("tfjs-node", True, f"built in {tfjs_node_dir()} (the node-tensorflow runtime)")


def model_explorer() -> Check:
    import importlib.util
    import sys

    if importlib.util.find_spec("model_explorer") is None:
        hint = f"{sys.executable} -m pip install 'quantlab[explorer]'"
        return Check("model explorer", False, f"not installed (diagnose --open): run `{hint}`", needed=False)
    version = _installed_version("ai-edge-model-explorer")
    return Check("model explorer", True, f"ai-edge-model-explorer {version} (diagnose --open)")


def checks() -> list[Check]:
    return [python_packages(), node(), npm_packages(), chromium(), tfjs_node(), model_explorer()]
