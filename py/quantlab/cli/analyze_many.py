"""`quantlab analyze A.json B.json DIR ...`: each model through the same road, one page each, and
one overview (model x variant: bytes, worst output, verdict). A model that fails gets its one-line
reason in the overview and the others go on; the exit code is then the first failure's."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import typer

from ..errors import QuantlabError
from ..infra.progress import console, log, table_console
from ..judge import METRIC_WORDS
from ..stats import format_interval
from .tables import print_litert_lines

BREAK_SCORE = 0.9  # a worst-output score under this is "breaks" (cosine 0.9, 90% top-1 agreement)


def analyze_models(
    models: list[Path], options: Callable, format_: str | None, out: Path, as_json: bool
) -> None:
    from ..analysis.analyze import analyze as run_analyze
    from ..report import render_reports
    from ..sources import detect

    many = len(models) > 1
    entries, all_results, failed = [], [], []
    t_all = time.perf_counter()
    for model in models:
        t0 = time.perf_counter()
        try:
            source = detect(model, format_)
            opts = options(model)
            log.info("%s: %s%s", model, source.format, f" ({source.detail})" if source.detail else "")
            results = run_analyze(source, opts, time.perf_counter() - t0)
        except QuantlabError as e:
            if not many:
                raise
            console.print(f"[red]{model}: failed:[/red] {e}", markup=True, highlight=False, soft_wrap=True)
            failed.append(e)
            entries.append(failed_entry(model, e, time.perf_counter() - t0))
            continue
        all_results.append(results)
        entries.append(entry(results, time.perf_counter() - t0))
        if not as_json:
            print_summary(results)
    render_reports(out)
    if many:
        from ..report.overview import render_overview

        page = render_overview(out, entries)
        if not as_json:
            print_overview(entries, time.perf_counter() - t_all)
            console.print(f"overview: {page}", highlight=False)
    if as_json:
        from .tables import print_json

        print_json(all_results if many else all_results[0])
    if failed:
        raise typer.Exit(failed[0].exit_code)


def failed_entry(model: Path, error: QuantlabError, wall_s: float) -> dict:
    from .. import workspace

    return {
        "name": workspace.name_from_path(model),
        "page": None,
        "error": str(error),
        "exit_code": error.exit_code,
        "format": None,
        "shipped_bytes": None,
        "wall_s": round(wall_s, 1),
        "variants": [],
        "verdict": "failed",
    }


def _worst(row: dict) -> dict:
    h = row.get("headline") or {}
    return {k: h.get(k) for k in ("output", "kind", "metric", "value", "score", "interval")}


def entry(results: dict, wall_s: float) -> dict:
    rows = results["variants"]
    variants = [
        {
            "name": v["name"],
            "weight_bytes": v["weight_bytes"],
            "worst": _worst(v),
            "loss": bool((v.get("outputs") or {}).get(v.get("worst_output"), {}).get("loss")),
            "nonfinite": v.get("nonfinite_outputs", 0),
        }
        for v in rows
    ]
    return {
        "name": results["demo"],
        "page": f"{results['demo']}/index.html",
        "error": None,
        "exit_code": None,
        "format": results["source"]["format"],
        "shipped_bytes": results["source"].get("shipped_bytes"),
        "wall_s": round(wall_s, 1),
        "variants": variants,
        "verdict": verdict(results["source"].get("manifest") or results["source"]["path"], variants),
    }


def figure(worst: dict) -> str:
    words = METRIC_WORDS.get(worst.get("metric"), worst.get("metric"))
    ci = worst.get("interval") or [None, None]
    value = worst.get("value")
    shown = "NaN/Inf" if value is None else format_interval(value, ci[0], ci[1])
    return f"{words} {shown}"


def status(v: dict) -> str:
    """ "breaks", "loses" (a real loss beyond the margin, not a collapse) or "safe"."""
    score = (v.get("worst") or {}).get("score")
    if v.get("nonfinite") or score is None or score < BREAK_SCORE:
        return "breaks"
    return "loses" if v.get("loss") else "safe"


def verdict(model: str, variants: list[dict]) -> str:
    """One sentence on the smallest variant (uint8 when it ran): safe, or which output it breaks
    and what to try."""
    quantized = [v for v in variants if v["name"] != "float32"]
    if not quantized:
        return "float32 only"
    target = next(
        (v for v in quantized if v["name"] == "uint8"), min(quantized, key=lambda v: v["weight_bytes"])
    )
    w = target["worst"]
    said = status(target)
    if said == "safe":
        return f"{target['name']} safe (worst output {w['output']}: {figure(w)})"
    if said == "loses":
        return (
            f"{target['name']} loses on output {w['output']} ({figure(w)}): check it matters; "
            "`quantlab tune` finds a mix"
        )
    return (
        f"{target['name']} breaks output {w['output']} ({figure(w)}): "
        f"try `quantlab tune {model} --max-drop 0.01` or `quantlab equalize`"
    )


def print_summary(r: dict) -> None:
    from rich.table import Table

    n = r["dataset"]["n_test"]
    title = f"quantlab analyze {r['demo']}: {r['task']}, {n} examples, in tfjs ({r['config']['runtime']})"
    table = Table(title=title)
    label_keys = [
        k for k in (r["variants"][0]["metrics"] if r["variants"] else {}) if k != "worst_output_score"
    ]
    shipped = r["source"].get("shipped_bytes")
    sizes = ("weight bytes", "of shipped") if shipped else ("weight bytes",)
    litert = r.get("litert")
    speed = ("ms/example",) if litert else ()
    for col in ("variant", *sizes, *label_keys, "worst output", "its figure", "NaN/Inf", *speed):
        table.add_column(col, justify="left" if col in ("variant", "worst output", "its figure") else "right")
    for v in r["variants"]:
        w = _worst(v)
        size = [f"{v['weight_bytes']:,}"] + ([f"{v['weight_bytes'] / shipped:.0%}"] if shipped else [])
        table.add_row(
            v["name"],
            *size,
            *[_fmt(v["metrics"].get(k), k) for k in label_keys],
            f"{w['output']} ({w['kind']})" if w["output"] else "–",
            figure(w) if w["output"] else "–",
            str(v.get("nonfinite_outputs", 0)),
            *([f"{v['runtime']['predict_ms_per_example']:.3f}"] if litert else []),
        )
    table_console().print(table)
    if litert:
        print_litert_lines(r)
    names = r.get("outputs") or []
    if len(names) > 1:
        per = Table(title="every output (headline metric per variant; * = counted)")
        per.add_column("output", justify="left")
        per.add_column("kind", justify="left")
        for v in r["variants"]:
            per.add_column(v["name"], justify="right")
        counted = set(r.get("counted_outputs") or names)
        for o in names:
            cells = []
            for v in r["variants"]:
                rec = (v.get("outputs") or {}).get(o, {})
                mark = " (loss)" if rec.get("loss") else ""
                cells.append(f"{_fmt(rec.get('value'), rec.get('metric', ''))}{mark}")
            kind = (r.get("output_kinds") or {}).get(o, "")
            per.add_row(
                f"{o}{' *' if o in counted else ''}", f"{kind} {METRIC_WORDS.get(_metric(r, o), '')}", *cells
            )
        table_console().print(per)
    t = r.get("timings_s", {})
    console.print("time (s): " + ", ".join(f"{k} {v:.2f}" for k, v in t.items()), highlight=False)
    c = r.get("config", {})
    if c.get("runtime_fallback"):
        fb = c["runtime_fallback"]
        console.print(f"{fb['from']} has no kernel for {fb['op']}: measured in {fb['to']}", highlight=False)
    if c.get("workers"):
        console.print(
            f"{c['workers']} worker{'s' if c['workers'] != 1 else ''} ran "
            f"({c.get('executor', 'local')} executor)",
            highlight=False,
        )


def _metric(r: dict, output: str) -> str:
    for v in r["variants"]:
        rec = (v.get("outputs") or {}).get(output)
        if rec:
            return rec.get("metric", "")
    return ""


def print_overview(entries: list[dict], wall_s: float) -> None:
    from rich.table import Table

    table = Table(title=f"{len(entries)} models in {wall_s:.0f} s")
    for col in ("model", "seconds", "uint8 bytes", "worst output (uint8)", "verdict"):
        table.add_column(col, justify="right" if col in ("seconds", "uint8 bytes") else "left")
    for e in entries:
        u8 = next((v for v in e["variants"] if v["name"] == "uint8"), None)
        table.add_row(
            e["name"],
            f"{e['wall_s']:.1f}",
            f"{u8['weight_bytes']:,}" if u8 else "–",
            f"{u8['worst']['output']}: {figure(u8['worst'])}" if u8 else "–",
            e["error"] if e["error"] else e["verdict"],
        )
    table_console().print(table)


def _fmt(value, key: str = "") -> str:
    if value is None:
        return "NaN/Inf"
    if not isinstance(value, float):
        return str(value)
    return f"{value:.6f}" if "cosine" in key else f"{value:.4f}"  # cosines differ in the 5th digit
