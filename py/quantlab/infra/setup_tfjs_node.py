"""Build @tensorflow/tfjs-node without downloads, against the TensorFlow C library inside the
installed `tensorflow` pip wheel (DESIGN 2.3). It goes into its own folder ($QUANTLAB_TFJS_NODE_DIR;
else .tfjs-node/ at the top of the checkout; for a quantlab installed from a wheel, the npm cache's
tfjs-node-<version>-<key>/, the key naming the TensorFlow it links to) built under a temp name
and renamed at the end, under a lock, so a failed build leaves the default install (node_modules/)
and any earlier build untouched."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
from importlib import metadata
from pathlib import Path

from ..errors import QuantlabError
from .node import find_node
from .node_packages import layout, node_cache_dir
from .npm_install import install_lock, npm_command, npm_root
from .progress import log

VERSION = "4.22.0"
ENV = "QUANTLAB_TFJS_NODE_DIR"
BINDING = Path("node_modules/@tensorflow/tfjs-node/lib/napi-v8/tfjs_binding.node")


def _tensorflow_key() -> str:
    """12 hex digits naming the pip TensorFlow a build links to (its folder and version), found
    without importing it: two virtualenvs sharing the cache get a build each."""
    try:
        spec = importlib.util.find_spec("tensorflow")
        where = str(Path(spec.origin).parent) if spec and spec.origin else "none"
        version = metadata.version("tensorflow")
    except (ImportError, ValueError, metadata.PackageNotFoundError):
        where, version = "none", "none"
    return hashlib.sha256(f"{where}|{version}".encode()).hexdigest()[:12]


def tfjs_node_dir() -> Path:
    if os.environ.get(ENV):
        return Path(os.environ[ENV])
    if layout().kind == "packaged":
        return node_cache_dir() / f"tfjs-node-{VERSION}-{_tensorflow_key()}"
    return npm_root(install=False) / ".tfjs-node"


def setup_command() -> str:
    """The command that builds tfjs-node here."""
    return (
        "quantlab setup --tfjs-node"
        if layout().kind == "packaged"
        else ".venv/bin/quantlab setup --tfjs-node"
    )


def tfjs_node_unavailable_reason() -> str | None:
    if (tfjs_node_dir() / BINDING).is_file():
        return None
    return f"tfjs-node not built in {tfjs_node_dir()} (run `{setup_command()}`)"


def _run(cmd: list[str], cwd: Path, env: dict, what: str) -> None:
    log.info("%s: %s", what, " ".join(cmd))
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
        raise QuantlabError(f"tfjs-node setup failed at {what} (exit {proc.returncode}): {tail}")


def setup_tfjs_node() -> Path:
    from .tfcompat import import_tensorflow

    import_tensorflow()
    import tensorflow as tf

    tf_dir = Path(tf.__file__).parent
    libs = {name: tf_dir / name for name in ("libtensorflow_cc.so.2", "libtensorflow_framework.so.2")}
    missing = [str(p) for p in [*libs.values(), tf_dir / "include"] if not p.exists()]
    if missing:
        raise QuantlabError(f"the tensorflow wheel lacks {', '.join(missing)}; cannot build tfjs-node")
    final = tfjs_node_dir()
    with install_lock(final.with_name(final.name + ".lock"), f"tfjs-node into {final}"):
        _build(final, tf_dir, libs)
    log.info("tfjs-node %s built in %s against TensorFlow %s", VERSION, final, tf.__version__)
    return final


def _build(final: Path, tf_dir: Path, libs: dict[str, Path]) -> None:
    work = final.with_name(final.name + ".part")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        (work / "package.json").write_text(
            json.dumps(
                {
                    "private": True,
                    "description": "tfjs-node built by `quantlab setup --tfjs-node`",
                    "dependencies": {"@tensorflow/tfjs-node": VERSION},
                    "allowScripts": {"@tensorflow/tfjs-node": True, "core-js": False},
                },
                indent=2,
            )
        )
        npm, env = npm_command()
        # No install scripts: tfjs-node's own script would download libtensorflow.
        _run([*npm, "install", "--ignore-scripts", "--no-audit", "--no-fund"], work, env, "npm install")
        deps = work / "node_modules" / "@tensorflow" / "tfjs-node" / "deps"
        (deps / "lib").mkdir(parents=True, exist_ok=True)
        (deps / "include").symlink_to(tf_dir / "include")
        links = {
            "libtensorflow_cc.so.2": libs["libtensorflow_cc.so.2"],
            "libtensorflow_framework.so.2": libs["libtensorflow_framework.so.2"],
            "libtensorflow.so": "libtensorflow_cc.so.2",
            "libtensorflow.so.2.9.1": "libtensorflow_cc.so.2",
            "libtensorflow_framework.so": "libtensorflow_framework.so.2",
        }
        for name, target in links.items():
            (deps / "lib" / name).symlink_to(target)
        _run([*npm, "rebuild", "@tensorflow/tfjs-node", "--build-from-source"], work, env, "native build")
        check = "const tf = require('@tensorflow/tfjs-node'); console.log(tf.getBackend())"
        proc = subprocess.run([find_node(), "-e", check], cwd=work, capture_output=True, text=True)
        if proc.returncode != 0 or proc.stdout.strip().splitlines()[-1:] != ["tensorflow"]:
            raise QuantlabError(f"tfjs-node was built but does not load: {proc.stderr.strip()[-300:]}")
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    old = final.with_name(final.name + ".old")
    if final.exists():
        final.rename(old)
    work.rename(final)
    shutil.rmtree(old, ignore_errors=True)
