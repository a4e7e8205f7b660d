"""Render reports/index.html and one page per demo from results.json files, nothing else."""

from __future__ import annotations

import json
from pathlib import Path

from jinja2 import Environment, PackageLoader, Undefined, select_autoescape

from ..errors import QuantlabError
from ..fsutil import read_json, write_text_atomic
from ..metrics import within_budget
from ..progress import log
from .charts import bar_chart, discretisation_figure, frontier_chart, histogram_chart, sensitivity_chart

RESULTS_FILE = "results.json"
SEED_LABELS = {"float32": "original", "uint16": "16-bit", "uint8": "8-bit"}
REQUIRED = ("demo", "variants")


def load_all_results(out_dir: Path) -> list[dict]:
    """Every <out>/<demo>/results.json; unreadable ones are skipped with a warning, incomplete
    ones are kept with a list of what is missing."""
    found = []
    for path in sorted(Path(out_dir).glob(f"*/{RESULTS_FILE}")):
        try:
            results = read_json(path)  # restores NaN/Inf written as null + "<key>_nonfinite"
        except (OSError, json.JSONDecodeError) as e:
            log.warning("%s: skipped, not readable JSON (%s)", path, e)
            continue
        if not isinstance(results, dict):
            log.warning("%s: skipped, not a results object", path)
            continue
        missing = [k for k in (*REQUIRED, "dataset", "environment", "config", "seed") if k not in results]
        results.setdefault("demo", path.parent.name)
        results.setdefault("variants", [])
        results["_missing"] = missing
        results["_page"] = f"{path.parent.name}/index.html"
        if missing:
            log.warning("%s: fields missing (%s); rendering what is there", path, ", ".join(missing))
        found.append(results)
    return found


def _missing(value) -> bool:
    return value is None or isinstance(value, Undefined)


def _fmt(value, digits: int = 4) -> str:
    if _missing(value):
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _int(value) -> str:
    return "–" if _missing(value) else f"{value:,}"


def _kb(value) -> str:
    return "–" if _missing(value) else f"{value / 1024:,.1f} KiB"


def _delta(value, reference) -> str:
    if _missing(value) or _missing(reference):
        return "–"
    return f"{value - reference:+.4f}"


def _env() -> Environment:
    env = Environment(
        loader=PackageLoader("quantlab.report", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(fmt=_fmt, int=_int, kb=_kb)
    env.tests["within_budget"] = within_budget
    env.globals["delta"] = _delta
    env.globals["SEED_LABELS"] = SEED_LABELS
    env.globals["histogram_chart"] = histogram_chart
    return env


def _primary(results: dict, variant: dict):
    return variant.get("metrics", {}).get(results.get("primary_metric", ""))


def demo_charts(results: dict) -> dict:
    variants = results.get("variants", [])
    names = [v.get("name", "?") for v in variants]
    metric = results.get("primary_metric", "metric")
    tune = results.get("tune") or {}
    return {
        "frontier": frontier_chart(tune.get("points", []), tune.get("chosen"), tune.get("metric", metric)),
        "sensitivity_b": sensitivity_chart(
            tune.get("sensitivity", []),
            "gain_keeping_this_float32",
            "gain from keeping only this layer float32",
        ),
        "sensitivity_a": sensitivity_chart(
            tune.get("sensitivity", []),
            "drop_only_this_uint8",
            "drop from quantizing only this layer to uint8",
        ),
        "noise_a": sensitivity_chart(
            tune.get("sensitivity", []),
            "output_error_only_this_uint8",
            "output error vs float32, only this layer uint8",
        ),
        "metric": bar_chart(
            names, [_primary(results, v) for v in variants], f"{metric} by precision (tfjs)", zoom=True
        ),
        "size": bar_chart(
            names,
            [v["weight_bytes"] / 1024 if v.get("weight_bytes") else None for v in variants],
            "weight bytes (KiB)",
            fmt="{:,.0f}",
        ),
        "gzip": bar_chart(
            names, [v.get("gzip_ratio") for v in variants], "gzip ratio (total / tar.gz bytes)", fmt="{:.2f}"
        ),
    }


def render_reports(out_dir: Path) -> Path:
    out_dir = Path(out_dir)
    all_results = load_all_results(out_dir)
    if not all_results:
        raise QuantlabError(
            f"{out_dir}: no */results.json to render; run `quantlab run` (or `quantlab run --quick`) first"
        )
    env = _env()
    figure = discretisation_figure()
    for results in all_results:
        html = env.get_template("demo.html.j2").render(
            r=results, charts=demo_charts(results), primary=_primary, discretisation=figure
        )
        write_text_atomic(out_dir / results["_page"], html)
    index = env.get_template("index.html.j2").render(results=all_results, primary=_primary)
    write_text_atomic(out_dir / "index.html", index)
    log.info("report written to %s", out_dir / "index.html")
    return out_dir / "index.html"
