"""Metric probes for the tuner: a demo's metric on a fixed (stratified) subset or the full set."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from .demos import get_demo
from .metrics import loo_1nn_accuracy, task_metrics, topk_seed_rule
from .mobilenet import TFJS_IMAGE_BATCH
from .sweep import Probe


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


def trained_demo_probe(demo_name: str, data_dir: Path | None, limit: int | None) -> Probe:
    demo = get_demo(demo_name)
    data = demo.load(data_dir)
    if demo.task == "classification":
        idx = stratified_indices(data.y_test.reshape(-1), limit)
    else:
        n = len(data.x_test)
        idx = np.sort(np.random.default_rng(0).permutation(n)[: limit or n])
    x, y = data.x_test[idx], data.y_test[idx]
    label_std = data.extra.get("label_std")
    return Probe(
        demo.primary_metric,
        demo.task != "regression",
        lambda: [x[i : i + 2048] for i in range(0, len(x), 2048)],
        lambda out: task_metrics(demo.task, out, y, label_std)[demo.primary_metric],
        len(x),
    )


class MobilenetProbeFactory:
    """Decodes the images once (uint8 memmap) and builds subset/full probes over them."""

    def __init__(self, data_dir: Path | None, size: int, mode: str, class_info=None):
        from .datasets.imagenet import DecodedImages, find_image_folder, list_images

        samples, _ = list_images(find_image_folder(data_dir))
        self._tmp = tempfile.TemporaryDirectory(prefix="quantlab-probe-")
        self.images = DecodedImages(samples, size, Path(self._tmp.name) / "decoded.npy")
        self.mode = mode
        self.class_info = class_info

    def probe(self, limit: int | None) -> Probe:
        samples = self.images.samples
        wnids = np.array([s.wnid for s in samples])
        if limit is None or limit >= len(samples):
            idx = np.arange(len(samples))
        else:  # whole synsets, evenly spread, so every image keeps its 4 same-class neighbours
            classes = sorted(set(wnids))
            per_class = max(1, round(len(samples) / len(classes)))
            chosen = [
                classes[i] for i in np.linspace(0, len(classes) - 1, max(1, limit // per_class)).astype(int)
            ]
            idx = np.flatnonzero(np.isin(wnids, chosen))
        data = self.images._data

        def inputs():
            for start in range(0, len(idx), 64):
                part = idx[start : start + 64]
                yield (np.asarray(data[part], dtype=np.float32) / 127.5 - 1.0).astype(np.float32)

        if self.mode == "backbone":
            return Probe(
                "loo_1nn",
                True,
                inputs,
                lambda out: loo_1nn_accuracy(out, list(wnids[idx])),
                len(idx),
                TFJS_IMAGE_BATCH,
            )
        names, _ = self.class_info
        tokens = [samples[i].label_token for i in idx]
        return Probe(
            "top1",
            True,
            inputs,
            lambda out: topk_seed_rule(out, tokens, names, 1),
            len(idx),
            TFJS_IMAGE_BATCH,
        )

    def close(self) -> None:
        self._tmp.cleanup()
