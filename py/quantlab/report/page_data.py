"""What a page shows besides the records' own fields: its charts (metric, sizes, tune frontier
and sensitivity, delivery) and the side-by-side of a demo and its sibling."""

from __future__ import annotations

from markupsafe import Markup

from ..records.fields import is_number as _is_number
from .charts import bar_chart, frontier_chart, grouped_bar_chart, sensitivity_chart
from .filters import fmt, interval_method_of, interval_of, relative_href, with_ci
from .outputs_view import has_outputs, worst_output_chart


def primary_value(results: dict, variant: dict):
    return variant.get("metrics", {}).get(results.get("primary_metric", ""))


def demo_charts(results: dict) -> dict:
    variants = results.get("variants", [])
    names = [v.get("name", "?") for v in variants]
    metric = results.get("primary_metric", "metric")
    tune = results.get("tune") or {}
    errors = [interval_of(v, metric) if _is_number(primary_value(results, v)) else None for v in variants]
    level = (interval_method_of(results) or {}).get("level", 0.95)
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
        "metric": worst_output_chart(results)
        if has_outputs(results)
        else bar_chart(
            names,
            [primary_value(results, v) for v in variants],
            f"{metric} by precision (tfjs)" + (f", {level:.0%} intervals" if any(errors) else ""),
            zoom=True,
            errors=errors,
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


def delivery_charts(results: dict) -> dict:
    """The Delivery section's charts: bytes over the wire (raw, gzip, brotli) per variant, from the
    delivery record or else from the variant rows; time to the first prediction per profile."""
    section = results.get("delivery") or {}
    sizes = section.get("sizes") or {
        v.get("name", "?"): v["delivery"]
        for v in results.get("variants", [])
        if isinstance(v.get("delivery"), dict)
    }
    names = list(sizes)
    charts = {"bytes": Markup(""), "times": []}
    if names:
        codings = ["raw", "gzip", "br"]
        charts["bytes"] = grouped_bar_chart(
            names,
            ["raw", "gzip", "brotli"],
            [[(sizes[n].get("total") or {}).get(c, 0) / 1024 for c in codings] for n in names],
            "bytes over the wire (KiB): model.json + shards",
        )
    for profile, p in (section.get("profiles") or {}).items():
        measured = section.get("variants") or {}
        vs = [v for v in names if profile in measured.get(v, {})]
        stats = [measured[v][profile]["first_prediction_ms"] for v in vs]
        charts["times"].append(
            bar_chart(
                vs,
                [s["median"] / 1000 for s in stats],
                f"time to first prediction, {p.get('title', profile)} (s; median, min-max)",
                fmt="{:.2f}",
                errors=[(s["min"] / 1000, s["max"] / 1000) for s in stats],
            )
        )
    return charts


def diagnose_charts(results: dict) -> dict:
    """{variant: the depth chart} for the "Where the error enters" section."""
    from .depth_chart import depth_chart

    section = results.get("diagnose") or {}
    out = {}
    for variant, entry in (section.get("variants") or {}).items():
        exact = (entry.get("summary") or {}).get("exact_db", 120.0)
        title = f"{variant}: accumulated SQNR along the depth, one line per output"
        out[variant] = depth_chart(entry.get("curve") or [], exact, title)
    return out


def _n_test(results: dict):
    return (results.get("dataset") or {}).get("n_test")


def side_by_side(results: dict, sibling: dict) -> dict:
    """This demo's and its sibling's (the same weights in the other tfjs format) figures per
    precision: primary metric with interval, mean cosine to float32, weight bytes."""

    def cells(r: dict) -> dict:
        out = {}
        for v in r.get("variants") or []:
            metrics = v.get("metrics") or {}
            out[v.get("name")] = {
                "metric": with_ci(v, r.get("primary_metric")) if r.get("primary_metric") else "–",
                "cosine": fmt(metrics.get("cosine_mean")),
                "bytes": v.get("weight_bytes"),
            }
        return out

    names = [v.get("name") for v in results.get("variants") or []]
    return {
        "demo": sibling.get("demo"),
        "href": relative_href("..", sibling["_page"].rsplit("/", 1)[0], "index.html"),
        "metric": results.get("primary_metric"),
        "formats": [
            results.get("model_format") or "this",
            sibling.get("model_format") or sibling.get("demo"),
        ],
        "rows": [(n, cells(results).get(n), cells(sibling).get(n)) for n in names],
        "comparable": _n_test(results) == _n_test(sibling),
    }
