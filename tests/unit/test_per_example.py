"""Per-example vectors behind the intervals: their means (rmse: root of the mean) are the metrics
results.json reports, so an interval is always around the figure shown next to it."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from quantlab import tasks
from quantlab.demos.mobilenet.scoring import score, score_per_example
from quantlab.metrics import (
    loo_1nn_accuracy,
    loo_1nn_hits,
    topk_seed_rule,
    topk_wnid,
)

RNG = np.random.default_rng(7)


def test_tasks_per_example_scores_average_to_label_metrics():
    y = RNG.random((50, 8))
    labels = RNG.integers(0, 8, 50)
    m = tasks.label_metrics("classification", y, labels)
    per = tasks.per_example_scores("classification", y, labels)
    assert per["accuracy"].dtype == bool and per["top5_accuracy"].dtype == bool
    assert per["accuracy"].mean() == pytest.approx(m["accuracy"])
    assert per["top5_accuracy"].mean() == pytest.approx(m["top5_accuracy"])
    y, t = RNG.normal(size=(40, 3)), RNG.normal(size=(40, 3))
    m = tasks.label_metrics("regression", y, t)
    per = tasks.per_example_scores("regression", y, t)
    assert per["mae"].mean() == pytest.approx(m["mae"])
    assert math.sqrt(per["rmse"].mean()) == pytest.approx(m["rmse"])


def test_fidelity_per_example_averages_to_fidelity():
    ref = RNG.random((30, 6))
    y = ref + RNG.normal(0, 0.1, ref.shape)
    y[0] = 0.0
    ref[0] = 0.0  # both zero: agree perfectly
    f = tasks.fidelity(y, ref)
    per = tasks.fidelity_per_example(y, ref)
    assert per["cosine_mean"][0] == 1.0
    assert per["cosine_mean"].mean() == pytest.approx(f["cosine_mean"])
    assert per["top1_agreement"].mean() == pytest.approx(f["top1_agreement"])
    assert "top1_agreement" not in tasks.fidelity_per_example(y[:, :1], ref[:, :1])


def test_label_units_per_example_average_to_label_metrics():
    out, t = RNG.normal(size=(25, 1)), RNG.normal(size=25)
    units = {"dollars": 2.5}
    m = tasks.label_metrics("regression", out, t, units)
    per = tasks.per_example_scores("regression", out, t, units)
    assert per["mae"].mean() == pytest.approx(m["mae"])
    assert per["mae_dollars"].mean() == pytest.approx(m["mae_dollars"]) == pytest.approx(2.5 * m["mae"])


def test_mobilenet_scores_per_image_average_to_score():
    feats = RNG.normal(size=(12, 5))
    wnids = [f"n{i // 3}" for i in range(12)]
    images = SimpleNamespace(samples=[SimpleNamespace(wnid=w, label_token=w) for w in wnids])
    ref = feats + RNG.normal(0, 0.2, feats.shape)
    m, per = (
        score("backbone", feats, ref, images, None),
        score_per_example("backbone", feats, ref, images, None),
    )
    assert (
        per["loo_1nn"].mean() == pytest.approx(m["loo_1nn"]) == pytest.approx(loo_1nn_accuracy(feats, wnids))
    )
    assert np.array_equal(per["loo_1nn"], loo_1nn_hits(feats, wnids))
    assert per["cosine_mean"].mean() == pytest.approx(m["cosine_mean"])
    probs = RNG.random((12, 6))
    class_info = ([f"class n{i}" for i in range(6)], ["n0", "n1", "n2", "zz", "zz2", "zz3"])
    m = score("full", probs, probs, images, class_info)
    per = score_per_example("full", probs, probs, images, class_info)
    assert per["top1"].mean() == pytest.approx(m["top1"])
    assert per["top5"].mean() == pytest.approx(m["top5"])
    assert per["top1_wnid"].mean() == pytest.approx(m["top1_wnid"]) and len(per["top1_wnid"]) == 9
    assert per["top5_wnid"].mean() == pytest.approx(m["top5_wnid"])
    assert topk_seed_rule(probs, wnids, class_info[0], 1) == m["top1"]
    assert topk_wnid(probs, wnids, ["x"], 1) == (None, 0)
