"""The model page's per-output view: each variant's headline (its worst counted output), one row per
(variant, output) with its reading against float32, and the headline chart of worst-output scores.

Rows written before per-output results (no "outputs" in any variant) get no view at all, so their
pages render as before. Everything here tolerates hand-edited shapes: a field of the wrong type is
shown as "–" rather than failing the page."""

from __future__ import annotations

import math

from markupsafe import Markup

from ..judge import METRIC_WORDS
from ..loss import is_loss, reading
from ..stats import format_interval, no_difference_text
from .charts import bar_chart


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _pair(value) -> list | None:
    ok = isinstance(value, list | tuple) and len(value) == 2 and all(_number(x) for x in value)
    return list(value) if ok else None


def _fmt(value, digits: int) -> str:
    if value == math.inf and not isinstance(value, bool):
        return "∞"
    return f"{value:.{digits}f}" if _number(value) else "–"


def _sci(value) -> str:
    return f"{value:.2e}" if _number(value) else "–"


def metric_label(metric) -> str:
    return METRIC_WORDS.get(metric, str(metric or "metric"))


def outputs_of(variant) -> dict[str, dict]:
    """The variant's per-output records that are objects (an old row has none)."""
    outputs = variant.get("outputs") if isinstance(variant, dict) else None
    if not isinstance(outputs, dict):
        return {}
    return {str(name): o for name, o in outputs.items() if isinstance(o, dict)}


def has_outputs(results: dict) -> bool:
    return any(outputs_of(v) for v in results.get("variants") or [])


def _score(o: dict) -> float:
    return o["score"] if _number(o.get("score")) else -math.inf


def worst_of(variant: dict) -> tuple[str, dict] | None:
    """The variant's headline output: row["worst_output"] when it names one of its outputs, else
    the counted output with the lowest score (all of them when none says it is counted)."""
    outputs = outputs_of(variant)
    if not outputs:
        return None
    named = variant.get("worst_output")
    if isinstance(named, str) and named in outputs:
        return named, outputs[named]
    counted = {n: o for n, o in outputs.items() if o.get("counted") is not False} or outputs
    name = min(counted, key=lambda n: _score(counted[n]))
    return name, counted[name]


def figure(o: dict) -> str:
    """'cosine 0.3120 [0.2900, 0.3300]': the output's headline metric with its interval."""
    label = metric_label(o.get("metric"))
    value = o.get("value")
    if not _number(value):
        return f"{label} not finite (NaN/Inf)" if value is None and "value" in o else f"{label} –"
    ci = _pair(o.get("interval"))
    return f"{label} {format_interval(value, ci[0], ci[1]) if ci else f'{value:.4f}'}"


def nonfinite_words(n) -> str:
    if not _number(n) or n <= 0:
        return "none"
    return f"{int(n):,} NaN/Inf value{'s' if n != 1 else ''}"


def clean_delta(d) -> dict | None:
    """A delta object with a number delta, its ci a [lo, hi] pair or None; None otherwise."""
    if not (isinstance(d, dict) and _number(d.get("delta"))):
        return None
    p = d.get("p_value")
    return {**d, "ci": _pair(d.get("ci")), "p_value": p if _number(p) else None}


def delta_reading(d: dict, metric: str, min_effect: dict | None = None) -> str:
    """'no measurable difference on N examples' when the interval covers zero; past the practical
    margin (min_effect, or judge's defaults) 'worse than float32' or 'better than float32'; a real
    change smaller than the margin 'within the margin (±M)'."""
    d = clean_delta(d)
    if d is None:
        return "no delta"
    if not d["ci"]:
        return no_difference_text(d) or "no interval"
    return reading(metric, d, min_effect if isinstance(min_effect, dict) else None)


def delta_is_loss(d: dict, metric: str, min_effect: dict | None = None) -> bool:
    d = clean_delta(d)
    if d is None or not d["ci"]:
        return False
    return bool(is_loss(metric, d, min_effect if isinstance(min_effect, dict) else None))


