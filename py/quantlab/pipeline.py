"""The data flow for one demo: data -> train -> convert/quantize -> tfjs runtime -> metrics ->
results.json. Each step is usable alone (the CLI's building blocks)."""

from __future__ import annotations

import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np

from .artifacts import artifact_summary, read_artifact
from .convert import VARIANTS, write_variants
from .demos import Demo
from .environment import environment
from .errors import ArtifactError
from .fsutil import write_json_atomic
from .metrics import task_metrics, task_per_example
from .progress import log, progress
from .runtimes.base import PredictTimings, Runtime
from .stats import uncertainty
from .weight_error import weights_section

RESULTS_FILE = "results.json"
SCHEMA_VERSION = 1


def keras_dir(models_dir: Path, demo: Demo) -> Path:
    return Path(models_dir) / demo.name / "keras"


def variant_dir(models_dir: Path, demo: Demo, variant: str) -> Path:
    return Path(models_dir) / demo.name / variant


def train_step(demo: Demo, models_dir: Path, data_dir: Path | None, quick: bool, seed: int = 1337) -> dict:
    from .train import save_trained, train

    data = demo.load(data_dir)
    result = train(demo, data, demo.profile(quick), seed=seed)
    result.record["profile"] = "quick" if quick else "full"
    save_trained(result, keras_dir(models_dir, demo))
    return result.record


def quantize_step(demo: Demo, models_dir: Path, variants=VARIANTS) -> dict[str, Path]:
    from .train import load_trained

    model, _ = load_trained(keras_dir(models_dir, demo))
    t0 = time.perf_counter()
    paths = write_variants(model, Path(models_dir) / demo.name, variants)
    log.info("wrote %s variants %s in %.1f s", demo.name, ", ".join(paths), time.perf_counter() - t0)
    return paths


def quantize_custom(demo_name: str, models_dir: Path, name: str, dtype_map: dict) -> list[str]:
    """One variant from a per-weight dtype map; returns the equivalent converter command."""
    from .convert import converter_command, save_tfjs
    from .train import load_trained

    folder = Path(models_dir) / demo_name
    model, _ = load_trained(folder / "keras")
    save_tfjs(model, folder / name, dtype_map)
    log.info("wrote %s", folder / name)
    return converter_command(folder / "float32" / "model.json", folder / name, dtype_map)


def predict_in_batches(
    runtime: Runtime, model, x: np.ndarray, chunk: int, label: str, batch_size: int = 256
) -> tuple[np.ndarray, PredictTimings]:
    """Stream `x` to the runtime in chunks (one progress step each); concatenates outputs."""
    timings = PredictTimings()
    outputs = []
    with progress() as bar:
        task = bar.add_task(label, total=len(x), info="")
        for start in range(0, len(x), chunk):
            (y,), t = runtime.predict(model, x[start : start + chunk], batch_size=batch_size)
            outputs.append(y)
            timings.add(t)
            bar.update(
                task, advance=len(y), info=f"{timings.predict_ms / max(1, timings.examples):.2f} ms/example"
            )
    return np.concatenate(outputs), timings


def variant_row(name: str, art, metrics: dict, runtime: Runtime, load_ms: float, t: PredictTimings) -> dict:
    """One variant's entry in results.json: sizes, metrics, and how the runtime did."""
    info = runtime.describe()
    return {
        "name": name,
        **artifact_summary(art),
        "metrics": metrics,
        "runtime": {
            "name": runtime.name,
            "backend": info["backend"],
            "tfjs_version": info.get("tfjs_version"),
            "load_ms": round(load_ms, 2),
            "predict_ms_per_example": round(t.predict_ms / t.examples, 4),
            "examples_per_second": round(1000 * t.examples / t.predict_ms, 2),
            "transfer_ms": round(t.transfer_ms, 2),
            "n_examples": t.examples,
        },
    }


def evaluate_step(
    demo: Demo,
    models_dir: Path,
    out_dir: Path,
    data_dir: Path | None,
    runtime: Runtime,
    variants=VARIANTS,
    limit: int | None = None,
    config: dict | None = None,
) -> dict:
    """Measure every variant in `runtime`; write <out>/<demo>/results.json atomically."""
    t_start = time.perf_counter()
    record_path = keras_dir(models_dir, demo) / "train.json"
    if not record_path.is_file():
        raise ArtifactError(
            f"{record_path}: no trained {demo.name} model; run `quantlab train "
            f"{demo.name}` (or `quantlab run {demo.name}`) first"
        )
    train_record = json.loads(record_path.read_text())
    data = demo.load(data_dir)
    n_test = limit or len(data.x_test)
    x, y = data.x_test[:n_test], data.y_test[:n_test]
    label_std = data.extra.get("label_std")
    rows, scores = [], {}
    for variant in variants:
        folder = variant_dir(models_dir, demo, variant)
        art = read_artifact(folder)
        loaded = runtime.load(folder)
        try:
            outputs, t = predict_in_batches(
                runtime, loaded, x, chunk=2048, label=f"{demo.name} {variant} ({runtime.name})"
            )
        finally:
            runtime.unload(loaded)
        metrics = task_metrics(demo.task, outputs, y, label_std)
        scores[variant] = task_per_example(demo.task, outputs, y, label_std)
        rows.append(variant_row(variant, art, metrics, runtime, loaded.load_ms, t))
        log.info(
            "%s %s: %s (%d weight bytes)",
            demo.name,
            variant,
            ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()),
            art.weight_bytes,
        )
    for row in rows:  # intervals; differences from float32 on the same examples
        row |= uncertainty(scores[row["name"]], scores.get("float32") if row["name"] != "float32" else None)
    config = {"limit": limit, **(config or {})}
    config.setdefault("step_seconds", {})["evaluate"] = round(time.perf_counter() - t_start, 1)
    results = {
        "schema": SCHEMA_VERSION,
        "demo": demo.name,
        "title": demo.title,
        "task": demo.task,
        "primary_metric": demo.primary_metric,
        "dataset": {**data.describe(), "n_test": int(n_test)},
        "variants": rows,
        "weight_error": weights_section(Path(models_dir) / demo.name, variants)
        if "float32" in variants
        else {},
        "seed": demo.seed,
        "note": demo.note,
        "training": {
            k: train_record.get(k)
            for k in (
                "profile",
                "epochs",
                "batch_size",
                "lr_schedule",
                "n_train",
                "n_validation",
                "train_seconds",
                "seed",
                "keras_test",
            )
        },
        "environment": environment(runtime.describe()),
        "config": {"command": " ".join(shlex.quote(a) for a in sys.argv), **config},
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    write_json_atomic(Path(out_dir) / demo.name / RESULTS_FILE, results)
    return results
