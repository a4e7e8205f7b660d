"""Shared fixtures. Real data comes from $QUANTLAB_DATA (CI points it at the shared folder)."""

from __future__ import annotations

import contextlib
import inspect
import io
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import quantlab  # noqa: F401  (sets the TensorFlow environment before any test imports TF)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]

# The CLIs the tests start inherit this process's signal dispositions. A suite started in the
# background or under nohup ignores SIGINT and SIGHUP, and so would every CLI it starts (quantlab
# keeps a signal it was started ignoring ignored, as nohup asks): the Ctrl-C and hang-up tests
# model a user at a terminal, so the suite handles both, and its children start with the defaults.
signal.signal(signal.SIGINT, signal.default_int_handler)
signal.signal(signal.SIGHUP, signal.SIG_DFL)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    value = os.environ.get("QUANTLAB_DATA")
    if not value:
        pytest.fail("set QUANTLAB_DATA to the data folder (CI uses ../shared/data)")
    return Path(value)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    # Never read or write the real user cache, and never download during tests.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.setenv("QUANTLAB_OFFLINE", "1")


@pytest.fixture(scope="session")
def small_convnet_dir(tmp_path_factory) -> Path:
    """A small trained-ish convnet saved as the four tfjs variants (weights from a short fit on
    random data, so outputs are not uniform)."""
    from quantlab.convert.converter import write_variants
    from quantlab.infra.tfcompat import keras, seed_everything

    k = keras()
    seed_everything(3)
    model = k.Sequential(
        [
            k.layers.InputLayer(input_shape=(12, 12, 1)),
            k.layers.Conv2D(4, 3, activation="relu", name="conv"),
            k.layers.BatchNormalization(name="bn"),
            k.layers.Flatten(name="flat"),
            k.layers.Dense(5, activation="softmax", name="dense"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    x = rng.random((64, 12, 12, 1), dtype=np.float32)
    model.fit(x, rng.integers(0, 5, 64), epochs=2, verbose=0)
    folder = tmp_path_factory.mktemp("small_convnet")
    write_variants(model, folder)
    model.save(folder / "keras.h5")
    np.save(folder / "x.npy", x)
    return folder


@pytest.fixture(scope="session")
def housing_quick(tmp_path_factory) -> Path:
    """MODELS folder with a quick housing model and its four variants (`train --quick`, then
    `quantize`), made once per test run: tests read it, or copy it before they change it."""
    models = tmp_path_factory.mktemp("housing_quick") / "models"
    for cmd in (("train", "housing", "--quick"), ("quantize", "housing")):
        proc = invoke_cli(*cmd, "--models-dir", str(models))
        assert proc.returncode == 0, proc.stderr[-3000:]
    return models


def run_cli(
    *args: str, env: dict | None = None, timeout: float = 600, cwd: Path | None = None
) -> subprocess.CompletedProcess:
    """The real `quantlab` CLI in a subprocess."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "quantlab.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        cwd=cwd or ROOT,
    )


def invoke_cli(
    *args: str | Path, env: dict | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess:
    """The `quantlab` CLI in this process (typer's CliRunner): the same app, option checks, error
    lines and exit codes as `run_cli` without a fresh interpreter and its imports (~2 s a call).
    For checks that end before any long work; signals and process exit stay with `run_cli`."""
    from typer.testing import CliRunner

    from quantlab.cli.app import app

    with contextlib.chdir(cwd or ROOT):
        result = CliRunner().invoke(app, [str(a) for a in args], env=env, catch_exceptions=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # escaped the CLI's own error handling: a bug, shown as one
    return subprocess.CompletedProcess(list(args), result.exit_code, result.stdout, result.stderr)


_STOCK_CONVERTER = """
import json, sys
from tensorflowjs.converters import converter
for argv in json.loads(sys.argv[1]):
    converter.convert(argv)  # what the tensorflowjs_converter command runs on its arguments
"""


def stock_converter(*argvs: list[str]) -> None:
    """The stock converter on each argument list (as `tensorflowjs_converter ARGS`): an independent
    reference. SavedModel inputs go through its own `convert(argv)` in this process, which has
    TensorFlow loaded already (quantlab converts SavedModels the same way); Keras and tfjs layers
    inputs, whose loading leaves Keras state behind, in one child process for all of them."""
    argvs = tuple([str(a) for a in argv] for argv in argvs)
    if all(argv[:2] == ["--input_format", "tf_saved_model"] for argv in argvs):
        from tensorflowjs.converters import converter

        with contextlib.redirect_stdout(io.StringIO()):
            for argv in argvs:
                converter.convert(argv)
        return
    import json

    proc = subprocess.run(
        [sys.executable, "-c", _STOCK_CONVERTER, json.dumps(argvs)],
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]


def node_processes_of(pattern: str = str(ROOT / "js" / "evaluator.mjs")) -> list[str]:
    out = subprocess.run(["pgrep", "-af", pattern], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if "pgrep" not in line]


def processes_with_env(marker: str) -> list[int]:
    """Pids of live processes whose environment contains `marker` (ours only, even when other
    test runs on this machine have evaluators of their own)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker.encode() in (entry / "environ").read_bytes():
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if state != "Z":
                    pids.append(int(entry.name))
        except OSError:
            continue
    return pids


def require_runtime(reason: str | None) -> None:
    """Skip a test whose browser or tfjs-node is missing here, but fail it in CI, whose set-up
    (`make test`) installs both: there a missing runtime is a broken set-up, not a pass."""
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must provide this runtime: {reason}")
        pytest.skip(reason)


# Tiers, applied by folder so that a new test lands in one without remembering a marker:
#   fast     tests/unit (no TensorFlow, no Node, no data: `make test-fast`, seconds)
#   e2e      the real CLI, converter and evaluator (every other folder: `make test-e2e`)
#   browser  headless Chromium (`-m browser`); signals: Ctrl-C / SIGTERM / crash tests (`-m signals`)
_BROWSER = ("browser", "chromium", "webgl", "webgpu", "check_report")
# ... and, outside tests/unit, any test that requires Chromium.
_BROWSER_SOURCE = ("require_runtime(browser_unavailable_", "require_runtime(chromium_unavailable_")
_SIGNALS = ("ctrl_c", "interrupt", "sigint", "sigterm", "sighup", "crash", "hang", "kill")


def pytest_configure(config):
    for name, what in (
        ("fast", "the fast tier: tests/unit, no TensorFlow, Node or data"),
        ("e2e", "through the real CLI, converter, evaluator or data"),
        ("browser", "needs headless Chromium"),
        ("signals", "interrupts, crashes and hangs of real processes"),
    ):
        config.addinivalue_line("markers", f"{name}: {what}")


# The longest test files (seconds, from `make test`'s --durations), started first: pytest-xdist
# hands out whole files in collection order, so a long file collected last would run alone at
# the end while the other worker idles. Order only; a file missing here runs after these.
_LONGEST_FIRST = (
    "install/test_wheel.py",  # 150
    "demos/test_mobilenet.py",  # 147 (both MobileNetV2 demos, one `run` of both)
    "infra/test_signals.py",  # 118
    "analyze/test_litert_cli.py",  # 80 (analyze, bench and delivery of LiteRT variants)
    "runtimes/test_delivery_browser.py",  # 71
    "analyze/test_shipped.py",  # 65
    "cli/test_cli.py",  # 45
    "analysis/test_parity.py",  # 44
    "analyze/test_analyze_cli.py",  # 42
    "analysis/test_diagnose.py",  # 36 (Model Explorer twice: a graph and a layers model)
    "analyze/test_parity_model.py",  # 27
    "test_readme.py",  # 24 (one test: the README's commands, each a fresh process)
    "analysis/test_pool_ray.py",  # 22
    "cli/test_cli_options.py",  # 18
    "analysis/test_pool.py",  # 17
    "demos/test_demo_litert.py",  # 17
    "demos/test_train.py",  # 15
    "analyze/test_equalize.py",  # 14
    "convert/test_convert.py",  # 14
)


def _named(test_name: str, keys: tuple[str, ...]) -> bool:
    """A key at the start of a word of the test's name ("hang" in hanging, not in change)."""
    name = "_" + re.sub(r"[^a-z0-9]+", "_", test_name.lower())
    return any("_" + k in name for k in keys)


def _file_rank(item) -> int:
    rel = Path(str(item.fspath)).relative_to(ROOT / "tests").as_posix()
    return _LONGEST_FIRST.index(rel) if rel in _LONGEST_FIRST else len(_LONGEST_FIRST)


def _uses_chromium(item) -> bool:
    """A test that requires Chromium to run (skips, or fails in CI, without it), itself or
    through a fixture it asks for."""
    functions = [item.function]
    for defs in item._fixtureinfo.name2fixturedefs.values():
        functions += [d.func for d in defs if "tests" in Path(inspect.getfile(d.func)).parts]
    for function in functions:
        with contextlib.suppress(OSError, TypeError):
            if any(mark in inspect.getsource(function) for mark in _BROWSER_SOURCE):
                return True
    return False


def pytest_collection_modifyitems(config, items):
    items.sort(key=_file_rank)  # stable: tests keep their order within a file
    for item in items:
        parts = Path(str(item.fspath)).relative_to(ROOT / "tests").parts
        item.add_marker(pytest.mark.fast if parts[0] == "unit" else pytest.mark.e2e)
        browser = _named(item.name, _BROWSER) or "browser" in parts[-1]
        if parts[0] != "unit" and (browser or _uses_chromium(item)):
            item.add_marker(pytest.mark.browser)
        if _named(item.name, _SIGNALS) or parts[-1] in ("test_interrupts.py", "test_signals.py"):
            item.add_marker(pytest.mark.signals)
