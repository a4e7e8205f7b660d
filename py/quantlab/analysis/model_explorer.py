"""A diagnosis on the graph, in Google's Model Explorer (`ai-edge-model-explorer` on PyPI, an
optional extra): node-data files in its JSON format, keyed by the node names of the model's own
model.json (the ids Model Explorer gives a tfjs graph's nodes), and the command or URL that opens
the model with them.

Node data: {"name", "results": {node: {"value": v}}, "gradient": [{stop, bgColor}, ...]}; weights
are Const nodes, which Model Explorer hides, so a weight's figures go on the node that reads it.
Its server hands any readable file to whoever asks (/api/v1/read_text_file): it is only ever
started bound to 127.0.0.1."""

from __future__ import annotations

import collections
import contextlib
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from urllib.parse import quote

from ..errors import QuantlabError
from ..infra.fsutil import write_json_atomic
from ..tfjs.graph_topology import weight_readers

HOST = "127.0.0.1"
DEFAULT_PORT = 8080
PACKAGE = "ai-edge-model-explorer"
# low values red, high values green (SQNR); or the reverse (spread, error, overflow)
GOOD_HIGH = [
    {"stop": 0, "bgColor": "#d7191c"},
    {"stop": 0.5, "bgColor": "#ffffbf"},
    {"stop": 1, "bgColor": "#1a9641"},
]
GOOD_LOW = list(reversed([{**g, "stop": 1 - g["stop"]} for g in GOOD_HIGH]))


def node_data(name: str, values: dict[str, float], good_high: bool = True) -> dict:
    results = {
        node: {"value": round(float(v), 4)}
        for node, v in values.items()
        if v is not None and math.isfinite(v)
    }
    return {"name": name, "results": results, "gradient": GOOD_HIGH if good_high else GOOD_LOW}


def _per_node(record: dict, kind: str, exact_db: float) -> dict[str, float]:
    out = {}
    for row in record["nodes"]:
        fig = row.get(kind) if row.get("compared") else None
        if fig:
            out[row["node"]] = exact_db if fig["identical"] else fig["sqnr_db"]
    return out


def _on_readers(model_json: dict, per_weight: dict[str, float], worst=min) -> dict[str, float]:
    """Weight figures moved to the nodes that read the weights (the worst where a node reads
    several); a name that is no weight but a node keeps its figure."""
    readers = weight_readers(model_json)
    out: dict[str, float] = {}
    for weight, value in per_weight.items():
        for node in readers.get(weight, [weight]):
            out[node] = value if node not in out else worst(out[node], value)
    return out


def _in_layers(model_json: dict, per_layer: dict[str, float]) -> dict[str, float]:
    """tune's figures per layer (a node-name prefix, or a weight) on the nodes of that layer."""
    nodes = [n["name"] for n in model_json["modelTopology"].get("node") or [] if n.get("op") != "Const"]
    weights = weight_readers(model_json)
    out = _on_readers(model_json, {k: v for k, v in per_layer.items() if k in weights})
    for layer, value in per_layer.items():
        for node in nodes:
            if node == layer or node.startswith(layer + "/"):
                out[node] = min(out.get(node, value), value)
    return out


def overlays(
    record: dict,
    model_json: dict,
    weight_rows: list[dict],
    sensitivity: list[dict] | None,
    viewing_graph: dict | None = None,
) -> dict:
    """{file stem: node data} for one diagnosed variant. A graph model's figures are keyed by its
    own node names (a weight's on the nodes that read it); a layers model's (`model_json` its
    layers model.json) go onto `viewing_graph`, its graph form, each layer's on that layer's nodes."""
    v, exact = record["variant"], record["summary"]["exact_db"]
    ranges = {r["node"]: r["range"]["max_abs"] for r in record["nodes"] if r.get("compared")}
    flags = {r["node"]: float(bool(r["range"]["flags"])) for r in record["nodes"] if r.get("compared")}
    sqnr = {w["name"]: min(w["sqnr_db"], exact) for w in weight_rows if w.get("sqnr_db") is not None
            and not math.isnan(w["sqnr_db"])}  # fmt: skip
    spread = {w["name"]: w["channel_spread"] for w in weight_rows if w.get("channel_spread")}
    ranks = {row["layer"]: float(k + 1) for k, row in enumerate(sensitivity or [])}
    if viewing_graph is None:
        nodes, weights, layers = (
            (lambda d, worst=min: d),
            partial(_on_readers, model_json),
            partial(_in_layers, model_json),
        )
    else:
        nodes = weights = layers = partial(_onto_layer_nodes, viewing_graph, model_json)
    out = {
        f"{v}.accumulated-sqnr": node_data(
            f"{v}: accumulated SQNR (dB)", nodes(_per_node(record, "accumulated", exact))
        ),
        f"{v}.local-sqnr": node_data(f"{v}: local SQNR (dB)", nodes(_per_node(record, "local", exact))),
        f"{v}.weight-sqnr": node_data(f"{v}: weight SQNR (dB)", weights(sqnr)),
        f"{v}.channel-spread": node_data("kernel channel spread", weights(spread, worst=max), False),
        f"{v}.max-abs": node_data("float32 max |activation|", nodes(ranges, worst=max), False),
        f"{v}.f16-flags": node_data("outside float16's range (1)", nodes(flags, worst=max), False),
    }
    if ranks:
        out[f"{v}.sensitivity-rank"] = node_data("tune: sensitivity rank (1 = most)", layers(ranks))
    return out


