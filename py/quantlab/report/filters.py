"""The template environment of every page: number formats, intervals and the words for a delta
(filters and globals the templates call), and links that stay inside the report."""

from __future__ import annotations

from urllib.parse import quote

from jinja2 import Environment, PackageLoader, Undefined, select_autoescape

from ..judge import headline_words
from ..metrics import within_budget
from ..records.fields import is_number as _is_number
from ..records.fields import is_pair as _is_pair
from ..stats import format_interval
from .charts import histogram_chart
from .outputs_view import delta_is_loss, delta_reading, outputs_view

SEED_LABELS = {"float32": "original", "uint16": "16-bit", "uint8": "8-bit"}


def relative_href(*segments: str) -> str:
    """A link to segments/.. relative to the current page, safe whatever the names hold: each
    segment percent-encoded (no "/", "?", "#" or ":" survives) and a leading "./", so no part can
    be read as a scheme (`javascript:`), a host (`//`) or the site root."""
    return "./" + "/".join(quote(str(s), safe="") for s in segments)


def _missing(value) -> bool:
    return value is None or isinstance(value, Undefined)


def fmt(value, digits: int = 4) -> str:
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


def interval_of(variant: dict, key: str) -> list | None:
    ci = (variant.get("intervals") or {}).get(key) if isinstance(variant, dict) else None
    return list(ci) if _is_pair(ci) else None


def with_ci(variant: dict, key: str, digits: int = 4) -> str:
    """A metric with its interval ("0.9226 ±0.0052"), or as fmt when it has none."""
    value = (variant.get("metrics") or {}).get(key)
    ci = interval_of(variant, key)
    if not _is_number(value) or ci is None:
        return fmt(value, digits)
    return format_interval(value, ci[0], ci[1])


def _delta_reading(d: dict, metric: str, min_effect: dict | None = None) -> str:
    """'no measurable difference on N examples' when the interval covers zero, else judge's
    reading against the practical margin (results["min_effect"], or judge's defaults)."""
    return delta_reading(d, metric, min_effect)


def interval_method_of(results: dict) -> dict | None:
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


def template_env() -> Environment:
    env = Environment(
        loader=PackageLoader("quantlab.report", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(fmt=fmt, int=_int, kb=_kb, headline_words=headline_words)
    env.tests["within_budget"] = within_budget
    env.globals["delta"] = _delta
    env.globals.update(
        with_ci=with_ci, delta_reading=_delta_reading, p_value=_p, interval_method=interval_method_of
    )
    env.globals.update(outputs_view=outputs_view, delta_loss=delta_is_loss)
    env.globals["SEED_LABELS"] = SEED_LABELS
    env.globals["histogram_chart"] = histogram_chart
    return env
