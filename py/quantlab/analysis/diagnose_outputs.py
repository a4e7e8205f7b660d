"""What a diagnosis leaves beside its record (OUT/<name>/diagnose/<variant>.json, which the report
reads through results.read_run): Model Explorer's node-data files."""

from __future__ import annotations

import json
from pathlib import Path

from ..tfjs import MODEL_JSON
from .subject import Subject

VIEWING_NOTE = (
    "Model Explorer reads no layers model: the overlays sit on the float32 model's graph form "
    "(tfjs_layers_model -> keras -> tfjs_graph_model), each layer's figures on that layer's nodes"
)


def explorer_files(record: dict, paths: dict[str, Path], folder: Path, subject: Subject) -> dict:
    """Model Explorer node data, keyed by a graph model's node names (Model Explorer's ids); a
    layers model is shown as its graph form (convert/viewing_graph.py), which it can read."""
    import shlex

    from ..infra.fsutil import read_json
    from ..workspace import section_path
    from . import model_explorer as me
    from .weight_error import tensor_errors

    model_json_path = paths["float32"] / MODEL_JSON
    model_json = json.loads(model_json_path.read_text())
    dest, viewing, shown = folder / "model-explorer", None, {}
    if record["format"] != "graph":  # Model Explorer reads graph models only: the layers model as one
        from ..convert.viewing_graph import write_viewing_graph
        from ..errors import ArtifactError

        try:
            model_json_path = write_viewing_graph(paths["float32"], dest / "float32-graph")
        except (ArtifactError, OSError) as e:  # OSError: its folder could not be written
            return {"skipped": f"Model Explorer reads tfjs graph models, and this layers model could not be "
                    f"converted to one: {e}"}  # fmt: skip
        viewing = json.loads(model_json_path.read_text())
        shown = {"viewing_graph": VIEWING_NOTE}
    weights = tensor_errors(paths["float32"], paths[record["variant"]], histogram_top=0)["tensors"]
    tune_path = section_path(subject.out_dir, subject.name, "tune")
    sensitivity = read_json(tune_path).get("sensitivity") if tune_path.is_file() else None
    files = me.overlays(record, model_json, weights, sensitivity, viewing)
    written = me.write_overlays(dest, files)
    command = me.explorer_command(model_json_path, written)
    return {
        **shown,
        "folder": str(dest),
        "overlays": [str(p) for p in written],
        "model_json": str(model_json_path.resolve()),
        "command": command,
        "command_text": shlex.join(command),
        "url": me.explorer_url(me.DEFAULT_PORT, model_json_path, written),
    }
