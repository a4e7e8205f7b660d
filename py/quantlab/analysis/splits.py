"""Seeded example splits for the tuner (demos and users' models alike): a stratified subset, and
the search / held-out split whose held-out part judges the answer."""

from __future__ import annotations

import numpy as np

from ..errors import QuantlabError


def stratified_indices(labels: np.ndarray, limit: int | None, seed: int = 0) -> np.ndarray:
    """`limit` indices with classes as equally represented as possible, in a seeded order."""
    if limit is None or limit >= len(labels):
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    by_class = [rng.permutation(np.flatnonzero(labels == c)) for c in np.unique(labels)]
    picked, k = [], 0
    while len(picked) < limit:
        for idx in by_class:
            if k < len(idx) and len(picked) < limit:
                picked.append(idx[k])
        k += 1
    return np.sort(np.asarray(picked))


def holdout_split(
    n: int, fraction: float, seed: int = 0, labels: np.ndarray | None = None, groups: bool = False
) -> tuple[np.ndarray, np.ndarray, dict]:
    """(search indices, held-out indices, the record of how): a seeded split of n examples with
    `fraction` of them held out. With `labels`, stratified: each label contributes
    round(fraction x its count) examples (`groups`: whole labels are held out instead, a fraction
    of the labels, so a leave-one-out neighbour search keeps every same-label neighbour)."""
    rng = np.random.default_rng(seed)
    record = {"fraction": fraction, "seed": seed, "n": int(n)}
    if fraction <= 0:
        return np.arange(n), np.arange(n), record | {"stratified_by": None, "note": "no held-out split"}
    if labels is None:
        perm = rng.permutation(n)
        k = int(round(fraction * n))
        held, stratified = perm[:k], None
    elif groups:
        classes = rng.permutation(np.unique(labels))
        k = int(round(fraction * len(classes)))
        held, stratified = np.flatnonzero(np.isin(labels, classes[:k])), "label (whole groups)"
    else:
        held = [
            rng.permutation(idx)[: int(round(fraction * len(idx)))]
            for idx in (np.flatnonzero(labels == c) for c in np.unique(labels))
        ]
        held, stratified = np.concatenate(held) if held else np.zeros(0, np.int64), "label"
    held = np.sort(held.astype(np.int64))
    search = np.setdiff1d(np.arange(n), held)
    if len(search) == 0 or len(held) == 0:
        raise QuantlabError(f"--holdout {fraction}: leaves an empty split of {n} examples", exit_code=2)
    sizes = {"search_n": len(search), "holdout_n": len(held)}
    return search, held, record | {"stratified_by": stratified, **sizes}
