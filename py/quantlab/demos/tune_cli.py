"""`quantlab tune`: load a demo's Keras model and artifacts, build probes, search, save, print."""

from __future__ import annotations

import shlex
from pathlib import Path

from ..analysis.pool import make_pool
from ..analysis.tune import run_tune
from ..infra.fsutil import write_json_atomic
from ..infra.progress import console, table_console
from ..metrics import within_budget
from ..results import RESULTS_FILE, attach_section, results_or_none
from .registry import is_image_demo

TUNE_FILE = "tune.json"


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


def judged_drop(check: dict, conservative: bool) -> float:
    """search.judged_drop on a recorded point."""
    ci = check.get("drop_ci")
    return ci[1] if conservative and ci else check["drop"]


def print_tune(r: dict) -> None:
    from rich.table import Table

    if r["sensitivity"]:
        n = r.get("rank_size") or r["subset_size"]
        table = Table(title=f"per-layer sensitivity ({r['metric']} on {n} examples, most sensitive first)")
        cols = ("layer", "output error, only this uint8", "only this uint8", "all uint8 but this",
                "gain keeping this float32")  # fmt: skip
        for col in cols:
            table.add_column(col, justify="left" if col == "layer" else "right")
        for row in r["sensitivity"][:15]:
            err = row.get("output_error_only_this_uint8")
            table.add_row(
                row["layer"],
                "–" if err is None else f"{err:.4f}",
                f"{row.get('only_this_uint8', float('nan')):.4f}",
                f"{row.get('all_but_this_uint8', float('nan')):.4f}",
                f"{row.get('gain_keeping_this_float32', float('nan')):+.4f}",
            )
        table_console().print(table)
    out = table_console()
    out.print(
        f"evaluated {r['n_evaluated']} variants in {r['seconds']:.0f} s "
        f"({r['seconds_per_variant']:.1f} s per variant) with {r['runtime']}, "
        f"{r.get('workers', 1)} worker{'s' if r.get('workers', 1) != 1 else ''}"
        + (
            f"; the per-layer sweep: {r['n_sweep']} variants on {r.get('rank_size', r['subset_size'])} "
            f"examples in {r['sweep_seconds']:.0f} s"
            if r.get("n_sweep")
            else ""
        )
    )
    f32 = r["float32_metric"]
    where = "held-out" if (r.get("holdout") or {}).get("fraction") else "full-set"
    for check in r.get("holdout_checks", [])[1:]:
        judged = judged_drop(check, r.get("conservative", False))
        verdict = "within" if within_budget(judged, r["max_drop"]) else "over"
        ci = check.get("drop_ci")
        out.print(
            f"{where} check ({r['holdout_size']} examples): {check['label']}: {r['metric']} "
            f"{check['metric']:.4f}, drop {check['drop']:+.4f}"
            + (f" [{ci[0]:+.4f}, {ci[1]:+.4f}]" if ci else "")
            + f", {verdict} budget"
        )
    if r["chosen"] is None:
        b = r["best_found"]
        console.print(
            f"[red]no variant is within a drop of {r['max_drop']}[/red] of float32 "
            f"({r['metric']} {f32:.4f}); best found: {b['label']} ({r['metric']} {b['metric']:.4f}, "
            f"{b['weight_bytes']:,} bytes)"
        )
        return
    c, v = r["chosen"], r["verified"]
    share = v["weight_bytes"] / r["float32_bytes"]
    ci = v.get("drop_ci")
    out.print(
        f"chosen: {c['label']}: {r['metric']} {c['metric']:.4f} on the search subset; on the {where} "
        f"examples ({r['holdout_size']}) {v['metric']:.4f} (float32 {r['verified_float32_metric']:.4f}, "
        f"drop {v['drop']:.4f}"
        + (f", 95% interval [{ci[0]:+.4f}, {ci[1]:+.4f}]" if ci else "")
        + f", budget {r['max_drop']}{' on the upper end' if r.get('conservative') else ''}); "
        f"{v['weight_bytes']:,} weight bytes ({share:.1%} of float32)"
    )
    promoted = c.get("extra", {}).get("promoted") or []
    if promoted:
        kinds = {o["layer"]: o["promote_to"] for o in r["search"]["order"]}
        out.print(
            f"on top of {r['search']['start']}, promoted: "
            + ", ".join(f"{la} {kinds[la]}" for la in promoted)
        )
    out.print(f"artifact: {r['artifact']}")
    if r.get("converter_command"):
        out.print("reproduce with the stock converter:\n  " + shlex.join(r["converter_command"]))
    elif r.get("quantlab_command"):  # graph models: the converter cannot re-quantize them
        out.print(
            "reproduce with quantlab (tfjs' own weight writer):\n  " + shlex.join(r["quantlab_command"])
        )
