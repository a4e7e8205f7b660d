"""`quantlab tune MODEL`: the tune on a user's model (layers or graph), with the user's data.

The probes measure the analyze task's primary metric on the inputs (accuracy or MAE with
labels; without labels, the score of the worst counted output against float32's, as analyze's
headline: a variant whose embedding collapsed is never within budget because its one-value
sigmoid is perfect), split into a search part and a held-out part that judges the answer, as
for the demos."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import tasks
from ..inputs import InputSet
from .model_outputs import WORST_SCORE, OutputJudge, counted_outputs, output_names
from .splits import holdout_split, stratified_indices
from .sweep import Probe


def _chunks(inputs: InputSet, idx: np.ndarray, size: int = 1024):
    names = list(inputs.arrays)
    for start in range(0, len(idx), size):
        part = idx[start : start + size]
        named = {name: inputs.batch_at(name, part) for name in names}
        yield next(iter(named.values())) if len(named) == 1 else named


def _probe(inputs: InputSet, task: str, idx: np.ndarray, outputs: ProbeOutputs) -> Probe:
    labels = inputs.labels[idx] if inputs.labels is not None else None
    if task == "fidelity":  # every counted output against float32's: the first measurement
        judges: list[OutputJudge] = []

        def judged(outs: list[np.ndarray]) -> tuple[float, np.ndarray]:
            if not judges:  # the first outputs a sweep measures are float32's
                judges.append(OutputJudge(outputs.names, outs, outputs.counted))
            return judges[0].judge_scores(outs)

        return Probe(
            WORST_SCORE, True, lambda: _chunks(inputs, idx), lambda outs: judged(outs)[0], len(idx),
            per_example=lambda outs: judged(outs)[1], all_outputs=True, fixed_batch=outputs.fixed_batch,
        )  # fmt: skip
    metric = tasks.PRIMARY[task]
    return Probe(
        metric,
        metric not in tasks.LOWER_IS_BETTER,
        lambda: _chunks(inputs, idx),
        lambda out: tasks.label_metrics(task, out, labels)[metric],
        len(idx),
        per_example=lambda out: tasks.per_example_scores(task, out, labels)[metric],
        fixed_batch=outputs.fixed_batch,
    )


@dataclass
class ProbeOutputs:
    """What a probe needs of the model: its output names, the counted ones, its fixed batch."""

    names: list[str]
    counted: list[str]
    fixed_batch: int | None = None


def model_probes(
    inputs: InputSet,
    task: str,
    limit: int | None,
    holdout: float,
    seed: int = 0,
    outputs: ProbeOutputs | None = None,
) -> tuple[Probe, Probe, dict]:
    """(search probe on `limit` of the search split, held-out probe, the split's record)."""
    outputs = outputs or ProbeOutputs(["output_0"], ["output_0"])
    strat = inputs.labels.reshape(-1) if task == "classification" else None
    search, held, split = holdout_split(inputs.n, holdout, seed, strat)
    if limit and limit < len(search):
        if strat is not None:
            search = search[stratified_indices(strat[search], limit)]
        else:
            search = np.sort(np.random.default_rng(seed).permutation(search)[:limit])
    return _probe(inputs, task, search, outputs), _probe(inputs, task, held, outputs), split


def quantlab_command(model: Path, dtype_map: dict) -> list[str]:
    cmd = ["quantlab", "quantize", str(model), "--name", "mixed"]
    for dtype, patterns in dtype_map.items():
        cmd += ["--map", f"{dtype}={'*' if patterns is True else ','.join(patterns)}"]
    return cmd


def tune_model_command(
    model: Path,
    input_opts,
    max_drop: float,
    relative: bool,
    limit: int | None,
    sweeps: str,
    backend: str,
    holdout: float,
    conservative: bool,
    out: Path,
    models_dir: Path,
    timeout: float,
    task_override: str = "auto",
    show: bool = True,
    format_override: str | None = None,
    outputs: list[str] | None = None,
) -> dict:
    """Convert MODEL if needed, load the inputs, then the same search as for a demo."""
    from .. import workspace
    from ..convert.source import source_converter_command
    from ..infra.fsutil import write_json_atomic
    from ..input_spec import fixed_batch
    from ..inputs import load_inputs
    from ..results import attach_section
    from ..runtimes import make_runtime
    from ..runtimes.base import input_specs
    from ..sources import detect
    from .analyze import AnalyzeOptions, write_variants
    from .evaluate import pad_to
    from .tune import run_tune
    from .tune_print import TUNE_FILE, print_tune
    from .worker import load_model

    source = detect(model, format_override)
    name = workspace.name_from_path(model)  # the CLI refused a demo's name
    root = Path(models_dir) / name
    workspace.claim_model_root(root, source.model_json or source.path)
    results_dir = Path(out) / name
    workspace.claim(results_dir, "results folder")  # before the work: a folder of the user's is refused
    with workspace.locked(root), make_runtime(f"node-{backend}", timeout=timeout) as runtime:
        write_variants(source, AnalyzeOptions(name=name, variants=["float32"], models_dir=models_dir), root)
        loaded = load_model(runtime, root / "float32")
        try:
            specs = input_specs(loaded)
            inputs = load_inputs(specs, input_opts)
            fixed = fixed_batch(specs)
            first = pad_to(next(_chunks(inputs, np.arange(min(inputs.n, 8)))), fixed or 1)
            outs, _ = runtime.predict(loaded, first, batch_size=fixed or 256)
        finally:
            runtime.unload(loaded)
        task = tasks.detect_task(outs, inputs.labels, task_override)
        names = output_names(loaded.outputs, len(outs))
        chosen = ProbeOutputs(names, counted_outputs(names, outputs), fixed)
        probe, held, split = model_probes(inputs, task, limit, holdout, outputs=chosen)
        record = run_tune(None, root, runtime, probe, held, max_drop, relative, sweeps, conservative, split)
    record["source"] = source.describe()
    record["inputs"] = inputs.description
    if record["verified"] and not record.get("converter_command"):
        dtype_map = record["verified"]["dtype_map"]
        record["quantlab_command"] = quantlab_command(model, dtype_map)
        if not source.is_tfjs:  # a SavedModel or .h5 made into a graph model: the converter can, from it
            record["converter_command"] = source_converter_command(
                source, record["format"], root / "tuned", dtype_map
            )
    with workspace.locked(results_dir):  # results.json is read, merged and rewritten: one run at a time
        write_json_atomic(results_dir / TUNE_FILE, record)
        attach_section(out, name, "tune", record)
    if show:
        print_tune(record)
    return record
