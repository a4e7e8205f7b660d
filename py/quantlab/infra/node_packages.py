"""Where the tfjs evaluator's files and its npm packages are, and the on-demand `npm ci`.

Three layouts; the first that applies wins:

- `$QUANTLAB_JS_DIR` (development override): the evaluator in that folder, its npm packages in
  the folder above (`node_modules/` beside it); nothing is installed.
- installed from a wheel or an sdist: the evaluator is package data, `quantlab/_evaluator/`
  (`js/`, `package.json`, `package-lock.json`; setup.py copies them there at build time). Its npm
  packages are installed on first need, with `npm ci` from that lock file, into the per-user cache
  entry `CACHE/<sha256 of the lock file, 16 hex>/` (CACHE: `$QUANTLAB_NODE_CACHE`, else
  `$XDG_CACHE_HOME/quantlab/node`, else `~/.cache/quantlab/node`). Node resolves the evaluator's
  `import '@tensorflow/tfjs'` from the importing file's folder upwards (ES modules ignore
  NODE_PATH, and a symlinked node_modules resolves from its real path), so the evaluator runs from
  a copy of the packaged js/ inside the entry, `ENTRY/js-<sha256 of the js files, 12 hex>/`, whose
  parent holds `node_modules/`. The install is made under an exclusive lock (`CACHE/.<key>.lock`),
  into a temporary folder beside the entry that is renamed into place only once `npm ci`
  succeeded and the marker file is written: a run that is interrupted leaves no entry, a second
  run that starts meanwhile waits for the lock and then uses the first one's entry.
- a checkout (`pip install -e .`, or `py/` on PYTHONPATH): its `js/` and the `node_modules/` that
  `make setup` installs beside it; nothing is installed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import EvaluatorError

JS_DIR_ENV = "QUANTLAB_JS_DIR"
CACHE_ENV = "QUANTLAB_NODE_CACHE"
OFFLINE_ENV = "QUANTLAB_OFFLINE"
PACKAGED = Path(__file__).resolve().parents[1] / "_evaluator"  # quantlab/_evaluator/ (wheel, sdist)
CHECKOUT = Path(__file__).resolve().parents[3]  # the top of a checkout, when running from one
MARKER = ".quantlab-installed"
INSTALL_COMMAND = "quantlab setup --npm"
NPM_CI = ["ci", "--no-audit", "--no-fund", "--loglevel=error"]  # what `make setup` runs
NETWORK_ERRORS = re.compile(
    r"\b(ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|EHOSTUNREACH|ERR_SOCKET_TIMEOUT)\b"
)


@dataclass(frozen=True)
class Layout:
    """kind: "override" ($QUANTLAB_JS_DIR), "packaged" (wheel or sdist install) or "checkout".
    js: the evaluator's own files (evaluator.mjs, protocol.json, browser/). source: the folder
    holding package.json and package-lock.json (for an override, the folder above js)."""

    kind: str
    js: Path
    source: Path

    @property
    def lock_file(self) -> Path:
        return self.source / "package-lock.json"


def layout() -> Layout:
    override = os.environ.get(JS_DIR_ENV)
    if override:
        js = Path(override)
        return Layout("override", js, js.parent)
    if (PACKAGED / "package-lock.json").is_file() and (PACKAGED / "js" / "protocol.json").is_file():
        return Layout("packaged", PACKAGED / "js", PACKAGED)
    if (CHECKOUT / "js" / "protocol.json").is_file():
        return Layout("checkout", CHECKOUT / "js", CHECKOUT)
    raise EvaluatorError(
        f"the tfjs evaluator's files are missing: neither {PACKAGED} (an installed quantlab) nor "
        f"{CHECKOUT / 'js'} (a checkout) exists; reinstall quantlab, or set ${JS_DIR_ENV} to a js/ folder"
    )


def tfjs_version(where: Layout | None = None) -> str | None:
    """The @tensorflow/tfjs version quantlab's evaluator is pinned to (its package-lock.json, else
    package.json), without Node: for `quantlab --version` and the environment record."""
    try:
        where = where or layout()
        lock = json.loads(where.lock_file.read_text(encoding="utf-8"))
        version = lock.get("packages", {}).get("node_modules/@tensorflow/tfjs", {}).get("version")
        if version:
            return version
        pkg = json.loads((where.source / "package.json").read_text(encoding="utf-8"))
        return pkg.get("dependencies", {}).get("@tensorflow/tfjs")
    except (OSError, ValueError, AttributeError, EvaluatorError):
        return None


def node_cache_dir() -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "quantlab" / "node"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def cache_key(where: Layout) -> str:
    """The first 16 hex digits of the lock file's sha256: one entry per set of npm packages."""
    return sha256_hex(where.lock_file.read_bytes())[:16]


def js_key(js: Path) -> str:
    """12 hex digits of a sha256 over the evaluator's files (names and bytes)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in js.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(path.relative_to(js).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def cache_entry(where: Layout | None = None) -> Path:
    where = where or layout()
    return node_cache_dir() / cache_key(where)


def packages_installed(root: Path) -> bool:
    return (root / "node_modules" / "@tensorflow" / "tfjs" / "package.json").is_file()


def install_command(where: Layout | None = None) -> str:
    """The command that installs the npm packages for this layout."""
    where = where or layout()
    if where.kind == "packaged":
        return INSTALL_COMMAND
    if where.kind == "checkout":
        return "make setup"
    return f"npm ci (in {where.source})"


def npm_packages_missing() -> str | None:
    """None when the evaluator's npm packages are installed; else what is missing and the command."""
    where = layout()
    root = where.source if where.kind != "packaged" else cache_entry(where)
    if where.kind == "packaged" and (root / MARKER).is_file() and packages_installed(root):
        return None
    if where.kind != "packaged" and packages_installed(root):
        return None
    what = f"@tensorflow/tfjs {tfjs_version(where) or ''}".strip()
    return f"{what} not installed in {root / 'node_modules'}: run `{install_command(where)}`"
