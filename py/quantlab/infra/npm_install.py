"""Installing the evaluator's npm packages on demand for an installed quantlab: `npm ci` from the
packaged lock file into the per-user cache entry (node_packages.py says where), under a lock so two
first runs do not race, atomically (an interrupted install leaves nothing half-made), offline with
one line naming the command to run; and the folders Node and the browser runtime use, installed
first when missing."""

from __future__ import annotations

import collections
import contextlib
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from ..errors import EvaluatorError
from .fsutil import atomic_dir, write_text_atomic
from .node_packages import (
    CACHE_ENV,
    INSTALL_COMMAND,
    MARKER,
    NETWORK_ERRORS,
    NPM_CI,
    OFFLINE_ENV,
    Layout,
    cache_entry,
    js_key,
    layout,
    packages_installed,
    sha256_hex,
    tfjs_version,
)
from .progress import log, progress
from .test_hooks import hold


def npm_root(install: bool = True) -> Path:
    """The folder whose node_modules/ holds the evaluator's npm packages. For an installed
    quantlab this is the cache entry, installed first when `install` (and missing)."""
    where = layout()
    if where.kind != "packaged":
        return where.source
    return ensure_installed(where).entry if install else cache_entry(where)


def evaluator_dir(install: bool = True) -> Path:
    """The js folder Node runs the evaluator from (evaluator.mjs, browser/): the checkout's or the
    override's js/, or the copy of the packaged one inside the cache entry."""
    where = layout()
    if where.kind != "packaged":
        return where.js
    if install:
        return ensure_installed(where).js
    return cache_entry(where) / f"js-{js_key(where.js)}"