def _onto_layer_nodes(graph_json: dict, layers_json: dict, values: dict[str, float], worst=min) -> dict:
    """A layers model's figures (keyed by layer, layer output or weight name) on the nodes of each
    layer in its graph form (the worst where a layer has several figures)."""
    from ..convert.viewing_graph import nodes_by_layer, owning_layer
    from ..tfjs.artifacts import topology_layers

    names = {layer["config"]["name"] for layer in topology_layers(layers_json)}
    by_layer = nodes_by_layer(graph_json, names)
    out: dict[str, float] = {}
    for name, value in values.items():
        for node in by_layer.get(owning_layer(name, names) or "", []):
            out[node] = value if node not in out else worst(out[node], value)
    return out


def write_overlays(dest: Path, files: dict) -> list[Path]:
    dest.mkdir(parents=True, exist_ok=True)
    paths = []
    for stem, data in files.items():
        path = dest / f"{stem}.json"
        write_json_atomic(path, data)
        paths.append(path.resolve())
    return paths


def explorer_url(port: int, model_json: Path, overlay_paths: list[Path]) -> str:
    """The no-click URL: the model and every overlay opened at once (model_explorer.config's
    to_url_param_value, written out so that quantlab need not import it)."""
    data = {
        "models": [{"url": str(Path(model_json).resolve())}],
        "nodeData": [str(p) for p in overlay_paths],
        "nodeDataTargets": ["" for _ in overlay_paths],
    }
    return f"http://{HOST}:{port}/?data={quote(json.dumps(data))}"


def explorer_command(model_json: Path, overlay_paths: list[Path], port: int = DEFAULT_PORT) -> list[str]:
    exe = shutil.which("model-explorer") or "model-explorer"
    beside = Path(sys.executable).with_name("model-explorer")  # installed in this (not activated) venv
    if beside.is_file():
        exe = str(beside)
    return [
        exe,
        str(Path(model_json).resolve()),
        f"--node_data_paths={','.join(str(p) for p in overlay_paths)}",
        "--no_open_in_browser",
        f"--host={HOST}",
        f"--port={port}",
    ]


def installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("model_explorer") is not None or bool(shutil.which("model-explorer"))


def install_hint() -> str:
    return f"{sys.executable} -m pip install {PACKAGE}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _listening(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.2):
        return True
    return False


@contextlib.contextmanager
def running_explorer(
    model_json: Path, overlay_paths: list[Path], port: int | None = None, timeout: float = 120.0
) -> Iterator[str]:
    """Model Explorer's server on 127.0.0.1 (its own process group, stopped on exit, error or
    signal); yields the URL that opens the model with the overlays."""
    if not installed():
        raise QuantlabError(f"Model Explorer is not installed: {install_hint()}", exit_code=2)
    port = port or free_port()
    proc = subprocess.Popen(
        explorer_command(model_json, overlay_paths, port), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True,
    )  # fmt: skip
    lines: collections.deque[str] = collections.deque(maxlen=20)
    # drained all along: Flask logs every request, and a full pipe would stop the server
    threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True).start()
    try:
        deadline = time.monotonic() + timeout
        while not _listening(port):
            try:
                proc.wait(timeout=0.1)  # the pause between tries is a wait on the process itself
            except subprocess.TimeoutExpired:
                if time.monotonic() > deadline:
                    raise QuantlabError(
                        f"model-explorer did not serve on {HOST}:{port} within {timeout:g} s"
                    ) from None
                continue
            last = next((ln.strip() for ln in reversed(lines) if ln.strip()), "?")
            raise QuantlabError(f"model-explorer exited ({proc.returncode}) before serving: {last}")
        yield explorer_url(port, model_json, overlay_paths)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
