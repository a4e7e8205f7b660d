"""Error, parity and ranking statistics, computed once in Python for every runtime (the task
metrics, accuracy or MAE, are in quantlab.tasks)."""

from __future__ import annotations

import numpy as np

# The one list of metrics where a smaller value is better (errors, distances): the judge's scores,
# when a difference is a loss, and the tune's direction all read it (loss.py also takes MAE in
# other units, mae_<unit>, as lower-is-better).
LOWER_IS_BETTER = frozenset(
    {"rel_error", "abs_error", "rel_l2", "max_abs", "mean_abs", "kl_divergence", "mae", "rmse"}
)


def error_stats(actual: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    """Abs errors, relative L2 (1.0 for any error on a zero reference) and SQNR (dB), in float64.

    `nonfinite` counts the NaN/Inf elements of `actual`, `nonfinite_reference` those of
    `reference`. When either count is not zero the four error figures are NaN: no figure is
    claimed from data that holds NaN or Inf (in particular not a perfect SQNR of inf, which a NaN
    noise power used to give, nor the SQNR of only the finite part)."""
    a, r = actual.astype(np.float64), reference.astype(np.float64)
    nonfinite, nonfinite_ref = int(np.count_nonzero(~np.isfinite(a))), int(np.count_nonzero(~np.isfinite(r)))
    counts = {"nonfinite": nonfinite, "nonfinite_reference": nonfinite_ref}
    if nonfinite or nonfinite_ref:
        nan = float("nan")
        return {"max_abs": nan, "mean_abs": nan, "rel_l2": nan, "sqnr_db": nan, **counts}
    diff = a - r
    signal, noise = float(np.sum(r * r)), float(np.sum(diff * diff))
    if noise == 0:
        sqnr = float("inf")  # exact
    elif signal == 0:
        sqnr = float("-inf")  # noise on a zero signal
    else:
        sqnr = float(10 * np.log10(signal / noise))
    return {
        "max_abs": float(np.max(np.abs(diff))) if diff.size else 0.0,
        "mean_abs": float(np.mean(np.abs(diff))) if diff.size else 0.0,
        "rel_l2": float(np.sqrt(noise / signal)) if signal > 0 else float(noise > 0),
        "sqnr_db": sqnr,
        **counts,
    }


def within_budget(drop: float, max_drop: float) -> bool:
    """drop <= max_drop, give or take 1e-9; a NaN drop is never within budget."""
    # A metric on n examples moves in steps of 1/n: 0.615 - 0.605 is 0.01000000000000001.
    return drop <= max_drop + 1e-9


def parity_stats(actual: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    """How far `actual` is from `reference`: abs errors, relative L2, SQNR (dB), cosine; with
    NaN/Inf anywhere the figures are NaN and `nonfinite` says how many (see error_stats)."""
    a = actual.astype(np.float64).reshape(len(actual), -1)
    r = reference.astype(np.float64).reshape(len(reference), -1)
    stats = error_stats(a, r)
    if a.shape[1] > 1:  # per-example cosine and argmax mean nothing for a scalar output
        if stats["nonfinite"] or stats["nonfinite_reference"]:
            # argmax picks a NaN as the maximum: agreement and cosine would be made up
            stats |= {"cosine_mean": float("nan"), "cosine_min": float("nan"), "top1_agreement": float("nan")}
            return stats
        norm_a, norm_r = np.linalg.norm(a, axis=1), np.linalg.norm(r, axis=1)
        norms = norm_a * norm_r
        cos = np.sum(a * r, axis=1) / np.where(norms == 0, 1.0, norms)
        cos = np.where((norm_a == 0) & (norm_r == 0), 1.0, cos)  # two zero rows agree (e.g. ReLU)
        stats["cosine_mean"] = float(np.mean(cos))
        stats["cosine_min"] = float(np.min(cos))
        stats["top1_agreement"] = float(np.mean(np.argmax(a, 1) == np.argmax(r, 1)))
    return stats


def within_tolerance(actual: np.ndarray, reference: np.ndarray, atol: float, rtol: float) -> tuple[bool, int]:
    """An element fails only when it exceeds both atol and rtol*|reference| (as Polygraphy).

    An element that is NaN or +-Inf in either array always fails, even where both hold the same
    Inf: parity asks whether two runtimes compute the same numbers, and an overflow in both says
    nothing about the values it hides (nor is an overflowing model something to pass silently).
    Returns (all elements pass, number of failing elements)."""
    a, r = actual.astype(np.float64), reference.astype(np.float64)
    finite = np.isfinite(a) & np.isfinite(r)
    with np.errstate(invalid="ignore"):  # inf - inf
        diff = np.abs(a - r)
        bad = ~finite | ((diff > atol) & (diff > rtol * np.abs(r)))
    return not bool(bad.any()), int(bad.sum())


def _unit_rows(features: np.ndarray) -> np.ndarray:
    f = features.astype(np.float64).reshape(len(features), -1)
    norms = np.linalg.norm(f, axis=1, keepdims=True)
    return f / np.where(norms == 0, 1.0, norms)


def loo_1nn_hits(features: np.ndarray, labels: list[str]) -> np.ndarray:
    """Per example: is its leave-one-out nearest neighbour (cosine) of the same label? (bool)"""
    f = _unit_rows(features)
    sim = f @ f.T
    np.fill_diagonal(sim, -np.inf)
    nearest = np.argmax(sim, axis=1)
    labels_arr = np.asarray(labels)
    return labels_arr[nearest] == labels_arr


def loo_1nn_accuracy(features: np.ndarray, labels: list[str]) -> float:
    """Leave-one-out 1-nearest-neighbour accuracy by label, cosine similarity."""
    return float(np.mean(loo_1nn_hits(features, labels)))


def cosine_to_reference(features: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Per-row cosine similarity between two feature sets of the same inputs."""
    return np.sum(_unit_rows(features) * _unit_rows(reference), axis=1)


def topk_seed_rule_hits(probs: np.ndarray, tokens: list[str], class_names: list[str], k: int) -> np.ndarray:
    """Per image, topk_seed_rule's verdict (bool)."""
    top = np.argsort(-probs, axis=1)[:, :k]
    hits = [any(tok in class_names[c] for c in row) for tok, row in zip(tokens, top, strict=True)]
    return np.asarray(hits, dtype=bool)


def topk_seed_rule(probs: np.ndarray, tokens: list[str], class_names: list[str], k: int) -> float:
    """The seed's rule: correct when the file name's label token occurs inside the name string
    of one of the top-k predicted classes."""
    return float(np.mean(topk_seed_rule_hits(probs, tokens, class_names, k)))


def topk_wnid(
    probs: np.ndarray, image_wnids: list[str], class_wnids: list[str], k: int
) -> tuple[float | None, int]:
    """Exact wnid match, over the images whose wnid is one of the classes; returns (acc, n)."""
    hits = topk_wnid_hits(probs, image_wnids, class_wnids, k)
    return (float(np.mean(hits)) if len(hits) else None), len(hits)


def topk_wnid_hits(probs: np.ndarray, image_wnids: list[str], class_wnids: list[str], k: int) -> np.ndarray:
    """Per image whose wnid is one of the classes (in image order), exact top-k hit (bool)."""
    index = {w: i for i, w in enumerate(class_wnids)}
    rows = [(i, index[w]) for i, w in enumerate(image_wnids) if w in index]
    top = np.argsort(-probs, axis=1)[:, :k]
    return np.asarray([label in top[i] for i, label in rows], dtype=bool)
