"""Where the evaluator and its npm packages are (checkout, override, installed), and the on-demand
install into the per-user cache: once, whole or not at all, one line when offline. npm is a fake
here (a Python script); tests/install runs the real one from a wheel."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from quantlab.errors import EvaluatorError
from quantlab.infra import node_packages as npm
from quantlab.infra import npm_install as inst

ROOT = Path(__file__).resolve().parents[2]

FAKE_NPM = """
import json, os, sys
from pathlib import Path
with open(os.environ["FAKE_NPM_LOG"], "a") as f:
    f.write(" ".join(sys.argv[1:]) + "\\n")
mode = os.environ.get("FAKE_NPM_MODE", "ok")
if mode == "offline":
    print("npm error code ECONNREFUSED")
    print("npm error network request to http://127.0.0.1:9/@tensorflow%2ftfjs failed")
    sys.exit(1)
if mode == "broken":
    print("npm error code EUSAGE")
    print("npm error The `npm ci` command can only install with an existing package-lock.json")
    sys.exit(1)
pkg = Path("node_modules/@tensorflow/tfjs")
pkg.mkdir(parents=True)
(pkg / "package.json").write_text(json.dumps({"name": "@tensorflow/tfjs", "version": "4.22.0"}))
print("added 72 packages in 1s")
"""


@pytest.fixture
def packaged(tmp_path, monkeypatch):
    """An installed quantlab's layout (quantlab/_evaluator/ as setup.py makes it), a fake npm and
    an empty node cache."""
    pkg = tmp_path / "site" / "quantlab" / "_evaluator"
    (pkg / "js" / "browser").mkdir(parents=True)
    for name in ("package.json", "package-lock.json"):
        (pkg / name).write_bytes((ROOT / name).read_bytes())
    for name in ("evaluator.mjs", "protocol.json", "browser/runner.js"):
        (pkg / "js" / name).write_bytes((ROOT / "js" / name).read_bytes())
    monkeypatch.setattr(npm, "PACKAGED", pkg)
    monkeypatch.delenv("QUANTLAB_JS_DIR", raising=False)
    monkeypatch.setenv("QUANTLAB_NODE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("QUANTLAB_OFFLINE", "0")
    monkeypatch.setenv("FAKE_NPM_LOG", str(tmp_path / "npm.log"))
    script = tmp_path / "fake_npm.py"
    script.write_text(FAKE_NPM)
    monkeypatch.setattr(inst, "npm_command", lambda: ([sys.executable, str(script)], dict(os.environ)))
    return tmp_path


def _npm_calls(tmp_path: Path) -> list[str]:
    log = tmp_path / "npm.log"
    return log.read_text().splitlines() if log.exists() else []


def test_checkout_and_override_layouts(monkeypatch, tmp_path):
    monkeypatch.delenv("QUANTLAB_JS_DIR", raising=False)
    where = npm.layout()
    assert (where.kind, where.js, where.source) == ("checkout", ROOT / "js", ROOT)
    assert inst.npm_root(install=False) == ROOT and inst.evaluator_dir() == ROOT / "js"
    assert npm.install_command() == "make setup"
    monkeypatch.setenv("QUANTLAB_JS_DIR", str(tmp_path / "js"))
    where = npm.layout()
    assert (where.kind, where.source) == ("override", tmp_path)
    assert inst.npm_root() == tmp_path  # an override installs nothing
    assert "npm ci" in npm.npm_packages_missing()


def test_tfjs_version_and_cache_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("QUANTLAB_JS_DIR", raising=False)
    lock = json.loads((ROOT / "package-lock.json").read_text())
    assert npm.tfjs_version() == lock["packages"]["node_modules/@tensorflow/tfjs"]["version"]
    monkeypatch.delenv("QUANTLAB_NODE_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert npm.node_cache_dir() == tmp_path / "xdg" / "quantlab" / "node"
    monkeypatch.setenv("QUANTLAB_NODE_CACHE", str(tmp_path / "mine"))
    assert npm.node_cache_dir() == tmp_path / "mine"


def test_installed_once_into_the_cache_then_reused(packaged):
    where = npm.layout()
    assert where.kind == "packaged"
    assert "quantlab setup --npm" in npm.npm_packages_missing()
    first = inst.ensure_installed()
    key = npm.cache_key(where)
    assert first.installed and first.entry == packaged / "cache" / key and len(key) == 16
    assert _npm_calls(packaged) == ["ci --no-audit --no-fund --loglevel=http"]  # http: the progress lines
    marker = json.loads((first.entry / npm.MARKER).read_text())
    assert marker["lock_sha256"].startswith(key) and marker["tfjs"] == "4.22.0"
    # the evaluator runs from a copy beside node_modules/, so Node resolves @tensorflow/* there
    assert first.js.parent == first.entry and (first.js / "evaluator.mjs").is_file()
    assert (first.js / "browser" / "runner.js").read_bytes() == (
        ROOT / "js" / "browser" / "runner.js"
    ).read_bytes()
    again = inst.ensure_installed()
    assert again == (first.entry, first.js, False) and len(_npm_calls(packaged)) == 1
    assert npm.npm_packages_missing() is None and inst.evaluator_dir() == first.js
    # changed evaluator files, same lock file: a new copy, no new npm install
    (where.js / "evaluator.mjs").write_text("// changed\n")
    third = inst.ensure_installed()
    assert third.js != first.js and not third.installed and len(_npm_calls(packaged)) == 1
    assert sorted(p.name for p in (packaged / "cache").iterdir()) == [f".{key}.lock", key]


def test_interrupted_install_leaves_nothing(packaged, monkeypatch):
    def interrupt(point):
        raise KeyboardInterrupt

    monkeypatch.setattr(inst, "hold", interrupt)  # after npm ci and the marker, before the rename
    with pytest.raises(KeyboardInterrupt):
        inst.ensure_installed()
    assert [p.name for p in (packaged / "cache").iterdir()] == [f".{npm.cache_key(npm.layout())}.lock"]


def test_leftover_of_a_killed_install_is_removed(packaged):
    key = npm.cache_key(npm.layout())
    stale = packaged / "cache" / f".{key}.abcd1234.part"
    (stale / "node_modules").mkdir(parents=True)
    assert inst.ensure_installed().installed and not stale.exists()


@pytest.mark.parametrize("mode", ["offline", "broken"])
def test_npm_failure_is_one_line_exit_5(packaged, monkeypatch, mode):
    monkeypatch.setenv("FAKE_NPM_MODE", mode)
    with pytest.raises(EvaluatorError) as e:
        inst.ensure_installed()
    msg = str(e.value)
    assert e.value.exit_code == 5 and "\n" not in msg and "quantlab setup --npm" in msg
    if mode == "offline":
        assert "npm registry cannot be reached (npm: ECONNREFUSED)" in msg
    else:
        assert "`npm ci` failed (exit 1)" in msg and "EUSAGE" in msg
    assert [p.name for p in (packaged / "cache").iterdir()] == [f".{npm.cache_key(npm.layout())}.lock"]


def test_quantlab_offline_does_not_try(packaged, monkeypatch):
    monkeypatch.setenv("QUANTLAB_OFFLINE", "1")
    with pytest.raises(
        EvaluatorError, match=r"QUANTLAB_OFFLINE=1 forbids downloads: run `quantlab setup --npm`"
    ):
        inst.ensure_installed()
    assert _npm_calls(packaged) == []


def test_the_progress_bar_counts_the_lock_files_tarballs(tmp_path):
    """One step per package npm ci fetches (a `resolved` URL in the lock file): not the root, not a
    linked workspace; the bar advances on npm's http lines that fetch a .tgz."""
    from quantlab.infra.npm_install import NPM_CI_PROGRESS, _tarballs

    lock = tmp_path / "package-lock.json"
    lock.write_text(
        '{"packages": {"": {"name": "x"}, "node_modules/a": {"resolved": "https://r/a/-/a-1.0.0.tgz"},'
        ' "node_modules/b": {"resolved": "https://r/b/-/b-2.0.0.tgz"}, "node_modules/w": {"link": true}}}'
    )
    assert _tarballs(lock) == 2
    lock.write_text("not json")
    assert _tarballs(lock) == 0  # no bar, not a failure: npm itself says what is wrong
    assert NPM_CI_PROGRESS[0] == "ci" and NPM_CI_PROGRESS[-1] == "--loglevel=http"
    assert sum(a.startswith("--loglevel") for a in NPM_CI_PROGRESS) == 1
