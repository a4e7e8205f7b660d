"""Judging one model output against its float32 reference by a metric that means something for
its kind: class scores by top-1 agreement, feature vectors by cosine, a few values (a sigmoid, a
box, a count) by relative error, maps (masks, heatmaps) by mask IoU or relative L2. Each judgement
has a `score` in [0, 1] (1 = float32's output) comparable across kinds: a variant's headline is
its worst output. A loss is a paired delta whose interval excludes zero, in the bad direction, by
at least the metric's practical margin. numpy only (the fast tier)."""

from __future__ import annotations

import math
from functools import cached_property

import numpy as np

from .errors import QuantlabError
from .metrics import LOWER_IS_BETTER
from .tasks import is_probabilities, topk_hits

KINDS = ("classes", "embedding", "small", "map")
SMALL_MAX = 8  # values per example at or under which an output is "small"
MAP_SIDE = 8  # a map has at least two axes longer than this
MASK_THRESHOLD = 0.5

# How a person reads each figure's name: in the terminal (analyze's overview) and on the page.
METRIC_WORDS = {
    "top1_agreement": "top-1 agreement",
    "cosine_mean": "cosine",
    "rel_error": "relative error",
    "abs_error": "absolute error",
    "mask_iou": "mask IoU",
    "rel_l2": "relative L2",
}


def headline_words(metric: str | None) -> str:
    """A headline metric as a sentence names it: a task metric by its name, none (or the worst
    output's score) as such."""
    return "the worst output's score" if metric in (None, "worst_output_score") else metric


def _rows(x: np.ndarray) -> np.ndarray:
    """[N, values per example]; a 0-d array is one example of one value."""
    x = np.asarray(x)
    return x.reshape(1, 1) if x.ndim == 0 else x.reshape(x.shape[0], -1)


def output_kind(ref: np.ndarray) -> str:
    """The kind of an output, from the float32 reference ([N, ...], N examples). Axes of length
    1 are dropped first: [N,1,1,228] is a vector of 228, [N,1,17,3] a 17x3.
    - "classes": one axis of C >= 2 whose rows are probabilities (non-negative, summing to 1),
      whatever C: a 2- or 7-class softmax is classes, not small (its argmax is what it means).
    - "small": else <= SMALL_MAX values per example (a sigmoid, a box, counts [N], 2 logits).
    - "map": else at least two axes longer than MAP_SIDE: [N,H,W,C] masks, heatmaps, images.
      Anchor tables such as blazeface's [N,384,16] too: per-anchor regressions, whose pooled
      relative L2 weighs the error by the values' energy where a cosine ignores a scale error.
    - "embedding": the rest (feature vectors, logits, [N,17,3] keypoints, [N,100,4] or
      [N,12804,8] box lists: one long axis), judged by the cosine of each example's vector."""
    r = _rows(ref)
    dims = [d for d in np.shape(ref)[1:] if d > 1]
    if len(dims) == 1 and is_probabilities(r):
        return "classes"
    if r.shape[1] <= SMALL_MAX:
        return "small"
    return "map" if sum(d > MAP_SIDE for d in dims) >= 2 else "embedding"


