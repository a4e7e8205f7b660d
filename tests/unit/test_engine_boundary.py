"""The engine (a user's model's road) never imports demo code: the demos are its clients.

The engine is every module outside quantlab/demos/ and quantlab/cli/ (the CLI may import both),
found from the package tree, so a new module is checked without being listed here."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import quantlab

PACKAGE = Path(quantlab.__file__).resolve().parent
DEMO_CODE = "quantlab.demos"  # every demo module lives under it: registry, architectures, datasets...
CLIENTS = ("demos", "cli")  # may import anything


def _dotted(path: Path) -> str:
    parts = ["quantlab", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def engine_files() -> list[Path]:
    return sorted(
        p
        for p in PACKAGE.rglob("*.py")
        if p.relative_to(PACKAGE).parts[0] not in CLIENTS and "__pycache__" not in p.parts
    )


def _is_demo(name: str) -> bool:
    return name == DEMO_CODE or name.startswith(DEMO_CODE + ".")


def _demo_and_tf_modules_after_importing(modules: list[str]) -> list[str]:
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in modules)
        + f"demo = {DEMO_CODE!r}\n"
        + "bad = [m for m in sys.modules if m == demo or m.startswith(demo + '.')]\n"
        + "bad += [m for m in ('tensorflow', 'tf_keras', 'tensorflowjs') if m in sys.modules]\n"
        + "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return [m for m in out.strip().split(",") if m]


def test_the_engine_is_most_of_the_package():
    names = {_dotted(p) for p in engine_files()}
    assert {"quantlab.analysis.analyze", "quantlab.inputs", "quantlab.convert.source"} <= names
    assert not any(_is_demo(n) or n.startswith("quantlab.cli") for n in names)
    assert len(names) >= 30


def test_engine_modules_import_no_demo_code_and_no_tensorflow():
    assert _demo_and_tf_modules_after_importing([_dotted(p) for p in engine_files()]) == []


def test_no_engine_module_imports_demo_code_even_inside_a_function():
    # lazy imports (`from ..demos.x import y` in a def) run only on some paths: read them all
    bad = []
    for path in engine_files():
        here = _dotted(path).split(".")
        package = here if path.name == "__init__.py" else here[:-1]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = package[: len(package) - node.level + 1] if node.level else []
                target = ".".join(base + ([node.module] if node.module else []))
                names = [target] + [f"{target}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            if any(_is_demo(n) for n in names):
                bad.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert bad == []


def test_the_check_sees_demo_code():
    # the demo package is where the checks look: a demo module imported is reported
    assert "quantlab.demos.probes" in _demo_and_tf_modules_after_importing(["quantlab.demos.probes"])
