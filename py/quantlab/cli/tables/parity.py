"""The parity record in the terminal: one row per pair, the failing outputs, where the first
difference was localised, each runtime's start, load and predict times, and what was unavailable."""

from __future__ import annotations

from rich.table import Table

from ...infra.progress import table_console


def _opt(stats: dict, key: str, fmt: str) -> str:
    return fmt.format(stats[key]) if key in stats else "–"


def print_parity(record: dict) -> None:
    table = Table(
        title=f"parity on {record['n_examples']} examples against {record.get('reference', 'keras')} "
        f"(atol {record['atol']}, rtol {record['rtol']})"
    )
    cols = ["variant", "kind", "actual", "reference", "max abs", "mean abs", "rel L2", "SQNR dB", "cos min",
            "top-1 agree", "result", "first bad layer"]  # fmt: skip
    for c in cols:
        table.add_column(c)
    for p in record["pairs"]:
        s = p["stats"]
        verdict = {True: "[green]pass[/green]", False: "[red]FAIL[/red]", None: "info"}[p["passed"]]
        table.add_row(
            p["variant"], p["kind"], p["actual"], p["reference"], f"{s['max_abs']:.2e}",
            f"{s['mean_abs']:.2e}", f"{s['rel_l2']:.2e}", f"{s['sqnr_db']:.1f}",
            _opt(s, "cosine_min", "{:.6f}"),
            _opt(s, "top1_agreement", "{:.4f}"), verdict,
            (p["first_bad_layer"] or {}).get("layer", ""),
        )  # fmt: skip
    console = table_console()
    console.print(table)
    if record.get("reference_detail"):
        console.print(f"reference: {record['reference_detail']}", highlight=False)
    for p in record["pairs"]:  # multi-output models: the outputs that failed
        for out, s in (p.get("outputs") or {}).items():
            if s.get("passed") is False and p["passed"] is False:
                console.print(
                    f"{p['actual']} vs {p['reference']}: output {out} fails ({s['n_failing']} elements, "
                    f"max abs {s['max_abs']:.2e})",
                    highlight=False,
                )
    if record.get("localisation"):
        console.print(record["localisation"], highlight=False)
    for name, info in record["runtimes"].items():
        times = [
            p["timings"]
            for p in record["pairs"]
            if p["kind"] == "runtime" and p["actual"].startswith(name + " ") and p.get("timings")
        ]
        load = sum(t["load_ms"] for t in times) / max(1, len(times))
        pred = sum(t["predict_ms_per_example"] for t in times) / max(1, len(times))
        console.print(
            f"{name}: start {info['start_ms']:.0f} ms, mean load {load:.0f} ms, "
            f"predict {pred:.3f} ms/example, {info.get('workers', 1)} worker(s)"
        )
    for name, reason in record["unavailable"].items():
        console.print(f"[yellow]{name} unavailable[/yellow]: {reason}")
