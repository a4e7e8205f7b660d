"""The one build step beyond pyproject.toml: a wheel or sdist install carries the tfjs evaluator.

build_py copies what runs of js/ (the evaluator, its protocol, the browser page) and the npm
manifest and lock file into the built package as quantlab/_evaluator/ (js/, package.json,
package-lock.json), so an installed quantlab needs no checkout; MANIFEST.in puts the same files in
the sdist. An editable install (`pip install -e .`) copies nothing: the checkout keeps using its
own js/ and node_modules/ (quantlab.runtimes.node_packages)."""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
# Relative to the project root; the same list is in MANIFEST.in.
EVALUATOR_FILES = ("package.json", "package-lock.json", "js/*.mjs", "js/*.json", "js/browser/*.js",
                   "js/browser/*.html", "js/litert/*.mjs", "js/litert/*.html")  # fmt: skip
PACKAGED = "quantlab/_evaluator"


def evaluator_files() -> list[Path]:
    files = sorted({p for pattern in EVALUATOR_FILES for p in ROOT.glob(pattern) if p.is_file()})
    rel = {p.relative_to(ROOT).as_posix() for p in files}
    missing = [n for n in ("package.json", "package-lock.json", "js/evaluator.mjs", "js/protocol.json") if n not in rel]
    if missing:
        raise SystemExit(f"quantlab build: {', '.join(missing)} missing under {ROOT}; cannot package the evaluator")
    return files


class build_py_with_evaluator(build_py):  # noqa: N801 (setuptools' command naming)
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # `pip install -e .`: the checkout's own js/ is used
        for src in evaluator_files():
            dest = Path(self.build_lib, PACKAGED, src.relative_to(ROOT))
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest)

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        outputs = super().get_outputs(include_bytecode)
        if getattr(self, "editable_mode", False):
            return outputs
        return outputs + [str(Path(self.build_lib, PACKAGED, p.relative_to(ROOT))) for p in evaluator_files()]


setup(cmdclass={"build_py": build_py_with_evaluator})
