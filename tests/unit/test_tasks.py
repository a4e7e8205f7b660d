"""Task metrics on hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from quantlab.errors import DataError
from quantlab.tasks import detect_task, fidelity, is_probabilities, label_metrics


def test_classification_accuracy_and_top5_by_hand():
    # 7 classes, 3 examples; labels 0, 6, 3.
    y = np.array(
        [
            [0.9, 0.1, 0, 0, 0, 0, 0],  # argmax 0: right
            [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.05],  # label 6 is the smallest: wrong, not in top 5
            [0.1, 0.2, 0.3, 0.25, 0.0, 0.0, 0.15],  # argmax 2: wrong; class 3 is 2nd: top-5 hit
        ]
    )
    m = label_metrics("classification", y, np.array([0, 6, 3]))
    assert m["accuracy"] == pytest.approx(1 / 3)
    assert m["top5_accuracy"] == pytest.approx(2 / 3)


def test_regression_mae_rmse_by_hand():
    m = label_metrics("regression", np.array([[1.0], [2.0], [4.0]]), np.array([1.0, 3.0, 1.0]))
    assert m["mae"] == pytest.approx((0 + 1 + 3) / 3)
    assert m["rmse"] == pytest.approx(math.sqrt((0 + 1 + 9) / 3))


def test_fidelity_by_hand():
    ref = np.array([[3.0, 4.0], [1.0, 0.0]])
    y = np.array([[3.0, 4.0], [0.0, 1.0]])
    f = fidelity(y, ref)
    # diff: row 2 = (-1, 1): noise 2, signal 25 + 1 = 26
    assert f["rel_l2"] == pytest.approx(math.sqrt(2 / 26))
    assert f["sqnr_db"] == pytest.approx(10 * math.log10(26 / 2))
    assert f["max_abs"] == 1.0
    assert f["cosine_mean"] == pytest.approx(0.5) and f["cosine_min"] == pytest.approx(0.0)
    assert f["top1_agreement"] == 0.5
    assert "kl_divergence" not in f  # not probabilities
    assert f["nonfinite"] == 0


def test_kl_divergence_of_probabilities_by_hand():
    ref = np.array([[0.5, 0.5]])
    y = np.array([[0.25, 0.75]])
    f = fidelity(y, ref)
    assert f["kl_divergence"] == pytest.approx(0.5 * math.log(0.5 / 0.25) + 0.5 * math.log(0.5 / 0.75))
    assert is_probabilities(ref) and not is_probabilities(np.array([[0.6, 0.6]]))


def test_nan_output_never_looks_fine():
    ref = np.array([[1.0, 2.0], [3.0, 4.0]])
    y = np.array([[1.0, np.nan], [3.0, 4.0]])
    f = fidelity(y, ref)
    assert f["nonfinite"] == 1
    assert f["cosine_mean"] is None and f["sqnr_db"] is None and f["rel_l2"] is None


def test_task_detection_and_override():
    scores = [np.zeros((4, 3))]
    assert detect_task(scores, None) == "fidelity"
    assert detect_task(scores, np.array([0, 1, 2, 0])) == "classification"
    assert detect_task([np.zeros((4, 1))], np.array([0.5, 1.5, 2.0, 3.0])) == "regression"
    assert detect_task(scores, np.array([0, 1, 2, 0]), "regression") == "regression"
    with pytest.raises(DataError, match="needs labels"):
        detect_task(scores, None, "classification")


def test_labels_out_of_range_are_named():
    with pytest.raises(DataError, match="3 classes"):
        label_metrics("classification", np.zeros((2, 3)), np.array([0, 5]))


def test_cosine_of_two_zero_rows_is_one_and_of_one_zero_row_is_zero():
    ref = np.array([[0.0, 0.0], [1.0, 0.0]])
    f = fidelity(np.array([[0.0, 0.0], [0.0, 0.0]]), ref)
    assert f["cosine_min"] == 0.0 and f["cosine_mean"] == 0.5