def _dot(x: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Per-row sum of x * z in float64, without float64 copies of the inputs."""
    with np.errstate(all="ignore"):
        return np.einsum("ij,ij->i", x, z, dtype=np.float64)


def _extremes(x: np.ndarray) -> tuple[float, float]:
    """(min, max): NaN when x holds a NaN (np.min propagates it); (0, 0) when empty."""
    return (float(np.min(x)), float(np.max(x))) if x.size else (0.0, 0.0)


def _bad_rows(x: np.ndarray, extremes: tuple[float, float]) -> np.ndarray:
    """Per example: holds a NaN/Inf (finite extremes, the fast path: none does)."""
    finite = all(math.isfinite(e) for e in extremes)
    return np.zeros(len(x), dtype=bool) if finite else ~np.all(np.isfinite(x), axis=1)


class _Pair:
    """y and ref as [N, D] and what the figures need, each computed once when first asked for
    (per_example() on a mask never needs the float64 difference: 67 MB for a [64,256,256,2])."""

    def __init__(self, y: np.ndarray, ref: np.ndarray):
        self.y, self.ref = y, ref

    @cached_property
    def d(self) -> np.ndarray:  # y - ref in float64, without float64 copies of the inputs
        with np.errstate(all="ignore"):
            return np.subtract(self.y, self.ref, dtype=np.float64)

    @cached_property
    def dd(self) -> np.ndarray:  # per example: sum of d^2
        return _dot(self.d, self.d)

    @cached_property
    def rr(self) -> np.ndarray:  # per example: sum of ref^2
        return _dot(self.ref, self.ref)

    @cached_property
    def ref_extremes(self) -> tuple[float, float]:
        return _extremes(self.ref)

    @cached_property
    def bad_y(self) -> np.ndarray:
        return _bad_rows(self.y, _extremes(self.y))

    @cached_property
    def bad_ref(self) -> np.ndarray:
        return _bad_rows(self.ref, self.ref_extremes)


def _pair(y: np.ndarray, ref: np.ndarray, kind: str) -> _Pair:
    if kind not in KINDS:
        raise QuantlabError(f"unknown output kind {kind!r}: valid: {', '.join(KINDS)}")
    if np.shape(y) != np.shape(ref):
        raise QuantlabError(f"output shape {list(np.shape(y))} differs from float32's {list(np.shape(ref))}")
    return _Pair(_rows(y), _rows(ref))


def _cosine(p: _Pair) -> np.ndarray:
    """tasks.row_cosine's values (two all-zero rows agree: 1.0) from einsums, 5x faster."""
    ar, aa = _dot(p.y, p.ref), _dot(p.y, p.y)
    with np.errstate(all="ignore"):
        norms = np.sqrt(aa) * np.sqrt(p.rr)
        cos = ar / np.where(norms == 0, 1.0, norms)
    return np.where((aa == 0) & (p.rr == 0), 1.0, cos)


def _headline(p: _Pair, kind: str) -> tuple[str, np.ndarray]:
    """(metric, its per-example values) for a kind."""
    if kind == "classes":
        return "top1_agreement", np.argmax(p.y, axis=1) == np.argmax(p.ref, axis=1)
    if kind == "embedding":
        return "cosine_mean", _cosine(p)
    if kind == "small":
        lo, hi = p.ref_extremes
        if p.ref.size and lo >= 0 and hi <= 1:
            # Probabilities and flags (a sigmoid): the error in probability units. Relative to
            # the RMS it would call a flag that moves from 1e-8 to 2e-8 on a face-less input
            # broken (facemesh's faceflag on synthetic inputs), while 0 -> 1 reads 1.0 either way.
            return "abs_error", np.mean(np.abs(p.d), axis=1)
        # One scale for all examples, the RMS of ref, so that an example near zero does not blow
        # up; an all-zero ref has none: the error is then in the output's own units (scale 1).
        # (A NaN RMS, from a non-finite ref, stays NaN: no example gets a made-up scale.)
        rms = math.sqrt(float(np.sum(p.rr)) / p.ref.size) if p.ref.size else 0.0
        return "rel_error", np.mean(np.abs(p.d), axis=1) / (1.0 if rms == 0 else rms)
    lo, hi = p.ref_extremes
    if p.ref.size and lo >= 0 and hi <= 1:
        # A probability map (a mask, a heatmap; NaN fails the test): its mean absolute error in
        # probability units, about the share of pixels that change for a hard mask. The IoU of
        # the > 0.5 region is a figure beside it, not the headline: on inputs where values sit
        # near 0.5 (a heatmap on noise) it swings with changes of 1e-4, and on a mask that stays
        # under 0.5 it reads 1.0 while the soft mask (what a background blur uses) moves by 0.2.
        return "abs_error", np.mean(np.abs(p.d), axis=1)
    with np.errstate(all="ignore"):  # as error_stats: any error on a zero reference is 1.0
        return "rel_l2", np.where(p.rr > 0, np.sqrt(p.dd / np.where(p.rr > 0, p.rr, 1.0)), p.dd > 0)


def mask_iou(y: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Per example ([N, D] rows), the IoU of the > 0.5 regions; both empty: 1.0 (they agree)."""
    ma, mr = y > MASK_THRESHOLD, ref > MASK_THRESHOLD
    inter, union = np.count_nonzero(ma & mr, axis=1), np.count_nonzero(ma | mr, axis=1)
    return np.where(union == 0, 1.0, inter / np.maximum(union, 1))


def _to_score(metric: str, value):
    """[0, 1], 1 = float32's output: 1 - the error for an error, else the figure, clipped."""
    return np.maximum(0.0, 1.0 - value) if metric in LOWER_IS_BETTER else np.clip(value, 0.0, 1.0)


def per_example(y: np.ndarray, ref: np.ndarray, kind: str) -> dict[str, np.ndarray]:
    """{metric: per-example values, "score": per-example scores}, each of length N, for bootstrap
    intervals and paired deltas. mean(values) is judge()'s value, except for a map without a
    mask: judge() gives error_stats' pooled rel_l2 (the root of summed noise over summed
    signal, a mean of nothing), each example here its own. mask_iou is each example's IoU in
    both functions (the IoU of all pixels pooled differs: one big mask would outweigh many small
    ones). mean(score) is judge()'s score unless clipping to [0, 1] binds on some example (a
    cosine below 0, an error above 1) or y holds NaN/Inf. An example holding NaN/Inf (in y or
    float32) gets NaN for the metric (in a float array); the score is 0.0 on every example when
    y holds NaN/Inf anywhere (the output is broken as a whole, as judge() says), else NaN on
    the examples where float32 does."""
    p = _pair(y, ref, kind)
    metric, values = _headline(p, kind)
    with np.errstate(all="ignore"):
        score = _to_score(metric, values.astype(np.float64))
    bad = p.bad_y | p.bad_ref
    if bad.any():
        values = np.where(bad, np.nan, values.astype(np.float64))
        score = np.zeros(len(bad)) if p.bad_y.any() else np.where(p.bad_ref, np.nan, score)
    return {metric: values, "score": score}


def _errors(p: _Pair) -> dict[str, float]:
    """metrics.error_stats' max_abs, rel_l2 and sqnr_db (its formulas, tested equal) from the sums
    at hand: error_stats' own temporaries take 0.2-0.5 s on an 8M-value output."""
    signal, noise = float(np.sum(p.rr)), float(np.sum(p.dd))
    if noise == 0:
        sqnr = math.inf  # exact
    elif signal == 0:
        sqnr = -math.inf  # noise on a zero signal
    else:
        sqnr = 10 * math.log10(signal / noise)
    max_abs = max(float(np.max(p.d)), -float(np.min(p.d))) if p.d.size else 0.0
    rel_l2 = math.sqrt(noise / signal) if signal > 0 else float(noise > 0)
    return {"max_abs": max_abs, "rel_l2": rel_l2, "sqnr_db": sqnr}


def _mean(x: np.ndarray) -> float:
    return float(np.mean(x)) if len(x) else math.nan


def judge(y: np.ndarray, ref: np.ndarray, kind: str | None = None) -> dict:
    """Summary figures of a variant's output y against float32's output ref (same shape), by the
    metric of its kind (output_kind(ref) unless given). Keys: kind, metric, value, score ([0, 1],
    1 = float32), nonfinite (NaN/Inf in y), nonfinite_reference, max_abs, rel_l2, sqnr_db, n
    (examples), size (values per example), and per kind (the metric first):
      classes: top1_agreement, top5_agreement (C > 5), kl_divergence (both probabilities),
        cosine_mean;
      embedding: cosine_mean, cosine_min (no top-1 agreement: there are no classes);
      small: abs_error (mean |y - ref|) when every ref value is in [0, 1] (probabilities,
        flags), else rel_error (mean |y - ref| over the RMS of ref); mean_abs; never a cosine;
      map: abs_error (mean |y - ref|) with mask_iou beside it when every ref value is in [0, 1],
        else rel_l2.
    score: 1 - the error for rel_error and rel_l2 (floored at 0), else the figure clipped to
    [0, 1]. With NaN/Inf in y, score is 0.0 and every figure None (nothing is claimed from such
    data); with NaN/Inf only in float32's output, score is None too (nothing to judge against)."""
    kind = kind or output_kind(ref)
    p = _pair(y, ref, kind)
    metric, values = _headline(p, kind)
    n, size = p.y.shape
    nonfinite = int(np.count_nonzero(~np.isfinite(p.y))) if p.bad_y.any() else 0
    nonfinite_ref = int(np.count_nonzero(~np.isfinite(p.ref))) if p.bad_ref.any() else 0
    out: dict = {"kind": kind, "metric": metric, "value": None, "score": None}
    out |= {"nonfinite": nonfinite, "nonfinite_reference": nonfinite_ref, "n": n, "size": size}
    with np.errstate(all="ignore"):
        figures = _errors(p)
        if kind == "classes":
            figures["top1_agreement"] = _mean(values)
            if size > 5:
                figures["top5_agreement"] = _mean(topk_hits(p.y, np.argmax(p.ref, axis=1), 5))
            if is_probabilities(p.ref) and is_probabilities(p.y):  # as tasks.fidelity
                q, pr = (np.clip(x.astype(np.float64), 1e-12, 1.0) for x in (p.y, p.ref))
                figures["kl_divergence"] = _mean(np.sum(pr * np.log(pr / q), axis=1))
            figures["cosine_mean"] = _mean(_cosine(p))
        elif kind == "embedding":
            figures["cosine_mean"] = _mean(values)
            figures["cosine_min"] = float(np.min(values)) if n else math.nan
        elif kind == "small":
            figures[metric] = _mean(values)
            figures["mean_abs"] = float(np.mean(np.abs(p.d))) if p.d.size else 0.0
        elif metric == "abs_error":  # a probability map
            figures["abs_error"] = _mean(values)
            figures["mask_iou"] = _mean(mask_iou(p.y, p.ref))
    if nonfinite or nonfinite_ref:  # NaN/Inf never passes silently, nor makes up a figure
        out |= dict.fromkeys(figures)
        out["score"] = 0.0 if nonfinite else None
        return out
    out |= {k: None if math.isnan(v) else v for k, v in figures.items()}
    out["value"] = out[metric]
    out["score"] = None if out["value"] is None else float(_to_score(metric, out["value"]))
    return out


def worst(per_output: dict[str, dict], counted: list[str] | None = None) -> str | None:
    """The output with the lowest score among `counted` (None: all), in per_output's order (ties:
    the first). One whose y holds NaN/Inf is worse than any score; one with no score (float32's
    own output non-finite: unjudgeable) comes next: neither may pass silently."""

    def rank(name: str) -> tuple[int, float]:
        j = per_output[name]
        if j.get("nonfinite"):
            return 0, 0.0
        return (1, 0.0) if j.get("score") is None else (2, float(j["score"]))

    return min((k for k in per_output if counted is None or k in counted), key=rank, default=None)
