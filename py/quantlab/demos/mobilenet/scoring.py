"""A MobileNetV2 variant's figures from its outputs on the sample images: by mode, as means and
per image, and on the images bias correction did not calibrate on."""

from __future__ import annotations

import numpy as np

from ...metrics import (
    cosine_to_reference,
    loo_1nn_accuracy,
    loo_1nn_hits,
    topk_seed_rule,
    topk_seed_rule_hits,
    topk_wnid,
    topk_wnid_hits,
)
from ..datasets.imagenet import DecodedImages


def score(
    mode: str, outputs: np.ndarray, ref32: np.ndarray, images: DecodedImages, class_info
) -> dict[str, float | int | None]:
    wnids = [s.wnid for s in images.samples]
    if mode == "backbone":
        cos = cosine_to_reference(outputs, ref32)
        return {
            "loo_1nn": loo_1nn_accuracy(outputs, wnids),
            "cosine_mean": float(cos.mean()),
            "cosine_min": float(cos.min()),
        }
    names, class_wnids = class_info
    tokens = [s.label_token for s in images.samples]
    top1_w, n_w = topk_wnid(outputs, wnids, class_wnids, 1)
    top5_w, _ = topk_wnid(outputs, wnids, class_wnids, 5)
    return {
        "top1": topk_seed_rule(outputs, tokens, names, 1),
        "top5": topk_seed_rule(outputs, tokens, names, 5),
        "top1_wnid": top1_w,
        "top5_wnid": top5_w,
        "n_scored_wnid": n_w,
    }


def score_per_example(
    mode: str, outputs: np.ndarray, ref32: np.ndarray, images: DecodedImages, class_info
) -> dict[str, np.ndarray]:
    """score's figures per image, where they are means: hits (bool) and cosines."""
    wnids = [s.wnid for s in images.samples]
    if mode == "backbone":
        return {"loo_1nn": loo_1nn_hits(outputs, wnids), "cosine_mean": cosine_to_reference(outputs, ref32)}
    names, class_wnids = class_info
    tokens = [s.label_token for s in images.samples]
    return {
        "top1": topk_seed_rule_hits(outputs, tokens, names, 1),
        "top5": topk_seed_rule_hits(outputs, tokens, names, 5),
        "top1_wnid": topk_wnid_hits(outputs, wnids, class_wnids, 1),
        "top5_wnid": topk_wnid_hits(outputs, wnids, class_wnids, 5),
    }


def unseen_by_calibration(equalization: dict | None, images, outputs: dict, wnids: list[str]) -> dict | None:
    """Leave-one-out 1-NN of each variant on the images bias correction did not calibrate on
    (neighbours among those images only): the check that its figure is not the calibration's."""
    bc = (equalization or {}).get("bias_correction")
    if not bc:
        return None
    seen = set(bc["calibration_images"])
    keep = np.array([s.path.name not in seen for s in images.samples])
    if keep.sum() < 2:
        return None
    kept = [w for w, k in zip(wnids, keep, strict=True) if k]
    return {
        "n_images": int(keep.sum()),
        "loo_1nn": {v: loo_1nn_accuracy(y[keep], kept) for v, y in outputs.items()},
    }
