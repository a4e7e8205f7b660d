"""The results record of `quantlab analyze MODEL`: what one runtime measured (Run), turned into
results.json's rows and sections. Split from analyze.py, which converts and measures."""

from __future__ import annotations

import time
from dataclasses import dataclass
from types import SimpleNamespace

from .. import stats, tasks
from ..infra.progress import log
from ..input_spec import InputSpec
from ..inputs import InputSet
from ..sources import ModelSource
from ..tfjs.artifacts import read_artifact
from .model_outputs import WORST_SCORE, OutputJudge, counted_outputs, headline
from .run_record import run_record
from .variant_row import variant_row
from .weight_error import weights_section


@dataclass
class Run:
    """What one runtime measured: every variant's outputs on the inputs, and how it went."""

    measured: dict
    inputs: InputSet
    specs: list[InputSpec]
    out_names: list[str]
    runtime_info: dict
    workers_ran: int
    batch: dict
    runtime_fallback: dict | None = None
    calibration: dict | None = None  # --litert: the examples held out for full-int8 calibration


def build_record(
    source, opts, root, paths, made, run: Run, split, t_start, detect_s, sizes: dict, plan: dict
) -> dict:
    """results.json for one analyze run: every variant's row (sizes, label metrics, every output
    judged, intervals and deltas against float32), the inputs, the environment, the timings."""
    t0 = time.perf_counter()
    measured, inputs = run.measured, run.inputs
    ref = measured["float32"].outputs
    judge_ = OutputJudge(run.out_names, ref, counted_outputs(run.out_names, opts.outputs), opts.min_effect)
    task = tasks.detect_task(ref, inputs.labels, opts.task)
    primary = tasks.PRIMARY[task] if task != "fidelity" else WORST_SCORE
    shipped = read_artifact(source.model_json).weight_bytes if source.is_tfjs else None
    rows, scores = [], {}
    for name, m in measured.items():
        outs = m.outputs
        metrics = tasks.label_metrics(task, outs[0], inputs.labels) if task != "fidelity" else {}
        scores[name] = tasks.per_example_scores(task, outs[0], inputs.labels) if metrics else {}
        per_output, worst, worst_scores = judge_.judge(outs, is_reference=name == "float32")
        if worst is not None:
            metrics[WORST_SCORE] = per_output[worst]["score"]
        nonfinite = sum(int(f["nonfinite"]) for f in per_output.values())
        if nonfinite:
            log.warning("%s: %d NaN/Inf output values", name, nonfinite)
        described = SimpleNamespace(name=opts.runtime, describe=lambda: run.runtime_info)
        row = variant_row(name, m.artifact, metrics, described, m.load_ms, m.timings, sizes[name])
        row["outputs"] = per_output
        row["worst_output"] = worst
        row["headline"] = headline(per_output, worst)
        row["nonfinite_outputs"] = nonfinite
        row["dtype_map"] = plan.get(name)
        if shipped:
            row["of_shipped"] = round(m.artifact.weight_bytes / shipped, 4)
        ref_scores = scores["float32"] | judge_.reference_scores()
        row |= stats.uncertainty(scores[name] | worst_scores, None if name == "float32" else ref_scores)
        rows.append(row)
    split["metrics"] = time.perf_counter() - t0
    return run_record(
        kind="model",
        name=opts.name,
        title=f"{opts.name} (your model)",
        task=task,
        primary_metric=primary,
        dataset={"name": inputs.description.get("file") or "synthetic", "n_test": inputs.n},
        variants=rows,
        weight_error=weights_section(root, list(paths)),
        seed={},
        note=_note(source, inputs, task),
        runtime_info=run.runtime_info,
        config={
            "runtime": opts.runtime,
            "runtime_fallback": run.runtime_fallback,
            "workers": run.workers_ran,
            "executor": opts.executor,
            "variants": list(paths),
            "custom_map": opts.custom_map,
            "wall_seconds": round(time.perf_counter() - t_start + detect_s, 1),
        },
        source={**source.describe(), **made, "shipped_bytes": shipped},
        inputs={
            **inputs.description,
            "names": [s.name for s in run.specs],
            "shapes": {s.name: list(inputs.arrays[s.name].shape) for s in run.specs},
            "batch": run.batch,
        },
        outputs=run.out_names,
        **judge_.describe(),
        timings_s={k: round(v, 3) for k, v in split.items()},
    )


def _note(source: ModelSource, inputs: InputSet, task: str) -> str:
    parts = [f"Your model: {source.format} ({(source.manifest or source.path).name})."]
    if inputs.synthetic:
        d = inputs.description
        parts.append(
            f"Inputs were synthetic ({d['samples']} examples, uniform in {d['range']}, seed {d['seed']}): "
            "the figures say how closely each variant follows float32 on such inputs, not how it does "
            "on real data, and no accuracy can be measured."
        )
    elif task == "fidelity":
        parts.append("No labels: fidelity to float32 only.")
    if source.detail.startswith("already quantized"):
        parts.append(f"The model was {source.detail}; float32 here means its dequantized weights.")
    return " ".join(parts)
