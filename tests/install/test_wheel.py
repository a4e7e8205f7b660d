"""quantlab installed from its wheel, outside any checkout (issue 24): the wheel and the sdist carry
the evaluator; the npm packages are installed on first need into the per-user cache, once, under a
lock, atomically; `quantlab analyze` gives the checkout's figures.

The wheel is built from a copy of the sources (`pip wheel --no-deps`) and installed with
`--no-deps` into a fresh virtualenv outside the clone, whose site-packages gets a .pth line naming
this venv's site-packages for the (large) dependencies: the new site-packages comes first, so
`import quantlab` is the wheel's copy, never the editable checkout (checked). Every command runs
from a temporary folder with QUANTLAB_JS_DIR unset and XDG_CACHE_HOME a temporary folder. `make
test-install` runs this folder."""

from __future__ import annotations

import json
import os
import shutil
import signal
import site
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT, invoke_cli, processes_with_env, require_runtime

# What a source tree needs to build quantlab (what `git clone` gives, less tests and reports).
SOURCES = (
    "pyproject.toml",
    "setup.py",
    "MANIFEST.in",
    "README.md",
    "package.json",
    "package-lock.json",
    "js",
    "py",
)
EVALUATOR = (
    "package.json",
    "package-lock.json",
    "js/evaluator.mjs",
    "js/protocol.json",
    "js/static_server.mjs",
    "js/tensor_io.mjs",
    "js/browser/compare.js",
    "js/browser/harness.js",
    "js/browser/index.html",
    "js/browser/runner.js",
    "js/litert/harness.mjs",
    "js/litert/index.html",
)
MODEL = ROOT / "tests" / "fixtures" / "js" / "seq_batchnorm"
INSTALLING = "installing the tfjs npm packages (@tensorflow/tfjs"  # the installer's first line
# Overrides that would point an installed quantlab back at the checkout, or at another cache.
CLEARED = ("QUANTLAB_JS_DIR", "QUANTLAB_NODE_CACHE", "QUANTLAB_TFJS_NODE_DIR", "PYTHONPATH", "VIRTUAL_ENV")


class Installed:
    def __init__(self, base: Path, wheel: Path, sdist: Path, venv: Path):
        self.base, self.wheel, self.sdist, self.venv = base, wheel, sdist, venv
        self.quantlab = venv / "bin" / "quantlab"
        self.cache = base / "xdg-cache"  # XDG_CACHE_HOME
        self.work = base / "work"  # the cwd of every command: outside the clone
        self.work.mkdir()

    def env(self, **extra: str) -> dict:
        env = {k: v for k, v in os.environ.items() if k not in CLEARED}
        path = [p for p in env.get("PATH", "").split(os.pathsep) if Path(p) != Path(sys.executable).parent]
        env.update(
            PATH=os.pathsep.join([str(self.venv / "bin"), *path]),
            XDG_CACHE_HOME=str(self.cache),
            QUANTLAB_OFFLINE="0",  # the npm registry is reachable (conftest forbids data downloads)
            COLUMNS="400",  # log lines unwrapped
        )
        env.update(extra)
        return env

    def run(self, *args: str, timeout: float = 600, **extra: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(self.quantlab), *args],
            cwd=self.work,
            env=self.env(**extra),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def start(self, *args: str, **extra: str) -> subprocess.Popen:
        return subprocess.Popen(
            [str(self.quantlab), *args],
            cwd=self.work,
            env=self.env(**extra),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def node_cache(self) -> Path:
        return self.cache / "quantlab" / "node"

    def entries(self, cache: Path | None = None) -> list[Path]:
        """Cache entries (no dot) of a node cache."""
        cache = cache or self.node_cache()
        return (
            sorted(p for p in cache.iterdir() if p.is_dir() and not p.name.startswith("."))
            if cache.is_dir()
            else []
        )


def _copy_sources(dest: Path) -> None:
    dest.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
    for name in SOURCES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=ignore)
        else:
            shutil.copy2(src, dest / name)


