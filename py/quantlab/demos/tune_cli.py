"""`quantlab tune`: load a demo's Keras model and artifacts, build probes, search, save, print."""

from __future__ import annotations

from pathlib import Path

from ..analysis.executors import make_pool
from ..analysis.tune import run_tune
from ..analysis.tune_print import TUNE_FILE, print_tune
from ..infra.fsutil import write_json_atomic
from ..infra.progress import console
from ..results import RESULTS_FILE, attach_section, results_or_none
from .registry import is_image_demo


def tune_command(
    demo,
    max_drop,
    relative,
    limit,
    sweeps,
    backend,
    data_dir,
    out,
    models_dir,
    timeout,
    show=True,
    holdout: float = 0.5,
    conservative: bool = False,
    seed: int = 0,
    rank_limit: int | None = None,
    workers: int | None = None,
    executor: str = "local",
    ray_address: str | None = None,
    base: str = "float32",
) -> dict:
    from .train import load_trained

    results_or_none(Path(out) / demo / RESULTS_FILE)  # one it cannot merge into is named before the work
    keras_model, _ = load_trained(Path(models_dir) / demo / "keras")
    factory = None
    if is_image_demo(demo):
        from .datasets.imagenet import class_files
        from .probes import MobilenetProbeFactory

        full_mode = keras_model.output_shape[-1] == 1000
        size = keras_model.input_shape[1]
        factory = MobilenetProbeFactory(
            data_dir, size, "full" if full_mode else "backbone", class_files(data_dir) if full_mode else None
        )
        probe, holdout_probe, split = factory.probes(limit, holdout, seed)
        rank_probe = factory.rank_probe(rank_limit, holdout, seed) if rank_limit else None
    else:
        from .probes import trained_demo_probes, trained_demo_rank_probe

        probe, holdout_probe, split = trained_demo_probes(demo, data_dir, limit, holdout, seed)
        rank_probe = (
            trained_demo_rank_probe(demo, data_dir, rank_limit, holdout, seed) if rank_limit else None
        )
    if rank_probe is not None and rank_probe.n >= probe.n:
        rank_probe = None  # no smaller than the search subset: rank on that
    try:
        with make_pool(f"node-{backend}", workers, timeout, executor, ray_address) as runtime:
            record = run_tune(
                keras_model,
                Path(models_dir) / demo,
                runtime,
                probe,
                holdout_probe,
                max_drop,
                relative,
                sweeps,
                conservative=conservative,
                split=split,
                rank_probe=rank_probe,
                base=base,
            )
    finally:
        if factory:
            factory.close()
    if record["verified"] and not record.get("converter_command"):  # a graph model
        from ..analysis.tune_model import quantlab_command

        # quantize DEMO --map starts from the demo's float32; another base is a tfjs model of its own
        source = Path(demo) if base == "float32" else Path(models_dir) / demo / base
        record["quantlab_command"] = quantlab_command(source, record["verified"]["dtype_map"])
    # a tune from another base (the graph demo's equalized model) is kept beside the plain one
    section = "tune" if base == "float32" else f"tune_{base}"
    write_json_atomic(Path(out) / demo / (TUNE_FILE if base == "float32" else f"tune-{base}.json"), record)
    attach_section(out, demo, section, record)  # the report reads it from the results
    if show:
        print_tune(record)
    elif record["chosen"] is None:
        console.print(
            f"no variant is within a drop of {max_drop}; best found: {record['best_found']['label']}"
        )
    return record
