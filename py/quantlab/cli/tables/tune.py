"""The tune record as a person reads it (`quantlab tune DEMO|MODEL`)."""

from __future__ import annotations

import shlex

from ...infra.progress import console, table_console
from ...metrics import within_budget


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
    if r.get("quantlab_command"):  # graph models: the converter cannot re-quantize them
        out.print(
            "reproduce with quantlab (tfjs' own weight writer):\n  " + shlex.join(r["quantlab_command"])
        )


def print_tune_result(record: dict, max_drop: float, as_json: bool) -> None:
    """The table (or, beside --json, the one line saying nothing met the budget)."""
    if not as_json:
        print_tune(record)
    elif record["chosen"] is None:
        console.print(
            f"no variant is within a drop of {max_drop}; best found: {record['best_found']['label']}"
        )
