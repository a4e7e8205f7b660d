"""What a diagnosis leaves beside its record (OUT/<name>/diagnose/<variant>.json, which the report
reads through results.read_run): for a graph model, Model Explorer's node-data files."""

from __future__ import annotations

import json
from pathlib import Path

from .subject import Subject


def explorer_files(record: dict, paths: dict[str, Path], folder: Path, subject: Subject) -> dict:
    """Model Explorer node data for a graph model (its node names are Model Explorer's ids)."""
    import shlex

    from ..infra.fsutil import read_json
    from ..workspace import section_path
    from . import model_explorer as me
    from .weight_error import tensor_errors

    if record["format"] != "graph":
        return {"skipped": "overlays are written for tfjs graph models (Model Explorer names their nodes as "
                "model.json does); this is a layers model"}  # fmt: skip
    model_json_path = paths["float32"] / "model.json"
    model_json = json.loads(model_json_path.read_text())
    weights = tensor_errors(paths["float32"], paths[record["variant"]], histogram_top=0)["tensors"]
    tune_path = section_path(subject.out_dir, subject.name, "tune")
    sensitivity = read_json(tune_path).get("sensitivity") if tune_path.is_file() else None
    files = me.overlays(record, model_json, weights, sensitivity)
    written = me.write_overlays(folder / "model-explorer", files)
    command = me.explorer_command(model_json_path, written)
    return {
        "folder": str(folder / "model-explorer"),
        "overlays": [str(p) for p in written],
        "model_json": str(model_json_path.resolve()),
        "command": command,
        "command_text": shlex.join(command),
        "url": me.explorer_url(me.DEFAULT_PORT, model_json_path, written),
    }
