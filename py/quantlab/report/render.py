"""Render reports/index.html and one page per demo from results.json files, nothing else."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, Undefined, select_autoescape
from markupsafe import Markup

from ..errors import QuantlabError
from ..infra.fsutil import read_json, write_text_atomic
from ..infra.progress import log
from ..metrics import within_budget
from ..records.fields import is_number as _is_number
from ..records.fields import is_pair as _is_pair
from ..records.run import RunRecord
from ..results import RESULTS_FILE, check_schema
from ..stats import format_interval
from .charts import (
    bar_chart,
    discretisation_figure,
    frontier_chart,
    grouped_bar_chart,
    histogram_chart,
    sensitivity_chart,
)
from .outputs_view import delta_is_loss, delta_reading, has_outputs, outputs_view, worst_output_chart

SEED_LABELS = {"float32": "original", "uint16": "16-bit", "uint8": "8-bit"}


def load_all_results(out_dir: Path) -> list[dict]:
    """Every <out>/<demo>/results.json; unreadable ones are skipped with a warning, incomplete
    ones are kept with a list of what is missing."""
    found = []
    for path in sorted(Path(out_dir).glob(f"*/{RESULTS_FILE}")):
        try:
            results = read_json(path)  # restores NaN/Inf written as null + "<key>_nonfinite"
        except (OSError, ValueError, RecursionError) as e:
            log.warning("%s: skipped, not readable JSON (%s)", path, e)
            continue
        if not isinstance(results, dict):
            log.warning("%s: skipped, not a results object", path)
            continue
        try:
            check_schema(results, path)
        except QuantlabError as e:
            log.warning("%s: skipped, %s", path, str(e).split(": ", 1)[-1])
            continue
        record, missing = RunRecord.from_json(results, path.parent.name)  # wrong types dropped, named
        results = record.to_json()
        results["_missing"] = missing
        results["_page"] = f"{path.parent.name}/index.html"  # where the page is written
        results["_href"] = relative_href(path.parent.name, "index.html")  # how index.html links it
        if missing:
            log.warning("%s: fields missing (%s); rendering what is there", path, ", ".join(missing))
        found.append(results)
    return found


def relative_href(*segments: str) -> str:
    """A link to segments/.. relative to the current page, safe whatever the names hold: each
    segment percent-encoded (no "/", "?", "#" or ":" survives) and a leading "./", so no part can
    be read as a scheme (`javascript:`), a host (`//`) or the site root."""
    return "./" + "/".join(quote(str(s), safe="") for s in segments)


def _missing(value) -> bool:
    return value is None or isinstance(value, Undefined)


def _fmt(value, digits: int = 4) -> str:
    if _missing(value):
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _int(value) -> str:
    return f"{value:,}" if _is_number(value) else "–"


def _kb(value) -> str:
    return f"{value / 1024:,.1f} KiB" if _is_number(value) else "–"


def _delta(value, reference) -> str:
    if not (_is_number(value) and _is_number(reference)):
        return "–"
    return f"{value - reference:+.4f}"


def _interval_of(variant: dict, key: str) -> list | None:
    ci = (variant.get("intervals") or {}).get(key) if isinstance(variant, dict) else None
    return list(ci) if _is_pair(ci) else None


def _with_ci(variant: dict, key: str, digits: int = 4) -> str:
    """A metric with its interval ("0.9226 ±0.0052"), or as _fmt when it has none."""
    value = (variant.get("metrics") or {}).get(key)
    ci = _interval_of(variant, key)
    if not _is_number(value) or ci is None:
        return _fmt(value, digits)
    return format_interval(value, ci[0], ci[1])


def _delta_reading(d: dict, metric: str, min_effect: dict | None = None) -> str:
    """'no measurable difference on N examples' when the interval covers zero, else judge's
    reading against the practical margin (results["min_effect"], or judge's defaults)."""
    return delta_reading(d, metric, min_effect)


def _interval_method(results: dict) -> dict | None:
    """The first variant's interval_method, when it says at least the level."""
    for v in results.get("variants", []):
        im = v.get("interval_method") if isinstance(v, dict) else None
        if isinstance(im, dict) and _is_number(im.get("level")):
            return im
    return None


def _p(value) -> str:
    if not _is_number(value):
        return "–"
    return f"{value:.2g}" if value < 0.001 else f"{value:.3f}"


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
    env.globals.update(
        with_ci=_with_ci, delta_reading=_delta_reading, p_value=_p, interval_method=_interval_method
    )
    env.globals.update(outputs_view=outputs_view, delta_loss=delta_is_loss)
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
    errors = [_interval_of(v, metric) if _is_number(_primary(results, v)) else None for v in variants]
    level = (_interval_method(results) or {}).get("level", 0.95)
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
            [_primary(results, v) for v in variants],
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
                "metric": _with_ci(v, r.get("primary_metric")) if r.get("primary_metric") else "–",
                "cosine": _fmt(metrics.get("cosine_mean")),
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


def render_reports(out_dir: Path) -> Path:
    out_dir = Path(out_dir)
    all_results = load_all_results(out_dir)
    if not all_results:
        raise QuantlabError(
            f"{out_dir}: no */results.json to render; run `quantlab run` (or `quantlab run --quick`) first"
        )
    env = _env()
    figure = discretisation_figure()
    demo_page = env.get_template("demo.html.j2")
    index_page = env.get_template("index.html.j2")
    by_demo = {r.get("demo"): r for r in all_results}
    for results in all_results:
        sibling = by_demo.get(results.get("sibling"))
        try:
            results["_sibling"] = side_by_side(results, sibling) if sibling else None
        except Exception:  # a hand-edited pair: the page without the side-by-side section
            results["_sibling"] = None
            results["_missing"].append("sibling (side by side unreadable)")
    for results in all_results:
        # a section the index cannot show is left out of both pages, and named on both
        _renderable(results, lambda r: index_page.render(results=[r], primary=_primary))
        html = _renderable(
            results,
            lambda r: demo_page.render(
                r=r,
                charts=demo_charts(r),
                delivery=delivery_charts(r),
                primary=_primary,
                discretisation=figure,
            ),
        )
        write_text_atomic(out_dir / results["_page"], html)
    index = index_page.render(results=all_results, primary=_primary)
    write_text_atomic(out_dir / "index.html", index)
    log.info("report written to %s", out_dir / "index.html")
    return out_dir / "index.html"


def _renderable(results: dict, render) -> str:
    """render(results); if that fails on a hand-edited or old file, the page without each
    optional section it cannot show, those sections named in results["_missing"] (in place)."""
    try:
        return render(results)
    except Exception:
        pass
    sections = {k: results.pop(k) for k in RunRecord.optional_sections() if k in results}
    try:
        render(results)
    except Exception:
        results["variants"] = []
        results["_missing"].append("variants (unreadable)")
        try:
            render(results)
        except Exception as e:
            raise QuantlabError(
                f"{results['_page'].rsplit('/', 1)[0]}/{RESULTS_FILE}: cannot be rendered "
                f"({type(e).__name__}: {e})"
            ) from None
    for key, value in sections.items():
        results[key] = value
        try:
            render(results)
        except Exception:
            del results[key]
            results["_missing"].append(f"{key} (unreadable)")
            log.warning(
                "%s: section %r left out, its contents do not have the expected shape", results["_page"], key
            )
    return render(results)  # again, so the page names what was left out
