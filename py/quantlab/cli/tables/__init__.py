"""What commands print: the summary table, strict JSON, warnings a run must not only put on a page."""

from __future__ import annotations

import math
import sys

from ...infra.progress import console, log, table_console
from ...judge import headline_words


def print_json(obj) -> None:
    """--json: strict JSON on stdout (NaN/Inf as null plus a "<key>_nonfinite" sibling), which
    any JSON parser reads, as results.json is written."""
    from ...infra.fsutil import dumps_strict

    sys.stdout.write(dumps_strict(obj) + "\n")


def print_workers_line(pool) -> None:
    console.print(
        f"{pool.ran} worker{'s' if pool.ran != 1 else ''} ran ({pool.executor} executor, {pool.name})",
        highlight=False,
    )


def warn_nonfinite(record: dict) -> None:
    """A warning in the terminal, not only on the page, when a demo's weights or figures hold
    NaN/Inf: the run ends 0 (the numbers are what tfjs computed), but none of them means much."""
    name = record.get("demo", "?")
    weights = sorted({t["name"] for w in (record.get("weight_error") or {}).values()
                      for t in (w or {}).get("tensors", []) if t.get("nonfinite_reference")})  # fmt: skip
    if weights:
        more = f" and {len(weights) - 3} more" if len(weights) > 3 else ""
        log.warning(
            "%s: its float32 weights hold NaN/Inf (%s%s): every figure is computed from a broken model; "
            "retrain it or fix those weights", name, ", ".join(weights[:3]), more,
        )  # fmt: skip
    figures = [
        f"{v['name']} {k}"
        for v in record.get("variants", [])
        for k, x in (v.get("metrics") or {}).items()
        if isinstance(x, float) and not math.isfinite(x)
    ]
    if figures:
        log.warning("%s: NaN/Inf figures (%s): the outputs hold NaN/Inf", name, ", ".join(figures[:4]))


def print_litert_lines(r: dict) -> None:
    """After a run with --litert: the sentence (tfjs or LiteRT.js?) and LiteRT float32's parity."""
    litert = r["litert"]
    tfjs = r["variants"][0]["runtime"]["name"]
    console.print(
        f"{r['demo']}: tfjs ({tfjs}) or LiteRT.js ({litert['runtime']['runtime']}), "
        f"{headline_words(litert['metric'])}: {litert['sentence']}",
        highlight=False,
        soft_wrap=True,
    )
    if litert.get("speed_note"):
        console.print(f"({litert['speed_note']})", highlight=False, soft_wrap=True)
    p = litert.get("float32_parity")
    if p:
        verdict = "within" if p["passed"] else f"OUT of ({p['n_failed']} elements)"
        console.print(
            f"litert-float32 against {p['reference']}: max abs {p['max_abs']:.2e}, {verdict} atol "
            f"{p['atol']} / rtol {p['rtol']}",
            highlight=False,
        )


def print_summary(all_results: list[dict], as_json: bool) -> None:
    if as_json:
        print_json(all_results)
        return
    from rich.table import Table

    table = Table(title="quantlab: metrics measured in tfjs")
    for col in ("demo", "variant", "metric", "value", "seed", "weight bytes", "gzip ratio"):
        table.add_column(col, justify="left" if col in ("demo", "variant", "metric") else "right")
    for r in all_results:
        for v in r["variants"]:
            key = r["primary_metric"]
            seed = r["seed"].get(v["name"])
            table.add_row(
                r["demo"],
                v["name"],
                key,
                f"{v['metrics'][key]:.4f}",
                "–" if seed is None else f"{seed:.4f}",
                f"{v['weight_bytes']:,}",
                f"{v['gzip_ratio']:.3f}",
            )
    table_console().print(table)
    for r in all_results:
        if r.get("litert"):
            print_litert_lines(r)
