"""The probes of a tune on a user's model (layers or graph), with the user's data (the road:
analysis/tune_run.py; the subject: analysis/subject_model.py).

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
from ..metrics import LOWER_IS_BETTER
from .model_outputs import WORST_SCORE, OutputJudge
from .splits import holdout_split, stratified_indices
from .sweep import Probe


def input_chunks(inputs: InputSet, idx: np.ndarray, size: int = 1024):
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
            WORST_SCORE, True, lambda: input_chunks(inputs, idx), lambda outs: judged(outs)[0], len(idx),
            per_example=lambda outs: judged(outs)[1], all_outputs=True, fixed_batch=outputs.fixed_batch,
        )  # fmt: skip
    metric = tasks.PRIMARY[task]
    return Probe(
        metric,
        metric not in LOWER_IS_BETTER,
        lambda: input_chunks(inputs, idx),
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
