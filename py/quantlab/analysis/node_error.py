"""Per-node error figures from the sums a tfjs runtime returns (js/browser/compare.js): for each
node and example, sums over the output's elements of x² (reference), y² (variant), x·y and
(x - y)², the largest |x - y| and |x|, and counts (non-finite, float16 sub-normal and overflow).

  SQNR (dB)     10 log10(Σx² / Σ(x - y)²) over every example: how far the signal stands above the
                error (ONNX Runtime's qdq_loss_debug and AI Edge Quantizer report the same).
                None with `identical` when the error is exactly zero.
  relative L2   sqrt(Σ(x - y)² / Σx²)
  cosine        x·y / (|x| |y|) per example, averaged (1 where both are zero, 0 where one is)
  max abs       the largest |x - y|
Intervals: a seeded percentile bootstrap over examples (the same resamples for every node).

Range (the reference's own values): the largest |x|, whether it passes float16's largest finite
value (65504: Inf in 16-bit GPU textures and in `--quantize_float16` activations) and the share of
its non-zero values below float16's smallest normal (2^-14: precision lost, or flushed to zero)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..stats import LEVEL, RESAMPLES, SEED

F16_MAX = 65504.0
F16_MIN_NORMAL = 2.0**-14
SUBNORMAL_FLAG_SHARE = 0.01  # flagged when more than 1% of the non-zero values fall under 2^-14


def resample_counts(n: int, resamples: int = RESAMPLES, seed: int = SEED) -> np.ndarray:
    """[resamples, n]: how often each example is drawn in each bootstrap resample (seeded)."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n, size=(resamples, n))
    counts = np.zeros((resamples, n))
    np.add.at(counts, (np.repeat(np.arange(resamples), n), draws.reshape(-1)), 1)
    return counts


def _db(signal: np.ndarray, noise: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return 10 * np.log10(signal / noise)


def _ci(values: np.ndarray) -> list[float] | None:
    finite = values[np.isfinite(values)]
    if finite.size < len(values) * 0.95:  # mostly identical resamples: no interval to give
        return None
    alpha = (1 - LEVEL) / 2
    return [round(float(q), 4) for q in np.quantile(finite, [alpha, 1 - alpha])]


def _finite_or_none(v: float, digits: int = 6) -> float | None:
    return round(float(v), digits) if math.isfinite(v) else None


@dataclass
class ErrorFigures:
    sqnr_db: float | None
    sqnr_ci: list[float] | None
    identical: bool
    rel_l2: float | None
    cosine: float
    cosine_ci: list[float] | None
    max_abs: float
    nonfinite: int  # non-finite values in the compared (variant) output

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def error_figures(stats: dict[str, np.ndarray], counts: np.ndarray) -> ErrorFigures:
    """stats: {name: per-example vector} as compare.js names them; counts: resample_counts(n)."""
    sxx, syy, sxy, sdd = (np.asarray(stats[k], dtype=np.float64) for k in ("sxx", "syy", "sxy", "sdd"))
    signal, noise = sxx.sum(), sdd.sum()
    identical = noise == 0
    with np.errstate(divide="ignore", invalid="ignore"):
        cos = np.where(
            (sxx == 0) & (syy == 0), 1.0, np.where((sxx == 0) | (syy == 0), 0.0, sxy / np.sqrt(sxx * syy))
        )
    cos = np.clip(cos, -1.0, 1.0)
    n = len(sxx)
    sqnr = float(_db(signal, noise)) if not identical else math.inf
    return ErrorFigures(
        sqnr_db=None if identical else _finite_or_none(sqnr, 3),
        sqnr_ci=None if identical else _ci(_db(counts @ sxx, counts @ sdd)),
        identical=bool(identical),
        rel_l2=_finite_or_none(math.sqrt(noise / signal)) if signal > 0 else None,
        cosine=round(float(cos.mean()), 6),
        cosine_ci=_ci(counts @ cos / n),
        max_abs=float(np.max(stats["max_abs_diff"])),
        nonfinite=int(np.sum(stats["nonfinite_y"])),
    )


def range_figures(stats: dict[str, np.ndarray]) -> dict:
    """The reference's range on these inputs and what float16 would do to it."""
    max_abs = float(np.max(stats["max_abs_x"]))
    nonzero = int(np.sum(stats["nonzero_x"]))
    subnormal = int(np.sum(stats["subnormal_x"]))
    over = int(np.sum(stats["over_f16_x"]))
    nonfinite = int(np.sum(stats["nonfinite_x"]))
    share = subnormal / nonzero if nonzero else 0.0
    flags = []
    if over or nonfinite:
        flags.append("f16-overflow" if over else "nonfinite")
    if share > SUBNORMAL_FLAG_SHARE:
        flags.append("f16-subnormal")
    return {
        "max_abs": max_abs,
        "over_f16": over,
        "nonfinite": nonfinite,
        "subnormal_share": round(share, 6),
        "flags": flags,
    }