def npm_command() -> tuple[list[str], dict]:
    """npm matching find_node()'s node, and an environment with that node first on PATH (npm's
    install scripts need `node`): the npm beside it, else nodejs-bin's (`python -m nodejs.npm`)."""
    from .node import find_node

    node = find_node()
    env = {**os.environ, "PATH": f"{Path(node).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    npm = shutil.which("npm", path=env["PATH"])
    return ([npm] if npm else [sys.executable, "-m", "nodejs.npm"]), env


_thread_lock = threading.Lock()  # the evaluators of one pool start in threads: one installs


@contextlib.contextmanager
def install_lock(path: Path, what: str) -> Iterator[None]:
    """An exclusive lock (flock on `path`) held while `what` is made; a second process waits,
    saying so once. The lock goes with the process, so a killed installer never leaves it held."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("waiting for another quantlab that is installing %s (lock %s)", what, path)
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


class Installed(NamedTuple):
    entry: Path  # the cache entry: node_modules/, package.json, package-lock.json, the marker
    js: Path  # the evaluator's files, copied beside node_modules/
    installed: bool  # whether this call ran `npm ci` (False: the entry was there)


def ensure_installed(where: Layout | None = None) -> Installed:
    """The cache entry of an installed quantlab and its copy of the evaluator, running `npm ci`
    first when the entry is missing. Fast when both exist: no lock taken."""
    where = where or layout()
    if where.kind != "packaged":
        raise EvaluatorError(f"internal: no npm cache for a {where.kind} layout ({where.source})")
    try:
        entry = cache_entry(where)
        js_copy = entry / f"js-{js_key(where.js)}"
    except OSError as e:
        raise EvaluatorError(f"the packaged evaluator cannot be read ({e}); reinstall quantlab") from e
    if (entry / MARKER).is_file() and (js_copy / "evaluator.mjs").is_file():
        return Installed(entry, js_copy, False)
    installed = False
    with _thread_lock:
        try:
            with install_lock(entry.with_name(f".{entry.name}.lock"), f"the tfjs npm packages into {entry}"):
                if not ((entry / MARKER).is_file() and packages_installed(entry)):
                    _remove_leftovers(entry)
                    _npm_ci(where, entry)
                    installed = True
                else:
                    log.info("npm packages: %s is ready (installed by another quantlab meanwhile)", entry)
                if not (js_copy / "evaluator.mjs").is_file():
                    with atomic_dir(js_copy) as tmp:
                        shutil.copytree(where.js, tmp, dirs_exist_ok=True)
        except OSError as e:
            raise EvaluatorError(
                f"cannot install the tfjs npm packages into {entry} ({e}); "
                f"set ${CACHE_ENV} to a writable folder"
            ) from e
    return Installed(entry, js_copy, installed)


def _remove_leftovers(entry: Path) -> None:
    """Temporary folders of installs that were killed (SIGKILL, power loss) before their rename:
    never used, removed by the next install (which holds the lock, so none is in progress)."""
    stale_js = entry.glob(".js-*.part") if entry.is_dir() else []
    for stale in [
        *entry.parent.glob(f".{entry.name}.*.part"),
        entry.with_name(f".{entry.name}.old"),
        *stale_js,
    ]:
        if stale.is_dir():
            log.info("removing %s (left by an interrupted npm install)", stale)
            shutil.rmtree(stale, ignore_errors=True)


def _offline_error(entry: Path, why: str) -> EvaluatorError:
    return EvaluatorError(
        f"the tfjs npm packages are not installed ({entry} is missing) and {why}: "
        f"run `{INSTALL_COMMAND}` once where the npm registry is reachable"
    )


def _npm_ci(where: Layout, entry: Path) -> None:
    """`npm ci` from the packaged lock file into a temporary folder beside `entry`, renamed to
    `entry` once it succeeded (fsutil.atomic_dir): whole or not at all."""
    if os.environ.get(OFFLINE_ENV) == "1":
        raise _offline_error(entry, f"${OFFLINE_ENV}=1 forbids downloads")
    npm, env = npm_command()
    version = tfjs_version(where)
    t0 = time.monotonic()
    log.info(
        "installing the tfjs npm packages (@tensorflow/tfjs %s, `npm ci` from quantlab's package-lock.json) "
        "into %s; once per lock file (about 300 MB)",
        version,
        entry,
    )
    with atomic_dir(entry) as tmp:
        for name in ("package.json", "package-lock.json"):
            shutil.copyfile(where.source / name, tmp / name)
        code, lines = _run_npm([*npm, *NPM_CI_PROGRESS], tmp, env, _tarballs(where.lock_file))
        text = "\n".join(lines)
        if code != 0:
            network = NETWORK_ERRORS.search(text)
            if network:
                raise _offline_error(entry, f"the npm registry cannot be reached (npm: {network.group(1)})")
            tail = " | ".join(line for line in lines if "npm error" in line.lower())[-400:] or text[-400:]
            raise EvaluatorError(f"`npm ci` failed (exit {code}): {tail}; run `{INSTALL_COMMAND}` to retry")
        if not packages_installed(tmp):
            tail = text[-300:]
            raise EvaluatorError(f"`npm ci` in {tmp} succeeded but @tensorflow/tfjs is not there: {tail}")
        marker = {
            "lock_sha256": sha256_hex(where.lock_file.read_bytes()),
            "tfjs": version,
            "npm": " ".join(npm),
            "installed_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "seconds": round(time.monotonic() - t0, 1),
        }
        write_text_atomic(tmp / MARKER, json.dumps(marker, indent=2) + "\n")
        hold("npm-install")  # tests: interrupted after npm ci, before the rename
    log.info("npm packages installed in %s (%.1f s)", entry, time.monotonic() - t0)


# The same `npm ci` at npm's http log level: one "npm http fetch GET 200 .../NAME-VERSION.tgz" line
# per package tarball moves the progress bar (a 300 MB install is otherwise silent for a minute).
NPM_CI_PROGRESS = [*(a for a in NPM_CI if not a.startswith("--loglevel")), "--loglevel=http"]


def _tarballs(lock_file: Path) -> int:
    """How many package tarballs `npm ci` fetches: the lock file's packages with a `resolved` URL."""
    try:
        packages = json.loads(lock_file.read_text()).get("packages", {})
    except (OSError, ValueError, AttributeError):
        return 0
    return sum(1 for p in packages.values() if isinstance(p, dict) and p.get("resolved"))


def _run_npm(cmd: list[str], cwd: Path, env: dict, tarballs: int = 0) -> tuple[int, list[str]]:
    """Run npm, its lines logged at debug level (npm's summary at info), a progress bar over
    `tarballs` when given; (exit code, last lines)."""
    log.debug("npm: %s (in %s)", " ".join(cmd), cwd)
    lines: collections.deque[str] = collections.deque(maxlen=60)
    proc = subprocess.Popen(
        cmd,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        with progress() if tarballs else contextlib.nullcontext() as bar:
            task = bar.add_task("npm ci", total=tarballs, info="package tarballs") if bar else None
            for line in proc.stdout:
                line = line.rstrip()
                if line:
                    lines.append(line)
                    log.debug("npm: %s", line)
                    if bar and "http fetch" in line and ".tgz" in line:
                        bar.advance(task)
            code = proc.wait()
            if bar and code == 0:
                bar.update(task, completed=tarballs)
    except BaseException:  # Ctrl-C, SIGTERM: npm and its scripts go too, then the temp folder
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    summary = [line for line in lines if line.startswith(("added ", "up to date"))]
    if code == 0 and summary:
        log.info("npm: %s", summary[-1])
    return code, list(lines)
