"""Metric probes for the tuner: a demo's metric on a fixed (stratified) subset of a search split,
or on the held-out split that judges the answer."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from ..analysis.splits import holdout_split, stratified_indices
from ..analysis.sweep import Probe
from ..metrics import (
    loo_1nn_accuracy,
    loo_1nn_hits,
    topk_seed_rule,
    topk_seed_rule_hits,
)
from ..tasks import label_metrics, per_example_scores
from .mobilenet.evaluate import TFJS_IMAGE_BATCH
from .registry import get_demo

# A demo probe's input chunks (one pool job each) and tfjs batch: shards cut at batch multiples,
# so outputs are the same whatever the number of workers.
DEMO_CHUNK = 512
DEMO_BATCH = 256


def trained_demo_probes(
    demo_name: str, data_dir: Path | None, limit: int | None, holdout: float = 0.5, seed: int = 0
) -> tuple[Probe, Probe, dict]:
    """(search probe on a subset of `limit` of the search split, held-out probe, split record)."""
    demo = get_demo(demo_name)
    data = demo.load(data_dir)
    labels = data.y_test.reshape(-1) if demo.task == "classification" else None
    search, held, split = holdout_split(len(data.x_test), holdout, seed, labels)
    return _demo_probe(demo, data, search, limit), _demo_probe(demo, data, held, None), split


def trained_demo_rank_probe(
    demo_name: str, data_dir: Path | None, limit: int | None, holdout: float = 0.5, seed: int = 0
) -> Probe:
    """`limit` examples of the same search split (stratified): what the per-layer sweep ranks on."""
    demo = get_demo(demo_name)
    data = demo.load(data_dir)
    labels = data.y_test.reshape(-1) if demo.task == "classification" else None
    search, _, _ = holdout_split(len(data.x_test), holdout, seed, labels)
    return _demo_probe(demo, data, search, limit)


def trained_demo_probe(demo_name: str, data_dir: Path | None, limit: int | None) -> Probe:
    demo = get_demo(demo_name)
    data = demo.load(data_dir)
    return _demo_probe(demo, data, np.arange(len(data.x_test)), limit)


def _demo_probe(demo, data, among: np.ndarray, limit: int | None) -> Probe:
    """The demo's metric on `limit` of the examples `among` (stratified for classifiers)."""
    if demo.task == "classification":
        idx = among[stratified_indices(data.y_test.reshape(-1)[among], limit)]
    else:
        n = len(among)
        idx = among[np.sort(np.random.default_rng(0).permutation(n)[: limit or n])]
    x, y = data.x_test[idx], data.y_test[idx]
    units = data.label_units()
    return Probe(
        demo.primary_metric,
        demo.task != "regression",
        lambda: [x[i : i + DEMO_CHUNK] for i in range(0, len(x), DEMO_CHUNK)],
        lambda out: label_metrics(demo.task, out, y, units)[demo.primary_metric],
        len(x),
        DEMO_BATCH,
        per_example=lambda out: per_example_scores(demo.task, out, y, units)[demo.primary_metric],
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

    def probes(self, limit: int | None, holdout: float = 0.5, seed: int = 0) -> tuple[Probe, Probe, dict]:
        """(search probe on `limit` of the search split, held-out probe, split record). Backbone
        mode holds out whole synsets (leave-one-out 1-NN needs each image's same-class
        neighbours); full mode stratifies images by synset."""
        wnids = np.array([s.wnid for s in self.images.samples])
        search, held, split = holdout_split(len(wnids), holdout, seed, wnids, groups=self.mode == "backbone")
        return self.probe(limit, search), self.probe(None, held), split

    def rank_probe(self, limit: int | None, holdout: float = 0.5, seed: int = 0) -> Probe:
        """`limit` images (whole synsets) of the same search split: what the sweep ranks on."""
        wnids = np.array([s.wnid for s in self.images.samples])
        search, _, _ = holdout_split(len(wnids), holdout, seed, wnids, groups=self.mode == "backbone")
        return self.probe(limit, search)

    def probe(self, limit: int | None, among: np.ndarray | None = None) -> Probe:
        samples = self.images.samples
        all_wnids = np.array([s.wnid for s in samples])
        among = np.arange(len(samples)) if among is None else np.asarray(among)
        wnids = all_wnids[among]
        if limit is None or limit >= len(among):
            idx = among
        else:  # whole synsets, evenly spread, so every image keeps its 4 same-class neighbours
            classes = sorted(set(wnids))
            per_class = max(1, round(len(among) / len(classes)))
            chosen = [
                classes[i] for i in np.linspace(0, len(classes) - 1, max(1, limit // per_class)).astype(int)
            ]
            idx = among[np.isin(wnids, chosen)]
        wnids = all_wnids
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
                per_example=lambda out: loo_1nn_hits(out, list(wnids[idx])),
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
            per_example=lambda out: topk_seed_rule_hits(out, tokens, names, 1),
        )

    def close(self) -> None:
        self._tmp.cleanup()