def _delta_text(d: dict | None) -> str:
    """'-0.6880 [-0.7100, -0.6700]'; more decimals (up to 8) when the interval is narrower than
    1e-3, so float16's '-0.00010 [-0.00015, -0.00005]' does not read '-0.0001 [-0.0001, -0.0001]'."""
    if d is None:
        return "–"
    ci = d["ci"]
    width = ci[1] - ci[0] if ci else 0.0
    digits = min(8, max(4, 1 - math.floor(math.log10(width * (1 + 1e-9))))) if width > 0 else 4
    text = f"{d['delta']:+.{digits}f}"
    return text + (f" [{ci[0]:+.{digits}f}, {ci[1]:+.{digits}f}]" if ci else "")


def headline(variant: dict) -> dict | None:
    """The variant's headline for the results table: its worst output, kind and figure."""
    worst = worst_of(variant)
    if worst is None:
        return None
    name, o = worst
    return {
        "output": name,
        "kind": str(o.get("kind") or "?"),
        "figure": figure(o),
        "loss": o.get("loss") is True,
        "nonfinite": nonfinite_words(o.get("nonfinite")),
    }


def output_rows(results: dict) -> list[dict]:
    """One row per (variant, output), in the variants' and the model's order."""
    min_effect = results.get("min_effect") if isinstance(results.get("min_effect"), dict) else None
    rows = []
    for v in results.get("variants") or []:
        worst = worst_of(v)
        for name, o in outputs_of(v).items():
            d = clean_delta(o.get("delta"))
            metric = str(o.get("metric") or "")
            if d is None:
                text = "reference" if v.get("name") == "float32" else "no delta"
            else:
                text = delta_reading(d, metric, min_effect)
            rows.append(
                {
                    "variant": v.get("name"),
                    "output": name,
                    "kind": str(o.get("kind") or "?"),
                    "figure": figure(o),
                    "delta": _delta_text(d),
                    "reading": text,
                    "sqnr_db": _fmt(o.get("sqnr_db"), 1),
                    "max_abs": _sci(o.get("max_abs")),
                    "score": _fmt(o.get("score"), 4),
                    "counted": o.get("counted") is not False,
                    "headline": worst is not None and worst[0] == name,
                    "loss": o.get("loss") is True,
                    "nonfinite": o.get("nonfinite") if _number(o.get("nonfinite")) else 0,
                    "nonfinite_words": nonfinite_words(o.get("nonfinite")),
                }
            )
    return rows


def margins(results: dict) -> list[tuple[str, str]]:
    """results["min_effect"] as (metric label, '±M') pairs, for the page's note."""
    me = results.get("min_effect")
    if not isinstance(me, dict):
        return []
    return [(metric_label(k), f"±{m:g}") for k, m in me.items() if _number(m)]


def outputs_view(results: dict) -> dict | None:
    """What the model page shows per output; None for results without per-output records."""
    if not has_outputs(results):
        return None
    return {
        "headlines": {v.get("name"): headline(v) for v in results.get("variants") or []},
        "rows": output_rows(results),
        "margins": margins(results),
        "counted": [str(n) for n in results.get("counted_outputs") or [] if isinstance(n, str)],
    }


def worst_output_chart(results: dict) -> Markup:
    """Each variant's worst-output score (1 = identical to float32), labelled with that output."""
    names, scores, outputs = [], [], []
    for v in results.get("variants") or []:
        worst = worst_of(v)
        names.append(str(v.get("name", "?")))
        outputs.append(worst[0] if worst else "")
        scores.append(worst[1]["score"] if worst and _number(worst[1].get("score")) else None)
    return bar_chart(
        names,
        scores,
        "worst output's score by precision (1 = same as float32)",
        fmt="{:.4f}",
        width=max(420, 60 + 130 * len(names)),
        sublabels=outputs,
    )
