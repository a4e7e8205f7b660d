"""How sure a metric is: confidence intervals over examples and paired differences from float32.

numpy + scipy only (no TensorFlow), on per-example vectors:
  - a proportion (a bool vector: accuracy hits, agreement, leave-one-out 1-NN hits) gets a
    Wilson interval (scipy.stats.binomtest(...).proportion_ci(method="wilson"));
  - anything else (absolute errors, squared errors, cosines) gets a seeded bootstrap over
    examples (scipy.stats.bootstrap, BCa); the statistic is the mean, except where `STATISTIC`
    (or the caller) says otherwise: rmse is sqrt(mean of the squared errors it is given).
Paired differences resample the same examples for both sides (scipy's paired bootstrap); for
proportions McNemar's exact test (a binomial test on the discordant pairs) gives the p-value and
the examples that flip each way."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import numpy as np
from scipy import stats as sps

LEVEL = 0.95
RESAMPLES = 2000
SEED = 0
BOOTSTRAP_METHOD = "BCa"
# BCa's acceleration needs a jackknife: n statistics of n-1 examples, O(n^2) work (13 s for the
# 10,000 MNIST images). Past this size the percentile interval of the same resamples is used; with
# thousands of examples the two agree to well under the interval's own width.
BCA_MAX_N = 2000


def _mean(x: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(x, axis=axis)


def _root_mean(x: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.sqrt(np.mean(x, axis=axis))


STATISTIC: dict[str, Callable[..., np.ndarray]] = {"rmse": _root_mean}
"""Metrics whose per-example vector is not averaged as is (rmse: given squared errors)."""


def is_proportion(values: np.ndarray) -> bool:
    """A bool vector (hits), or integers that are all 0 or 1. Floats never are: a cosine of
    exactly 1.0 on every example is not a proportion."""
    v = np.asarray(values)
    if v.dtype == bool:
        return True
    return bool(np.issubdtype(v.dtype, np.integer) and v.size and np.all((v == 0) | (v == 1)))


def wilson(successes: int, n: int, level: float = LEVEL) -> tuple[float, float]:
    ci = sps.binomtest(int(successes), int(n)).proportion_ci(confidence_level=level, method="wilson")
    return float(ci.low), float(ci.high)


def _bootstrap(
    data: tuple[np.ndarray, ...], statistic, level: float, resamples: int, seed: int, paired: bool
):
    """(lo, hi) of a seeded BCa bootstrap; the percentile interval of the same resamples where
    BCa is undefined (a degenerate distribution, e.g. every resample equal)."""
    method = BOOTSTRAP_METHOD if len(data[0]) <= BCA_MAX_N else "percentile"
    kwargs = dict(
        n_resamples=resamples, paired=paired, vectorized=True, confidence_level=level, method=method
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # DegenerateDataWarning: handled below
        try:
            res = sps.bootstrap(data, statistic, rng=np.random.default_rng(seed), **kwargs)
        except TypeError:  # scipy < 1.15 names it random_state
            res = sps.bootstrap(data, statistic, random_state=np.random.default_rng(seed), **kwargs)
    lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        dist = np.asarray(res.bootstrap_distribution)
        alpha = (1 - level) / 2
        lo, hi = (float(q) for q in np.quantile(dist, [alpha, 1 - alpha]))
    return lo, hi


def statistic_for(name: str, statistic: dict | None = None) -> Callable[..., np.ndarray]:
    return (statistic or {}).get(name) or STATISTIC.get(name) or _mean


def interval(
    name: str,
    values: np.ndarray,
    level: float = LEVEL,
    resamples: int = RESAMPLES,
    seed: int = SEED,
    statistic: dict | None = None,
) -> tuple[list[float] | None, str]:
    """([lo, hi], method) for one metric's per-example vector; None when there is nothing to
    say (no examples, or NaN/Inf among them)."""
    v = np.asarray(values)
    if is_proportion(v):
        if v.size == 0:
            return None, "wilson"
        return list(wilson(int(np.count_nonzero(v)), v.size, level)), "wilson"
    x = v.astype(np.float64).reshape(-1)
    if x.size == 0 or not np.all(np.isfinite(x)):
        return None, "bootstrap"
    stat = statistic_for(name, statistic)
    if x.size == 1 or np.ptp(x) == 0:  # every resample gives the same figure
        value = float(stat(x))
        return [value, value], "bootstrap"
    return list(_bootstrap((x,), stat, level, resamples, seed, paired=False)), "bootstrap"


def intervals(
    per_example: dict[str, np.ndarray],
    level: float = LEVEL,
    resamples: int = RESAMPLES,
    seed: int = SEED,
    statistic: dict | None = None,
) -> dict:
    """{"intervals": {metric: [lo, hi]}, "interval_method": {level, n, resamples, seed,
    methods: {metric: "wilson" | "bootstrap"}}}."""
    out, methods = {}, {}
    for name, values in per_example.items():
        ci, method = interval(name, values, level, resamples, seed, statistic)
        methods[name] = method
        if ci is not None:
            out[name] = ci
    n = max((int(np.asarray(v).shape[0]) for v in per_example.values()), default=0)
    return {
        "intervals": out,
        "interval_method": {
            "level": level,
            "n": n,
            "proportions": "wilson",
            "others": f"bootstrap over examples ({BOOTSTRAP_METHOD} up to {BCA_MAX_N}, percentile above)",
            "resamples": resamples,
            "seed": seed,
            "methods": methods,
        },
    }


def mcnemar(variant_hits: np.ndarray, reference_hits: np.ndarray) -> dict:
    """McNemar's exact test: a two-sided binomial test (p = 1/2) on the discordant pairs.
    gained: right in the variant, wrong in the reference; lost: the other way round."""
    v = np.asarray(variant_hits, dtype=bool)
    r = np.asarray(reference_hits, dtype=bool)
    gained, lost = int(np.count_nonzero(v & ~r)), int(np.count_nonzero(r & ~v))
    p = 1.0 if gained + lost == 0 else float(sps.binomtest(gained, gained + lost, 0.5).pvalue)
    return {"p_value": min(1.0, p), "flips": {"gained": gained, "lost": lost}}


def paired_delta(
    name: str,
    variant: np.ndarray,
    reference: np.ndarray,
    level: float = LEVEL,
    resamples: int = RESAMPLES,
    seed: int = SEED,
    statistic: dict | None = None,
) -> dict | None:
    """statistic(variant) - statistic(reference) on the same examples, with a paired-bootstrap
    interval; for proportions also McNemar's exact p-value and the flips. None when the vectors
    do not pair up (different lengths) or hold NaN/Inf."""
    v, r = np.asarray(variant), np.asarray(reference)
    if v.shape[0] != r.shape[0] or v.shape[0] == 0:
        return None
    proportion = is_proportion(v) and is_proportion(r)
    vf, rf = v.astype(np.float64).reshape(len(v), -1), r.astype(np.float64).reshape(len(r), -1)
    if vf.shape != rf.shape or not (np.all(np.isfinite(vf)) and np.all(np.isfinite(rf))):
        return None
    vf, rf = vf.reshape(-1), rf.reshape(-1)
    stat = statistic_for(name, statistic)

    def diff(a, b, axis=-1):
        return stat(a, axis=axis) - stat(b, axis=axis)

    delta = float(diff(vf, rf))
    if np.array_equal(vf, rf) or (stat is _mean and np.ptp(vf - rf) == 0):
        ci = [delta, delta]  # every paired resample gives the same difference
    else:
        ci = list(_bootstrap((vf, rf), diff, level, resamples, seed, paired=True))
    out = {"delta": delta, "ci": ci, "n": int(len(vf)), "covers_zero": bool(ci[0] <= 0 <= ci[1])}
    if proportion:
        out |= {"test": "mcnemar-exact", **mcnemar(v, r)}
        # With a handful of discordant pairs the bootstrap interval is too narrow (3 flips one way
        # in 1000 give [0.001, 0.008] where McNemar's p is 0.25): the exact test has the last word.
        if out.get("p_value") is not None and out["p_value"] >= 1 - level:
            out["covers_zero"] = True
    else:
        out |= {"test": "paired-bootstrap", "p_value": None, "flips": None}
    return out


def paired_deltas(
    variant: dict[str, np.ndarray],
    reference: dict[str, np.ndarray],
    level: float = LEVEL,
    resamples: int = RESAMPLES,
    seed: int = SEED,
    statistic: dict | None = None,
) -> dict:
    """{metric: {delta, ci: [lo, hi], n, covers_zero, p_value, test, flips: {gained, lost} | None}}
    for every metric both sides have."""
    out = {}
    for name, values in variant.items():
        if name in reference:
            d = paired_delta(name, values, reference[name], level, resamples, seed, statistic)
            if d is not None:
                out[name] = d
    return out


def uncertainty(
    per_example: dict[str, np.ndarray],
    reference: dict[str, np.ndarray] | None = None,
    level: float = LEVEL,
    resamples: int = RESAMPLES,
    seed: int = SEED,
    statistic: dict | None = None,
) -> dict:
    """What a variant row gains: intervals, interval_method and, given the float32 vectors of the
    same examples, deltas. Callers do `row |= uncertainty(mine, float32s if not float32)`."""
    out = intervals(per_example, level, resamples, seed, statistic)
    if reference is not None:
        out["deltas"] = paired_deltas(per_example, reference, level, resamples, seed, statistic)
    return out


def _digits(width: float) -> int:
    """Decimals that show a half-width of `width` with two significant digits (2 to 8)."""
    if not (width > 0 and math.isfinite(width)):
        return 4
    return max(2, min(8, 1 - math.floor(math.log10(width))))


def format_interval(value: float | None, lo: float | None, hi: float | None) -> str:
    """'0.9226 ±0.0052' when the interval is symmetric to its last shown digit, else
    '0.9226 [0.9173, 0.9277]'; digits follow the interval's width (at least 4 decimals)."""
    if value is None or lo is None or hi is None:
        return "–" if value is None else f"{value:.4f}"
    digits = max(4, _digits((hi - lo) / 2))
    below, above = value - lo, hi - value
    if f"{below:.{digits}f}" == f"{above:.{digits}f}":
        return f"{value:.{digits}f} ±{above:.{digits}f}"
    return f"{value:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def no_difference_text(delta: dict) -> str | None:
    """The words for a delta whose interval covers zero; None when the difference is measurable."""
    ci = delta.get("ci") or [None, None]
    p = delta.get("p_value")
    exact_says_none = isinstance(p, int | float) and p >= 1 - LEVEL  # McNemar has the last word
    if not exact_says_none and (ci[0] is None or ci[1] is None or not (ci[0] <= 0 <= ci[1])):
        return None
    n = delta.get("n")
    return f"no measurable difference on {n:,} examples" if isinstance(n, int) else "no measurable difference"
