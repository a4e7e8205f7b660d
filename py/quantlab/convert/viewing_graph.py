"""A tfjs layers model as a tfjs graph model, for viewing only: Model Explorer reads tfjs graph
models and refuses a layers model.json. Made by the stock converter's own entry point, twice
(tfjs_layers_model -> keras .h5 -> tfjs_graph_model), float32, so its node names carry the Keras layer names
("StatefulPartitionedCall/model/d3/Relu"): a layer's figures go on the nodes of that layer."""

from __future__ import annotations

import tempfile
from pathlib import Path

from ..errors import ArtifactError
from ..infra.fsutil import atomic_dir
from ..infra.progress import log
from ..infra.tfcompat import save_for_converter
from ..tfjs import MODEL_JSON
from .source import convert_in_process, load_keras_file


def write_viewing_graph(layers_dir: Path, dest: Path) -> Path:
    """DEST/model.json (written atomically; reused while newer than the layers model): the layers
    model in `layers_dir` as a graph model; ArtifactError when the converter cannot make it (a
    custom layer, say).

    In this process, as `write_float32` converts a Keras .h5: the converter's own entry point
    makes the .h5 (`--output_format keras`), and the graph model comes from a SavedModel of it
    (what `--input_format keras --output_format tfjs_graph_model` does inside), without a second
    interpreter importing TensorFlow (~8 s)."""
    model_json = Path(layers_dir) / MODEL_JSON
    made = Path(dest) / MODEL_JSON
    if made.is_file() and made.stat().st_mtime >= model_json.stat().st_mtime:
        log.info("reusing %s (the graph form of %s, made after it)", made, model_json)
        return made
    log.info("converting %s to a tfjs graph model for Model Explorer (it reads no layers model)", model_json)
    with atomic_dir(Path(dest)) as tmp_dest, tempfile.TemporaryDirectory(prefix="quantlab-view-") as tmp:
        h5, saved = Path(tmp) / "model.h5", Path(tmp) / "saved_model"
        steps = [
            ["--input_format", "tfjs_layers_model", "--output_format", "keras", model_json, h5],
            ["--input_format", "tf_saved_model", "--output_format", "tfjs_graph_model", saved, tmp_dest],
        ]
        ok, errors = convert_in_process([str(a) for a in steps[0]])
        if ok:
            save_for_converter(load_keras_file(h5), saved)
            ok, errors = convert_in_process([str(a) for a in steps[1]])
        if not ok or not (tmp_dest / MODEL_JSON).is_file():
            lines = [ln for ln in errors.strip().splitlines() if ln.strip()] or ["no output"]
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
