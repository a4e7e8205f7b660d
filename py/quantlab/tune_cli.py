"""`quantlab tune`: load a demo's Keras model and artifacts, build probes, search, save, print."""

from __future__ import annotations

import shlex
from pathlib import Path

from .demos import MOBILENET
from .fsutil import write_json_atomic
from .metrics import within_budget
from .progress import console, table_console
from .results import RESULTS_FILE, attach_section, results_or_none
from .runtimes import make_runtime
from .tune import run_tune

TUNE_FILE = "tune.json"


def tune_command(
    demo, max_drop, relative, limit, sweeps, backend, data_dir, out, models_dir, timeout, show=True
) -> dict:
    from .train import load_trained

    results_or_none(Path(out) / demo / RESULTS_FILE)  # one it cannot merge into is named before the work
    keras_model, _ = load_trained(Path(models_dir) / demo / "keras")
    factory = None
    if demo == MOBILENET:
        from .datasets.imagenet import class_files
        from .probes import MobilenetProbeFactory

        full_mode = keras_model.output_shape[-1] == 1000
        size = keras_model.input_shape[1]
        factory = MobilenetProbeFactory(
            data_dir, size, "full" if full_mode else "backbone", class_files(data_dir) if full_mode else None
        )
        probe, full_probe = factory.probe(limit), factory.probe(None)
    else:
        from .probes import trained_demo_probe

        probe, full_probe = (
            trained_demo_probe(demo, data_dir, limit),
            trained_demo_probe(demo, data_dir, None),
        )
    try:
        with make_runtime(f"node-{backend}", timeout=timeout) as runtime:
            record = run_tune(
                keras_model, Path(models_dir) / demo, runtime, probe, full_probe, max_drop, relative, sweeps
            )
    finally:
        if factory:
            factory.close()
    write_json_atomic(Path(out) / demo / TUNE_FILE, record)
    attach_section(out, demo, "tune", record)  # the report reads it from the results
    if show:
        print_tune(record)
    elif record["chosen"] is None:
        console.print(
            f"no variant is within a drop of {max_drop}; best found: {record['best_found']['label']}"
        )
    return record


def print_tune(r: dict) -> None:
    from rich.table import Table

    if r["sensitivity"]:
        n = r["subset_size"]
        table = Table(title=f"per-layer sensitivity ({r['metric']} on {n} examples, most sensitive first)")
        for col in ("layer", "only this uint8", "all uint8 but this", "gain keeping this float32"):
            table.add_column(col, justify="left" if col == "layer" else "right")
        for row in r["sensitivity"][:15]:
            table.add_row(
                row["layer"],
                f"{row.get('only_this_uint8', float('nan')):.4f}",
                f"{row.get('all_but_this_uint8', float('nan')):.4f}",
                f"{row.get('gain_keeping_this_float32', float('nan')):+.4f}",
            )
        table_console().print(table)
    out = table_console()
    out.print(
        f"evaluated {r['n_evaluated']} variants in {r['seconds']:.0f} s "
        f"({r['seconds_per_variant']:.1f} s per variant) with {r['runtime']}"
        + (
            f"; the per-layer sweep: {r['n_sweep']} variants in {r['sweep_seconds']:.0f} s"
            if r.get("n_sweep")
            else ""
        )
    )
    f32 = r["float32_metric"]
    for check in r.get("full_set_checks", [])[1:]:
        verdict = "within" if within_budget(check["drop"], r["max_drop"]) else "over"
        out.print(
            f"full-set check ({r['full_size']} examples): {check['label']}: {r['metric']} "
            f"{check['metric']:.4f}, drop {check['drop']:+.4f}, {verdict} budget"
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
    out.print(
        f"chosen: {c['label']}: {r['metric']} {c['metric']:.4f} on the subset; on the full set "
        f"{v['metric']:.4f} (float32 {r['verified_float32_metric']:.4f}, drop {v['drop']:.4f}, "
        f"budget {r['max_drop']}); {v['weight_bytes']:,} weight bytes ({share:.1%} of float32)"
    )
    promoted = c.get("extra", {}).get("promoted") or []
    if promoted:
        kinds = {o["layer"]: o["promote_to"] for o in r["search"]["order"]}
        out.print(
            f"on top of {r['search']['start']}, promoted: "
            + ", ".join(f"{la} {kinds[la]}" for la in promoted)
        )
    out.print(f"artifact: {r['artifact']}")
    out.print("reproduce with the stock converter:\n  " + shlex.join(r["converter_command"]))
