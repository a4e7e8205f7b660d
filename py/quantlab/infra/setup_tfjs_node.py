"""Build @tensorflow/tfjs-node without downloads, against the TensorFlow C library inside the
installed `tensorflow` pip wheel (DESIGN 2.3). It goes into its own folder (.tfjs-node/ at the
top of the checkout, or $QUANTLAB_TFJS_NODE_DIR) built under a temp name and renamed at the end,
so a failed build leaves the default install (node_modules/) and any earlier build untouched."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from ..errors import QuantlabError
from ..runtimes.protocol import find_node, project_root
from .progress import log

VERSION = "4.22.0"
ENV = "QUANTLAB_TFJS_NODE_DIR"
BINDING = Path("node_modules/@tensorflow/tfjs-node/lib/napi-v8/tfjs_binding.node")


def tfjs_node_dir() -> Path:
    return Path(os.environ.get(ENV) or project_root() / ".tfjs-node")


def tfjs_node_unavailable_reason() -> str | None:
    if (tfjs_node_dir() / BINDING).is_file():
        return None
    return f"tfjs-node not built in {tfjs_node_dir()} (run `.venv/bin/quantlab setup --tfjs-node`)"


def _npm() -> tuple[list[str], dict]:
    """The npm command and environment matching find_node() (npm scripts need node on PATH)."""
    node = find_node()
    env = {**os.environ, "PATH": f"{Path(node).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    npm = shutil.which("npm", path=env["PATH"])
    return ([npm] if npm else [sys.executable, "-m", "nodejs.npm"]), env


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
        npm, env = _npm()
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
    log.info("tfjs-node %s built in %s against TensorFlow %s", VERSION, final, tf.__version__)
    return final
