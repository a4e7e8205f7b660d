"""`quantlab analyze MODEL`: a user's model through the same road as the demos.

source -> float32 tfjs artifact (stock converter) -> quantized variants (converter's weight
writer) -> one tfjs runtime (load, predict named inputs) -> tasks (fidelity to float32, plus
accuracy/MAE with labels) -> results.json -> report. Nothing here imports demo code."""

from __future__ import annotations

import shlex
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import stats, tasks, workspace
from ..convert.converter import VARIANTS, dtype_map_for
from ..convert.source import check_output_format, write_float32
from ..errors import DataError
from ..infra.environment import environment
from ..infra.progress import log
from ..inputs import InputOptions, InputSet, InputSpec, load_inputs
from ..results import variant_row, write_results
from ..runtimes.base import LoadedModel
from ..sources import ModelSource
from .evaluate import measure_variants
from .pool import make_pool
from .weight_error import weights_section

CHUNK = 1024  # examples per request to the runtime: bounds memory, gives the bar its steps


@dataclass
class AnalyzeOptions:
    name: str
    variants: list[str] = field(default_factory=lambda: list(VARIANTS))
    custom_map: dict | None = None
    custom_name: str = "custom"
    output_format: str | None = None
    inputs: InputOptions = field(default_factory=InputOptions)
    task: str = "auto"
    runtime: str = "node-wasm"
    batch_size: int = 256
    timeout: float = 600.0
    workers: int | None = None  # None: the rule in pool.default_workers
    executor: str = "local"
    ray_address: str | None = None
    models_dir: Path = Path("models")
    out_dir: Path = Path("reports")


def _specs(model: LoadedModel) -> list[InputSpec]:
    specs = []
    for i, inp in enumerate(model.inputs):
        shape = [None if (d is None or d < 0) else int(d) for d in inp.get("shape", [])]
        specs.append(InputSpec(inp.get("name") or f"input_{i}", shape, inp.get("dtype") or "float32"))
    return specs


def _output_names(model: LoadedModel, n: int) -> list[str]:
    names = [o.get("name") for o in getattr(model, "outputs", None) or []]
    return names if len(names) == n and all(names) else [f"output_{k}" for k in range(n)]


def _variant_plan(opts: AnalyzeOptions) -> dict[str, dict | None]:
    plan = {v: dtype_map_for(v) for v in opts.variants}
    if opts.custom_map:
        plan[opts.custom_name] = opts.custom_map
    return plan


def write_variants(source: ModelSource, opts: AnalyzeOptions, root: Path) -> tuple[dict[str, Path], dict]:
    from ..convert.requantize import requantize
    from ..convert.weight_checks import check_weights_quantizable

    made = write_float32(source, root / "float32", opts.output_format)
    paths = {"float32": root / "float32"}
    for name, dtype_map in _variant_plan(opts).items():
        if name == "float32":
            continue
        paths[name] = requantize(root / "float32", root / name, dtype_map, check_weights_quantizable)
    return paths, made


def analyze(source: ModelSource, opts: AnalyzeOptions, detect_s: float = 0.0) -> dict:
    """Convert, run every variant in one tfjs runtime, measure; writes OUT/<name>/results.json."""
    t_start = time.perf_counter()
    root = Path(opts.models_dir) / opts.name
    result_dir = Path(opts.out_dir) / opts.name
    check_output_format(source, opts.output_format)  # usage errors before any folder is made
    if opts.inputs.path is not None and not Path(opts.inputs.path).exists():
        raise DataError(f"--inputs {opts.inputs.path}: no such file or folder")
    made = [root] if workspace.claim_model_root(root, source.path) else []
    try:
        if workspace.claim(result_dir, "results folder"):
            made.append(result_dir)
        return _analyze(source, opts, root, result_dir, t_start, detect_s)
    except BaseException:
        for folder in made:  # a failed or interrupted run leaves no folder it made (only those)
            shutil.rmtree(folder, ignore_errors=True)
        raise


