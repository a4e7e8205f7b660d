"""What a diagnosis leaves beside its record: its entry in OUT/<name>/results.json (the report's
"Where the error enters") and, for a graph model, Model Explorer's node-data files."""

from __future__ import annotations

import json
from pathlib import Path

from .subject import Subject


def section_entry(record: dict) -> dict:
    """What the report shows of one diagnosed variant (results.json's `diagnose` section)."""
    curve = []
    for row in record["nodes"]:
        if not row["compared"]:
            continue
        acc, local = row["accumulated"], row["local"] or {}
        curve.append(
            {
                "node": row["node"], "depth": row["depth"], "outputs": row["outputs"],
                "sqnr_db": acc["sqnr_db"], "identical": acc["identical"],
                "local_sqnr_db": local.get("sqnr_db"), "flags": row["range"]["flags"],
            }
        )  # fmt: skip
    return {
        "runtime": record["runtime"].get("runtime"), "n_examples": record["n_examples"],
        "created": record["created"], "summary": record["summary"], "curve": curve,
    }  # fmt: skip


def attach(subject: Subject, record: dict) -> None:
    """Into OUT/<name>/results.json when there (the report's "Where the error enters")."""
    from ..records.fields import refuse_wrong_types
    from ..records.sections import DiagnoseSection
    from ..results import attach_section, results_or_none, results_path

    results = results_or_none(results_path(subject.out_dir, subject.name))
    if results is None:
        return
    section = results.get("diagnose") if isinstance(results.get("diagnose"), dict) else {}
    variants = section.get("variants") if isinstance(section.get("variants"), dict) else {}
    section = {**section, "variants": {**variants, record["variant"]: section_entry(record)}}
    refuse_wrong_types(DiagnoseSection.from_json(section)[1], f"diagnose record for {subject.name}")
    attach_section(subject.out_dir, subject.name, "diagnose", section)


def explorer_files(record: dict, paths: dict[str, Path], folder: Path, subject: Subject) -> dict:
    """Model Explorer node data for a graph model (its node names are Model Explorer's ids)."""
    import shlex

    from ..infra.fsutil import read_json
    from . import model_explorer as me
    from .tune_run import TUNE_FILE
    from .weight_error import tensor_errors

    if record["format"] != "graph":
        return {"skipped": "overlays are written for tfjs graph models (Model Explorer names their nodes as "
                "model.json does); this is a layers model"}  # fmt: skip
    model_json_path = paths["float32"] / "model.json"
    model_json = json.loads(model_json_path.read_text())
    weights = tensor_errors(paths["float32"], paths[record["variant"]], histogram_top=0)["tensors"]
    tune_path = subject.results_dir / TUNE_FILE
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
