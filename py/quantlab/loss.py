"""When a difference from float32 is a loss: real (its interval excludes zero, McNemar agreeing
where given), in the bad direction, and at least the metric's margin (--min-effect over
DEFAULT_MIN_EFFECT); and the words a report cell uses for it."""

from __future__ import annotations

import math
import numbers

from .errors import QuantlabError
from .metrics import LOWER_IS_BETTER

# The smallest change that matters, in the metric's own units (0.0: the interval decides alone).
DEFAULT_MIN_EFFECT: dict[str, float] = {
    "accuracy": 0.005,  # half a percentage point: the smallest accuracy change a user acts on
    "top5_accuracy": 0.005,  # the same, for top-5
    "loo_1nn": 0.005,  # the same, for an embedding's leave-one-out 1-NN accuracy
    "top1_agreement": 0.01,  # one example in 100 changing its top class
    "top5_agreement": 0.01,  # one example in 100 losing float32's class from its top 5
    "cosine_mean": 0.001,  # float16's ~1e-4 is noise; past 1e-3 nearest neighbours start to move
    "score": 0.01,  # one point of the [0, 1] cross-kind score
    "mask_iou": 0.01,  # one point of IoU: about one edge pixel in 100 of the mask
    "rel_error": 0.01,  # 1% of the output's RMS
    "abs_error": 0.01,  # a probability or flag moving by 0.01
    "rel_l2": 0.01,  # 1% of the reference's L2 norm
    "sqnr_db": 1.0,  # 1 dB: about 26% more noise power
    "kl_divergence": 0.01,  # 0.01 nats between the two class distributions
    "mae": 0.0,  # label units differ per model (standardised, dollars): interval only, or --min-effect
    "rmse": 0.0,  # as mae
}

_ALPHA = 0.05  # 1 - stats.LEVEL (stats is not imported: it pulls in scipy)


def parse_min_effect(items: list[str]) -> dict[str, float]:
    """--min-effect METRIC=VALUE (repeatable) over DEFAULT_MIN_EFFECT: METRIC one of its keys or
    mae_<unit> (the MAE in other units), VALUE a finite number >= 0."""
    out = dict(DEFAULT_MIN_EFFECT)
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not (name in DEFAULT_MIN_EFFECT or (name.startswith("mae_") and len(name) > 4)):
            valid = ", ".join([*DEFAULT_MIN_EFFECT, "mae_<unit>"])
            raise QuantlabError(f"--min-effect {item!r}: expected METRIC=VALUE, METRIC one of: {valid}", 2)
        try:
            value = float(text)
        except ValueError:  # refused below
            value = math.nan
        if not (math.isfinite(value) and value >= 0):
            raise QuantlabError(f"--min-effect {item!r}: VALUE must be a finite number >= 0", exit_code=2)
        out[name] = value
    return out


def _num(x) -> float | None:
    return float(x) if isinstance(x, numbers.Real) and math.isfinite(x) else None


def _real(delta: dict) -> bool:
    """The interval excludes zero, and McNemar's exact p (where given) agrees: as stats does."""
    lo, hi = (_num(c) for c in (delta.get("ci") or [None, None]))
    p = _num(delta.get("p_value"))
    if delta.get("covers_zero") or lo is None or hi is None or (p is not None and p >= _ALPHA):
        return False
    return not (lo <= 0 <= hi)


def _change(metric: str, delta: dict) -> float | None:
    """The delta signed so that negative is worse (mae_<unit> is lower-is-better too)."""
    d = _num(delta.get("delta"))
    return None if d is None else (-d if metric in LOWER_IS_BETTER or metric.startswith("mae") else d)


def _margin(metric: str, min_effect: dict[str, float] | None) -> float:
    return {**DEFAULT_MIN_EFFECT, **(min_effect or {})}.get(metric, 0.0)


def is_loss(metric: str, delta: dict, min_effect: dict[str, float] | None = None) -> bool:
    """A paired delta (variant - float32) is a loss only when it is real (its interval excludes
    zero), in the bad direction, and at least the metric's margin (min_effect over
    DEFAULT_MIN_EFFECT; a metric without one: 0.0, the interval decides alone)."""
    change = _change(metric, delta)
    if change is None or not _real(delta):
        return False
    return change < 0 and -change >= _margin(metric, min_effect) - 1e-9  # float steps: as within_budget


def reading(metric: str, delta: dict, min_effect: dict[str, float] | None = None) -> str:
    """Words for a report cell: no measurable difference, worse or better than float32, or a
    real change smaller than the margin."""
    change = _change(metric, delta)
    if change is None or not _real(delta):
        n = delta.get("n")
        return (
            f"no measurable difference on {n:,} examples"
            if isinstance(n, int)
            else "no measurable difference"
        )
    margin = _margin(metric, min_effect)
    if abs(change) >= margin - 1e-9:
        return "worse than float32" if change < 0 else "better than float32"
    return f"within the margin (±{margin:g})"