def _check(proc: subprocess.CompletedProcess, what: str) -> subprocess.CompletedProcess:
    assert proc.returncode == 0, (
        f"{what}: exit {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    )
    return proc


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Installed:
    base = tmp_path_factory.mktemp("install")
    assert ROOT not in base.parents
    src = base / "src"
    _copy_sources(src)
    dist = base / "dist"
    # the wheel, as the issue builds it; and the sdist, through setuptools' PEP 517 hook
    _check(
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), "./src"],
            cwd=base,
            capture_output=True,
            text=True,
            timeout=600,
        ),
        "pip wheel",
    )
    sdist_code = f"from setuptools import build_meta; print(build_meta.build_sdist({str(dist)!r}))"
    _check(
        subprocess.run(
            [sys.executable, "-c", sdist_code], cwd=src, capture_output=True, text=True, timeout=300
        ),
        "sdist",
    )
    (wheel,) = dist.glob("quantlab-*.whl")
    (sdist,) = dist.glob("quantlab-*.tar.gz")
    venv = base / "venv"
    _check(
        subprocess.run(
            [sys.executable, "-m", "venv", "--without-pip", str(venv)], capture_output=True, text=True
        ),
        "venv",
    )
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # The dependencies: this venv's site-packages, after the new one (a plain path line; the
    # editable install's own .pth in there is not processed, so the checkout stays out of reach).
    deps = [p for p in site.getsitepackages() if Path(p).is_dir()]
    Path(purelib, "zz_quantlab_deps.pth").write_text("\n".join(deps) + "\n")
    _check(
        subprocess.run(
            [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", str(wheel)],
            capture_output=True,
            text=True,
            timeout=300,
        ),
        "pip install wheel",
    )
    got = _check(
        subprocess.run(
            [
                str(python),
                "-c",
                "import quantlab, importlib.metadata as m; print(quantlab.__file__); "
                "print(m.distribution('quantlab')._path)",
            ],  # fmt: skip
            cwd=base,
            env={k: v for k, v in os.environ.items() if k not in CLEARED},
            capture_output=True,
            text=True,
        ),
        "import quantlab",
    ).stdout.split()
    assert all(Path(p).is_relative_to(venv) for p in got), f"quantlab resolves to {got}, not the wheel's copy"
    return Installed(base, wheel, sdist, venv)


def test_wheel_and_sdist_carry_the_evaluator(installed):
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    assert {f"quantlab/_evaluator/{f}" for f in EVALUATOR} <= names
    assert "quantlab/report/templates/demo.html.j2" in names
    assert not [n for n in names if "node_modules" in n or n.startswith(("tests/", "js/"))]
    with tarfile.open(installed.sdist) as tar:
        members = {m.name.split("/", 1)[1] for m in tar.getmembers() if "/" in m.name}
    assert set(EVALUATOR) | {"setup.py", "MANIFEST.in", "pyproject.toml"} <= members
    # the packaged copy is the checkout's, byte for byte
    site_pkgs = Path(
        subprocess.run(
            [str(installed.venv / "bin" / "python"), "-c", "import quantlab; print(quantlab.__file__)"],
            capture_output=True,
            text=True,
            env=installed.env(),
            check=True,
        ).stdout.strip()
    ).parent
    for name in EVALUATOR:
        assert (site_pkgs / "_evaluator" / name).read_bytes() == (ROOT / name).read_bytes(), name
    version = _check(installed.run("--version"), "--version").stdout.strip()
    tfjs = json.loads((ROOT / "package-lock.json").read_text())["packages"]["node_modules/@tensorflow/tfjs"]
    assert version == f"quantlab 0.1.0 (tfjs {tfjs['version']})"


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, (
            f"exited {proc.returncode} before {path.name}: {proc.communicate()[1][-2000:]}"
        )
        assert time.monotonic() < deadline, f"no {path} within {timeout} s"
        time.sleep(0.1)


def test_npm_install_interrupted_then_two_first_runs_at_once(installed, tmp_path):
    """Setup report -> an install stopped by SIGTERM while `npm ci` runs leaves nothing, npm
    included -> one killed (SIGKILL) after `npm ci`, before the rename, leaves no entry, only a
    hidden temp folder -> two installs at once both succeed, one runs `npm ci`, the other waits
    for the lock, and the leftover is removed -> the report says ready."""
    report = _check(installed.run("setup"), "setup").stdout.splitlines()
    assert [line.split()[0] for line in report] == [
        "ready",
        "ready",
        "missing",
        *[r.split()[0] for r in report[3:]],
    ]
    assert [line.split()[1] for line in report] == ["python", "node", "npm", "chromium", "tfjs-node", "model"]
    assert "run `quantlab setup --npm`" in report[2] and str(installed.node_cache()) in report[2]
    # no line without a command to run for what is missing
    assert all(
        "run `" in line or "install it with `" in line for line in report if line.startswith("missing")
    )

    block = tmp_path / "block"
    for sig, leftover in ((signal.SIGTERM, False), (signal.SIGKILL, True)):
        shutil.rmtree(block, ignore_errors=True)
        block.mkdir()
        marker = f"QUANTLAB_TEST_NPM_RUN={tmp_path.name}-{sig.name}"  # in npm's environment too
        proc = installed.start(
            "setup", "--npm", QUANTLAB_TEST_HOLD="npm-install", QUANTLAB_TEST_BLOCK_DIR=str(block),
            **dict([marker.split("=")]),
        )  # fmt: skip
        if sig == signal.SIGTERM:  # while npm ci writes node_modules (or, were it done, in the hold)
            _wait_for_any(lambda: list(installed.node_cache().glob(".*.part/node_modules")), block, proc)
        else:  # npm ci done, not renamed yet: the worst moment to die
            _wait_for(block / "npm-install-started", proc)
            parts = list(installed.node_cache().glob(".*.part"))
            assert len(parts) == 1 and (parts[0] / "node_modules" / "@tensorflow" / "tfjs").is_dir()
        assert installed.entries() == []
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == (143 if sig == signal.SIGTERM else -signal.SIGKILL), err[-2000:]
        assert installed.entries() == [], f"an interrupted install left an entry ({sig.name})"
        assert bool(list(installed.node_cache().glob(".*.part"))) == leftover, sig.name
        if sig == signal.SIGTERM:
            assert processes_with_env(marker) == [], "npm outlived the install it belonged to"

    procs = [installed.start("setup", "--npm") for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [e[-2000:] for _, e in outs]
    logs = [err for _, err in outs]
    assert sum(INSTALLING in log for log in logs) == 1, logs
    waiter = next(log for log in logs if INSTALLING not in log)
    assert "waiting for another quantlab" in waiter and "installed by another quantlab meanwhile" in waiter
    installer = next(log for log in logs if INSTALLING in log)
    assert "left by an interrupted npm install" in installer and "npm packages installed:" in installer
    (entry,) = installed.entries()
    assert not list(installed.node_cache().glob(".*.part"))
    marker = json.loads((entry / ".quantlab-installed").read_text())
    assert entry.name == marker["lock_sha256"][:16]
    assert [p.name for p in entry.glob("js-*")] and (entry / "node_modules" / "@tensorflow" / "tfjs").is_dir()

    again = _check(installed.run("setup", "--npm"), "setup --npm again")
    assert "already installed, nothing to do" in again.stderr
    report = _check(installed.run("setup"), "setup").stdout.splitlines()
    assert report[2].startswith("ready") and str(entry / "node_modules") in report[2]


def _wait_for_any(found, block: Path, proc: subprocess.Popen, timeout: float = 300) -> None:
    """Until `found()` is non-empty or the install holds (block/npm-install-started)."""
    deadline = time.monotonic() + timeout
    while not found() and not (block / "npm-install-started").exists():
        assert proc.poll() is None, f"exited {proc.returncode}: {proc.communicate()[1][-2000:]}"
        assert time.monotonic() < deadline, f"no npm install within {timeout} s"
        time.sleep(0.05)


def _make_h5(path: Path) -> None:
    """A small Keras .h5 (Dense, BatchNorm, softmax), made in this process (TensorFlow is here)."""
    from quantlab.infra.tfcompat import keras, seed_everything

    k = keras()
    seed_everything(0)
    L = k.layers  # noqa: N806
    model = k.Sequential(
        [
            L.InputLayer(input_shape=(6,)),
            L.Dense(8, activation="relu", name="h"),
            L.BatchNormalization(name="bn"),
            L.Dense(3, activation="softmax", name="out"),
        ]
    )
    model.save(path)


# Fields that differ from run to run whoever runs them: times, dates, the command line, and the
# gzip ratio (a tar.gz of the files, whose headers hold their mtimes).
VOLATILE = {"timings_s", "created", "environment", "command", "wall_seconds", "gzip_ratio", "runtime"}


def _figures(results: Path) -> dict:
    def strip(obj):
        if isinstance(obj, dict):
            return {k: strip(v) for k, v in obj.items() if k not in VOLATILE and not k.endswith("_ms")}
        if isinstance(obj, list):
            return [strip(v) for v in obj]
        return obj

    return strip(json.loads(results.read_text()))


def test_analyze_from_the_wheel_matches_the_checkout(installed, tmp_path):
    """A tfjs layers model and a Keras .h5, analysed by the installed quantlab in one command (its
    npm packages from the cache, installed once: this test installs them itself when run alone)
    and by the checkout one at a time: the same results.json figures."""
    h5 = tmp_path / "tiny.h5"
    _make_h5(h5)
    if not installed.entries():
        _check(installed.run("setup", "--npm"), "setup --npm")
    (entry,) = installed.entries()
    marker = entry / ".quantlab-installed"
    stamp = (marker.stat().st_mtime_ns, entry.stat().st_mtime_ns)
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    where = ["--out", "reports", "--models-dir", "models"]
    # both models in one installed command (one interpreter start); the checkout, in-process, one
    # command each: each model's figures are its own, however many a command analyses
    proc = _check(installed.run("analyze", str(MODEL), str(h5), *where), "installed analyze")
    assert INSTALLING not in proc.stderr, "the second run installed again"
    for model, name in ((MODEL, "seq_batchnorm"), (h5, "tiny")):
        _check(invoke_cli("analyze", str(model), *where, cwd=checkout), f"checkout analyze {name}")
        mine = installed.work / "reports" / name / "results.json"
        theirs = checkout / "reports" / name / "results.json"
        record = json.loads(mine.read_text())
        assert record["environment"]["packages"]["quantlab"] == "0.1.0"
        assert record["environment"]["packages"]["tfjs"] == record["environment"]["runtime"]["tfjs_version"]
        assert record["variants"] and _figures(mine) == _figures(theirs), name
        assert (installed.work / "reports" / "index.html").is_file()
    assert (marker.stat().st_mtime_ns, entry.stat().st_mtime_ns) == stamp  # reused, not remade
    assert installed.entries() == [entry]


def test_parity_in_chromium_from_the_wheel(installed):
    from quantlab.infra.chromium import chromium_unavailable_reason

    require_runtime(chromium_unavailable_reason())
    proc = installed.run(
        "parity",
        str(MODEL),
        "-r",
        "browser-cpu",
        "--out",
        "parity-reports",
        "--models-dir",
        "parity-models",
        "--json",
    )
    record = json.loads(_check(proc, "parity").stdout)
    assert record["passed"] and not record["unavailable"] and "browser-cpu" in record["runtimes"]
    assert any(p["actual"].startswith("browser-cpu") and p["passed"] for p in record["pairs"])


def test_offline_with_nothing_cached(installed, tmp_path):
    """No npm packages cached and no registry: one line naming `quantlab setup --npm`, exit 5, no
    entry. `analyze` (the first command that needs the evaluator) with $QUANTLAB_OFFLINE=1, and
    `setup --npm` against a registry that refuses connections (npm's own cache empty)."""
    unreachable = {
        "npm_config_registry": "http://127.0.0.1:9/",
        "npm_config_fetch_retries": "0",
        "npm_config_cache": str(tmp_path / "empty-npm-cache"),
    }
    for name, args, extra, why in (
        (
            "offline",
            ["analyze", str(MODEL), "--out", "r-offline", "--models-dir", "m-offline"],
            {"QUANTLAB_OFFLINE": "1"},
            "$QUANTLAB_OFFLINE=1 forbids downloads",
        ),
        (
            "unreachable",
            ["setup", "--npm"],
            unreachable,
            "the npm registry cannot be reached (npm: ECONNREFUSED)",
        ),
    ):
        cache = tmp_path / name
        proc = installed.run(*args, QUANTLAB_NODE_CACHE=str(cache), **extra)
        errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
        assert proc.returncode == 5, proc.stderr[-2000:]
        assert len(errors) == 1, proc.stderr[-2000:]
        assert f"{why}: run `quantlab setup --npm` once where the npm registry is reachable" in errors[0]
        assert installed.entries(cache) == [] and not list(cache.glob(".*.part"))


def test_demo_from_the_wheel(installed, data_dir):
    """`quantlab run mnist` from the wheel, its data found through $QUANTLAB_DATA (not packaged)."""
    proc = installed.run("run", "mnist", "--quick", "--out", "demo-reports", "--models-dir", "demo-models",
                         QUANTLAB_DATA=str(data_dir), QUANTLAB_OFFLINE="0")  # fmt: skip
    _check(proc, "run mnist")
    record = json.loads((installed.work / "demo-reports" / "mnist" / "results.json").read_text())
    assert {v["name"] for v in record["variants"]} >= {"float32", "uint8"}
