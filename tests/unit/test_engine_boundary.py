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


# ---- floors: which package may import which (issue 22). A module imports its own floor or lower,
# never one above it; the floors read as the data flow, bottom up.
FLOORS = [
    {"errors", "stats", "metrics", "infra"},  # no quantlab imports but errors/infra
    {
        "tfjs",
        "input_spec",
        "input_checks",
        "inputs",
        "image_inputs",
        "synthetic_inputs",
        "sources",
        "workspace",
        "tasks",
        "loss",
        "judge",
        "records",
        "results",
    },  # formats, inputs, judging outputs, results.json: no runtime, no conversion
    {"convert"},  # model source -> tfjs artifacts
    {"runtimes"},  # load and predict
    {"analysis"},  # measuring: evaluate, parity, tune, delivery, equalize runs
    {"report"},  # HTML from the results
    {"demos"},  # the demos: clients of everything above
    {"cli"},  # the commands
]


def _floor(module: str) -> int | None:
    parts = module.split(".")[1:]
    if not parts:
        return None  # the quantlab package itself
    for i, names in enumerate(FLOORS):
        if parts[0] in names:
            return i
    raise AssertionError(f"{module}: on no floor; add its package to FLOORS")


def import_graph() -> dict[str, set[str]]:
    """Module -> the quantlab modules it imports, at the top or inside a function."""
    files = {_dotted(p): p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts}
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        here = module.split(".")
        package = here if path.name == "__init__.py" else here[:-1]
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = package[: len(package) - node.level + 1] if node.level else []
                target = ".".join(base + ([node.module] if node.module else []))
                # `from pkg import mod` imports pkg.mod; `from mod import name` imports mod
                names = [f"{target}.{a.name}" for a in node.names]
                targets = [n for n in names if n in files] or [target]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            found.update(t for t in targets if t in files and t != module)
        graph[module] = found
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_every_import_runs_down_the_floors_or_stays_on_its_own():
    upward = [
        f"{m} -> {t}"
        for m, targets in import_graph().items()
        for t in targets
        if _floor(m) is not None and _floor(t) is not None and _floor(t) > _floor(m)
    ]
    assert upward == []


def test_no_module_imports_itself_back_through_others():
    assert cycles(import_graph()) == []


def test_the_floor_checks_see_an_upward_import_and_a_circle():
    assert _floor("quantlab.results") < _floor("quantlab.analysis.delivery")  # results must not compress
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    graph = import_graph()
    assert "quantlab.errors" in graph["quantlab.cli.guard"]  # function-level and top-level both read
    assert "quantlab.analysis.equalize_run" in graph["quantlab.cli.commands.equalize"]


def test_one_list_of_runtime_names_and_it_matches_both_sides():
    """runtimes/registry.py names every runtime; the Node evaluator's protocol and the browser
    runtime's set-up offer exactly its backends."""
    import json

    from quantlab.runtimes import RUNTIMES
    from quantlab.runtimes.browser import BACKENDS
    from quantlab.runtimes.registry import BROWSER_BACKENDS, NODE_BACKENDS

    protocol = json.loads((PACKAGE.parents[1] / "js" / "protocol.json").read_text())
    assert tuple(protocol["backends"]) == NODE_BACKENDS
    assert tuple(BACKENDS) == BROWSER_BACKENDS
    assert RUNTIMES[:4] == ("keras", "node-wasm", "node-cpu", "node-tensorflow")
    assert len(RUNTIMES) == 1 + len(NODE_BACKENDS) + len(BROWSER_BACKENDS)


def test_no_private_name_crosses_a_module():
    """What one module takes from another is public: a leading underscore means "this module's"."""
    crossing = [
        f"{path.relative_to(PACKAGE)}:{node.lineno} {alias.name}"
        for path in PACKAGE.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
        if alias.name.startswith("_") and not alias.name.startswith("__")
    ]
    assert crossing == []