def _analyze(
    source: ModelSource, opts: AnalyzeOptions, root: Path, result_dir: Path, t_start: float, detect_s: float
) -> dict:
    split = {"detect": detect_s}
    with workspace.locked(root), workspace.locked(result_dir):
        t0 = time.perf_counter()
        paths, made = write_variants(source, opts, root)
        split["convert"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        with make_pool(opts.runtime, opts.workers, opts.timeout, opts.executor, opts.ray_address) as runtime:
            split["load"] = split["transfer"] = split["predict"] = 0.0
            loaded32 = runtime.inspect(paths["float32"], "float32")  # starts a worker; float32 stays loaded
            split["runtime_start"] = time.perf_counter() - t0 - loaded32.load_ms / 1000
            specs = _specs(loaded32)
            inputs = load_inputs(specs, opts.inputs)
            if inputs.synthetic:
                log.warning(
                    "no --inputs: %d synthetic examples in %s (seed %d); fidelity only, and real data "
                    "may exercise the model very differently",
                    inputs.n,
                    inputs.description["range"],
                    inputs.description["seed"],
                )
            measured = measure_variants(runtime, paths, inputs, opts.name, opts.batch_size, CHUNK)
            for m in measured.values():
                split["load"] += m.load_ms / 1000
                split["transfer"] += m.timings.transfer_ms / 1000
                split["predict"] += m.timings.predict_ms / 1000
            runtime_info = runtime.describe()
            workers_ran = runtime.ran
            t0 = time.perf_counter()
            ref = measured["float32"].outputs
            outputs = {name: m.outputs for name, m in measured.items()}
            out_names = _output_names(loaded32, len(ref))
            task = tasks.detect_task(ref, inputs.labels, opts.task)
            rows, scores = [], {}
            for name, m in measured.items():
                outs = m.outputs
                metrics = tasks.label_metrics(task, outs[0], inputs.labels) if task != "fidelity" else {}
                scores[name] = tasks.per_example_scores(task, outs[0], inputs.labels) if metrics else {}
                per_output = {out_names[k]: tasks.fidelity(outs[k], ref[k]) for k in range(len(outs))}
                first = per_output[out_names[0]]
                for key in ("cosine_mean", "top1_agreement", "sqnr_db"):
                    if key in first:
                        metrics[key if task == "fidelity" else f"fidelity_{key}"] = first[key]
                nonfinite = sum(int(f["nonfinite"]) for f in per_output.values())
                if nonfinite:
                    log.warning("%s: %d NaN/Inf output values", name, nonfinite)
                row = variant_row(name, m.artifact, metrics, runtime, m.load_ms, m.timings)
                row["fidelity"] = per_output
                row["nonfinite_outputs"] = nonfinite
                row["dtype_map"] = _variant_plan(opts).get(name)
                fid = tasks.fidelity_per_example(outs[0], outputs["float32"][0])
                prefix = "" if task == "fidelity" else "fidelity_"
                per_ex = scores[name] | {f"{prefix}{k}": v for k, v in fid.items()}
                row |= stats.uncertainty(per_ex, None if name == "float32" else scores["float32"])
                rows.append(row)
            split["metrics"] = time.perf_counter() - t0
        results = {
            "kind": "model",
            "demo": opts.name,
            "title": f"{opts.name} (your model)",
            "task": task,
            "primary_metric": tasks.PRIMARY[task],
            "source": {**source.describe(), **made},
            "inputs": {
                **inputs.description,
                "names": [s.name for s in specs],
                "shapes": {s.name: list(inputs.arrays[s.name].shape) for s in specs},
            },
            "outputs": out_names,
            "dataset": {"name": inputs.description.get("file") or "synthetic", "n_test": inputs.n},
            "variants": rows,
            "weight_error": weights_section(root, list(paths)),
            "seed": {},
            "note": _note(source, inputs, task),
            "environment": environment(runtime_info),
            "timings_s": {k: round(v, 3) for k, v in split.items()},
            "config": {
                "command": " ".join(shlex.quote(a) for a in sys.argv),
                "runtime": opts.runtime,
                "workers": workers_ran,
                "executor": opts.executor,
                "variants": list(paths),
                "custom_map": opts.custom_map,
                "wall_seconds": round(time.perf_counter() - t_start + detect_s, 1),
            },
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        write_results(opts.out_dir, opts.name, results)
    return results


def _note(source: ModelSource, inputs: InputSet, task: str) -> str:
    parts = [f"Your model: {source.format} ({source.path.name})."]
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
