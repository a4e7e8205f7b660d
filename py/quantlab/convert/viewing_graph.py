"""A tfjs layers model as a tfjs graph model, for viewing only: Model Explorer reads tfjs graph
models and refuses a layers model.json. Made by the stock converter's own entry point, twice
(tfjs_layers_model -> keras .h5 -> tfjs_graph_model), float32, so its node names carry the Keras layer names
("StatefulPartitionedCall/model/d3/Relu"): a layer's figures go on the nodes of that layer."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from ..errors import ArtifactError
from ..infra.fsutil import atomic_dir
from ..infra.progress import log
from ..tfjs import MODEL_JSON

# Both conversions in one interpreter (one TensorFlow import, not two CLI starts): the converter's
# own entry point, as `tensorflowjs_converter` runs it.
_CONVERT_BOTH = """
import sys
from tensorflowjs.converters import converter
model_json, h5, dest = sys.argv[1:]
converter.convert(["--input_format", "tfjs_layers_model", "--output_format", "keras", model_json, h5])
converter.convert(["--input_format", "keras", "--output_format", "tfjs_graph_model", h5, dest])
"""


def write_viewing_graph(layers_dir: Path, dest: Path) -> Path:
    """DEST/model.json (written atomically; reused while newer than the layers model): the layers
    model in `layers_dir` as a graph model; ArtifactError when the converter cannot make it (a
    custom layer, say)."""
    model_json = Path(layers_dir) / MODEL_JSON
    made = Path(dest) / MODEL_JSON
    if made.is_file() and made.stat().st_mtime >= model_json.stat().st_mtime:
        log.info("reusing %s (the graph form of %s, made after it)", made, model_json)
        return made
    log.info("converting %s to a tfjs graph model for Model Explorer (it reads no layers model)", model_json)
    with atomic_dir(Path(dest)) as tmp_dest, tempfile.TemporaryDirectory(prefix="quantlab-view-") as tmp:
        argv = [
            sys.executable,
            "-c",
            _CONVERT_BOTH,
            str(model_json),
            str(Path(tmp) / "model.h5"),
            str(tmp_dest),
        ]
        proc = subprocess.run(argv, capture_output=True, text=True)
        if proc.returncode or not (tmp_dest / MODEL_JSON).is_file():
            lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()] or ["no output"]
            detail = next((ln for ln in reversed(lines) if "Error" in ln), lines[-1]).strip()[:300]
            raise ArtifactError(
                f"{model_json}: tensorflowjs_converter could not make its graph form: {detail}"
            )
    return made


def nodes_by_layer(graph_json: dict, layers: set[str]) -> dict[str, list[str]]:
    """{layer name: the graph's nodes of that layer}: a node belongs to the last component of its
    name that is a layer's name (nested models add components; "d3" never matches "d3_1"). Const
    nodes are left out: Model Explorer hides them. A node with no scope (an input) is its own layer's."""
    out: dict[str, list[str]] = {}
    for node in graph_json.get("modelTopology", {}).get("node") or []:
        if node.get("op") == "Const":
            continue
        # the last component is the op's own name ("add_1" of a BatchNorm's arithmetic, say), not
        # a layer's, and may spell one: only the scopes above it name the layer
        scope, _, _ = node["name"].rpartition("/")
        layer = owning_layer(scope, layers) or (node["name"] if node["name"] in layers else None)
        if layer is not None:
            out.setdefault(layer, []).append(node["name"])
    return out


def owning_layer(name: str, layers: set[str]) -> str | None:
    """The layer a name (a graph node, a layer, a weight "d3/kernel") belongs to: its last path
    component that names a layer."""
    return next((part for part in reversed(name.split("/")) if part in layers), None)
