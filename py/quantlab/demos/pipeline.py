"""The data flow for one demo: data -> train -> convert/quantize -> tfjs runtime -> metrics ->
results.json. Each step is usable alone (the CLI's building blocks)."""

from __future__ import annotations

import re
import time
from pathlib import Path

from .. import workspace
from ..analysis.evaluate import ArrayExamples, measure_variants
from ..analysis.run_record import Scorer, add_intervals, run_record, scored_rows, tfjs_rows
from ..analysis.weight_error import weights_section
from ..convert.converter import VARIANTS, write_variants
from ..errors import ArtifactError, QuantlabError
from ..infra.progress import log
from ..results import write_results
from ..runtimes.base import Runtime
from ..tasks import label_metrics, per_example_scores
from ..tfjs import MODEL_JSON
from ..tfjs.artifacts import read_artifact
from .base import DemoSpec


def keras_dir(models_dir: Path, demo: DemoSpec) -> Path:
    return workspace.keras_dir(models_dir, demo.name)


def variant_dir(models_dir: Path, demo: DemoSpec, variant: str) -> Path:
    return workspace.variant_dir(models_dir, demo.name, variant)


def train_step(
    demo: DemoSpec, models_dir: Path, data_dir: Path | None, quick: bool, seed: int = 1337
) -> dict:
    from .train import save_trained, train

    data = demo.load(data_dir)
    result = train(demo, data, demo.profile(quick), seed=seed)
    result.record["profile"] = "quick" if quick else "full"
    save_trained(result, keras_dir(models_dir, demo))
    return result.record


def quantize_step(demo: DemoSpec, models_dir: Path, variants=VARIANTS) -> dict[str, Path]:
    from .train import load_trained

    model, _ = load_trained(keras_dir(models_dir, demo))
    t0 = time.perf_counter()
    paths = write_variants(model, workspace.model_root(models_dir, demo.name), variants)
    log.info("wrote %s variants %s in %.1f s", demo.name, ", ".join(paths), time.perf_counter() - t0)
    return paths


def quantize_custom(demo_name: str, models_dir: Path, name: str, dtype_map: dict) -> list[str]:
    """One variant from a per-weight dtype map; returns the equivalent converter command."""
    from ..convert.converter import converter_command, save_tfjs
    from ..workspace import RESERVED, check_name
    from .train import load_trained

    check_name(name, "--name", RESERVED)
    folder = workspace.model_root(models_dir, demo_name)
    check_replaceable_variant(folder / name)
    if read_artifact(folder / "float32").format == "graph":
        # The converter cannot re-quantize a graph model (tensorflow/tfjs#6154): its weight writer can.
        from ..convert.requantize import requantize
        from ..convert.weight_checks import check_weights_quantizable

        requantize(folder / "float32", folder / name, dtype_map, check_weights_quantizable)
        log.info("wrote %s (tensorflowjs.write_weights on the float32 graph model's weights)", folder / name)
        return []
    model, _ = load_trained(folder / "keras")
    save_tfjs(model, folder / name, dtype_map)
    log.info("wrote %s", folder / name)
    return converter_command(folder / "float32" / MODEL_JSON, folder / name, dtype_map)


# What a tfjs layers-model folder written by the converter holds; anything else is someone's own.
_ARTIFACT_FILE = re.compile(r"^(model\.json|group\d+-shard\d+of\d+\.bin|\.quantlab-owned|\.quantlab\.lock)$")


def check_replaceable_variant(folder: Path) -> None:
    """A custom variant replaces MODELS/<demo>/<name> whole: refuse when that is a file or a
    folder holding anything but a tfjs artifact (never delete a user's own files)."""
    folder = Path(folder)
    if not folder.exists() and not folder.is_symlink():
        return
    if folder.is_symlink() or not folder.is_dir():
        raise QuantlabError(f"{folder}: exists and is not a folder quantlab wrote; choose another --name", 2)
    foreign = sorted(p.name for p in folder.iterdir() if not (p.is_file() and _ARTIFACT_FILE.match(p.name)))
    if foreign:
        raise QuantlabError(
            f"{folder}: holds files quantlab did not write ({', '.join(foreign[:3])}); choose another --name "
            f"or remove the folder",
            exit_code=2,
        )


# what a demo's record says about its training (from MODELS/<demo>/keras/train.json)
TRAINING_FIELDS = ("profile", "epochs", "batch_size", "lr_schedule", "n_train", "n_validation",
                   "train_seconds", "seed", "keras_test")  # fmt: skip


def demo_scorer(demo: DemoSpec, y, units) -> Scorer:
    """A trained demo's rule: its task's label metrics on its one output."""
    task = demo.task
    return lambda outs: (label_metrics(task, outs[0], y, units), per_example_scores(task, outs[0], y, units))


def evaluate_step(
    demo: DemoSpec,
    models_dir: Path,
    out_dir: Path,
    data_dir: Path | None,
    runtime: Runtime,
    variants=VARIANTS,
    limit: int | None = None,
    config: dict | None = None,
    litert: str | None = None,
    timeout: float = 600.0,
) -> dict:
    """Measure every variant in `runtime`; write <out>/<demo>/results.json atomically. litert: a
    LiteRT.js runtime name: the LiteRT variants too, as rows of the same results (demos/litert.py)."""
    t_start = time.perf_counter()
    from .train import read_record

    record_path = keras_dir(models_dir, demo) / "train.json"
    if not record_path.is_file():
        raise ArtifactError(
            f"{record_path}: no trained {demo.name} model; run `quantlab train "
            f"{demo.name}` (or `quantlab run {demo.name}`) first"
        )
    train_record = read_record(record_path.parent)
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise QuantlabError(f"limit {limit!r}: must be a positive integer (0 or None: all)", exit_code=2)
    data = demo.load(data_dir)
    n_test = min(limit or len(data.x_test), len(data.x_test))
    x, y = data.x_test[:n_test], data.y_test[:n_test]
    units = data.label_units()
    paths = {v: variant_dir(models_dir, demo, v) for v in variants}
    measured = measure_variants(runtime, paths, ArrayExamples({"x": x}), demo.name)
    score = demo_scorer(demo, y, units)
    rows, scores = scored_rows(measured, score, tfjs_rows(runtime), demo.name)
    litert_paths = None
    if litert:
        from .litert import demo_litert

        extra, extra_scores, litert_paths, litert_info = demo_litert(
            demo, models_dir, data, x, score, litert, timeout
        )
        rows += extra
        scores |= extra_scores
    add_intervals(rows, scores)
    config = {"limit": limit, "workers": getattr(runtime, "ran", 1), **(config or {})}
    config.setdefault("step_seconds", {})["evaluate"] = round(time.perf_counter() - t_start, 1)
    results = run_record(
        kind="demo",
        name=demo.name,
        title=demo.title,
        task=demo.task,
        primary_metric=demo.primary_metric,
        dataset={**data.describe(), "n_test": int(n_test)},
        variants=rows,
        weight_error=weights_section(workspace.model_root(models_dir, demo.name), variants)
        if "float32" in variants
        else {},
        seed=demo.seed,
        note=demo.note,
        training={k: train_record.get(k) for k in TRAINING_FIELDS},
        runtime_info=runtime.describe(),
        config=config,
    )
    if litert_paths:
        from ..analysis.litert_run import litert_section

        results["litert"] = litert_section(litert_paths, litert_info, rows, demo.primary_metric)
    write_results(out_dir, demo.name, results)
    return results
