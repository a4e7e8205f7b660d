"""Chromium for the browser runtimes and the report check: Debian's binary (or $QUANTLAB_CHROMIUM)
driven by Playwright without a browser download, the switches it starts with, whether it and the
page's npm packages are here (with the command that installs what is missing), and finding and
killing a Chromium's whole process tree by a marker switch."""

from __future__ import annotations

import os
import shutil
import signal
import sys
from pathlib import Path

from ..errors import EvaluatorError
from .node_packages import install_command, layout
from .npm_install import npm_root

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-unsafe-swiftshader",  # WebGL on the CPU (SwiftShader) for the webgl backend
]
INSTALL_HINT = "sudo apt-get install -y chromium && .venv/bin/pip install playwright"
INSTALLED_HINT = "sudo apt-get install -y chromium && pip install playwright"  # quantlab from a wheel
# WebGPU on the CPU (SwiftShader's Vulkan); --disable-gpu would turn WebGPU off (DESIGN 2.8)
WEBGPU_FLAGS = ["--enable-unsafe-webgpu", "--use-webgpu-adapter=swiftshader"]
WEBGPU_HINT = "npm install @tensorflow/tfjs-backend-webgpu@4.22.0"
CHROMIUM_ENV = "QUANTLAB_CHROMIUM"  # another Chromium binary (tests point it at a missing file)


def chromium_path() -> str | None:
    override = os.environ.get(CHROMIUM_ENV)
    if override:
        return override if Path(override).is_file() and os.access(override, os.X_OK) else None
    return shutil.which("chromium") or (CHROMIUM if Path(CHROMIUM).exists() else None)


def webgpu_dist(install: bool = False) -> Path:
    return npm_root(install) / "node_modules" / "@tensorflow" / "tfjs-backend-webgpu" / "dist"


def install_hint() -> str:
    return INSTALLED_HINT if layout().kind == "packaged" else INSTALL_HINT


def _playwright_hint() -> str:
    if layout().kind != "packaged":
        return ".venv/bin/pip install playwright"
    if "pipx" in Path(sys.prefix).parts:  # a pipx install: its own virtualenv
        return "pipx inject quantlab playwright"
    return "pip install playwright"


def chromium_unavailable_reason() -> str | None:
    """None when Chromium and Playwright are here; else why not, with the install command."""
    if chromium_path() is None:
        where = os.environ.get(CHROMIUM_ENV)
        found = f"not found at {where} (${CHROMIUM_ENV})" if where else "not installed"
        return f"Chromium {found}: install it with `{install_hint()}`"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return f"Playwright not installed: install it with `{_playwright_hint()}`"
    return None


def browser_unavailable_reason(backend: str | None = None) -> str | None:
    """None when the browser runtime (for `backend`, if given) can run here; else why not, with the
    install command. An installed quantlab installs its npm packages first (node_packages)."""
    reason = chromium_unavailable_reason()
    if reason:
        return reason
    try:
        root = npm_root(install=True)
    except EvaluatorError as e:  # offline with nothing cached: the one line naming the command
        return str(e)
    if not (root / "node_modules" / "@tensorflow" / "tfjs" / "dist" / "tf.min.js").is_file():
        return f"tfjs npm packages not installed in {root / 'node_modules'} (run `{install_command()}`)"
    if backend == "webgpu" and not (webgpu_dist() / "tf-backend-webgpu.min.js").is_file():
        return f"@tensorflow/tfjs-backend-webgpu not installed (run `{WEBGPU_HINT}`)"
    return None


def marked_pids(marker: str) -> list[int]:
    """The processes whose command line holds `marker` (a switch Chromium ignores, given at launch)
    and all their descendants: a Chromium's renderers and helpers do not inherit the switch."""
    needle = marker.encode()
    parents: dict[int, int] = {}
    roots = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if needle in (entry / "cmdline").read_bytes():
                roots.append(int(entry.name))
        except (OSError, ValueError, IndexError):
            continue
    found = set(roots)
    changed = True
    while changed:
        changed = False
        for pid, ppid in parents.items():
            if ppid in found and pid not in found:
                found.add(pid)
                changed = True
    return sorted(found)


def kill_marked(marker: str) -> None:
    """SIGKILL every process `marked_pids(marker)` finds (thread-safe: it only sends signals)."""
    for pid in marked_pids(marker):
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
