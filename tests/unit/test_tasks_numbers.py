"""quantlab.tasks against hand-computed cases (the arithmetic is in the comments; `math` writes
out the formulas, never the code under test): task detection, label metrics, fidelity."""

from __future__ import annotations

import math

import numpy as np
import pytest

from quantlab import tasks
from quantlab.errors import DataError

# Two probability rows. ref (0.6, 0.4), (0.2, 0.8); y (0.45, 0.55), (0.2, 0.8).
REF = np.array([[0.6, 0.4], [0.2, 0.8]])
Y = np.array([[0.45, 0.55], [0.2, 0.8]])


def test_fidelity_hand_computed():
    f = tasks.fidelity(Y, REF)
    # diff (-0.15, 0.15), (0, 0): noise 0.045; signal .36 + .16 + .04 + .64 = 1.2
    assert f["nonfinite"] == 0
    assert f["max_abs"] == pytest.approx(0.15, rel=1e-12)
    assert f["rel_l2"] == pytest.approx(math.sqrt(0.045 / 1.2), rel=1e-12)  # 0.19365
    assert f["sqnr_db"] == pytest.approx(10 * math.log10(1.2 / 0.045), rel=1e-12)  # 14.26 dB
    # row 0: (.45*.6 + .55*.4) / (|(.45,.55)| |(.6,.4)|) = .49 / (sqrt(.505) sqrt(.52)); row 1: 1
    cos0 = 0.49 / (math.sqrt(0.505) * math.sqrt(0.52))
    assert f["cosine_mean"] == pytest.approx((cos0 + 1) / 2, rel=1e-12)
    assert f["cosine_min"] == pytest.approx(cos0, rel=1e-12)
    assert f["top1_agreement"] == 0.5  # row 0: argmax 1 vs 0; row 1: 1 vs 1
    assert "top5_agreement" not in f  # 2 classes
    # KL(ref || y): row 0 .6 ln(.6/.45) + .4 ln(.4/.55); row 1 0; mean of the two
    kl0 = 0.6 * math.log(0.6 / 0.45) + 0.4 * math.log(0.4 / 0.55)
    assert f["kl_divergence"] == pytest.approx(kl0 / 2, rel=1e-9)


def test_fidelity_edges():
    same = tasks.fidelity(REF, REF)
    assert same["sqnr_db"] == math.inf and same["rel_l2"] == 0.0 and same["max_abs"] == 0.0
    assert same["kl_divergence"] == pytest.approx(0.0, abs=1e-15)
    # a zero reference: any error is a relative error of 1 (not a division by zero)
    zero = tasks.fidelity(np.array([[0.0, 1.0]]), np.zeros((1, 2)))
    assert zero["rel_l2"] == 1.0 and zero["max_abs"] == 1.0 and zero["sqnr_db"] == -math.inf
    # scores that are not probabilities: no KL; 7 classes: top-5 agreement
    ref = np.tile(np.arange(7.0), (2, 1))  # top-1 class 6, top-5 {6, 5, 4, 3, 2}
    y = ref.copy()
    y[0, 0] = 10.0  # row 0's top-1 becomes class 0: top-1 disagrees; ref's top class 6 is still in y's top 5
    y[1, 6] = -1.0  # row 1's top-1 becomes 5; class 6 falls out of y's top 5
    f = tasks.fidelity(y, ref)
    assert "kl_divergence" not in f
    assert f["top1_agreement"] == 0.0 and f["top5_agreement"] == 0.5
    # one NaN: counted, and every statistic is None rather than a number
    bad = Y.copy()
    bad[1, 1] = np.nan
    f = tasks.fidelity(bad, REF)
    assert f["nonfinite"] == 1
    assert [f[k] for k in ("max_abs", "rel_l2", "cosine_mean", "cosine_min", "sqnr_db")] == [None] * 5


def test_fidelity_per_example_hand_computed():
    per = tasks.fidelity_per_example(Y, REF)
    cos0 = 0.49 / (math.sqrt(0.505) * math.sqrt(0.52))
    np.testing.assert_allclose(per["cosine_mean"], [cos0, 1.0], rtol=1e-12)
    assert per["top1_agreement"].tolist() == [False, True]
    # [N, 1] outputs are not class scores: no agreement vector
    assert set(tasks.fidelity_per_example(Y[:, :1], REF[:, :1])) == {"cosine_mean"}


def test_row_cosine_zero_rows():
    a = np.array([[0.0, 0.0], [0.0, 0.0], [1.0, 0.0], [2.0, 0.0]])
    r = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 0.0], [-1.0, 0.0]])
    # both zero: 1; one zero: 0; opposite: -1
    assert tasks.row_cosine(a, r).tolist() == [1.0, 0.0, 0.0, -1.0]


@pytest.mark.parametrize(
    ("y", "expected"),
    [
        (REF, True),
        (np.array([[0.5, 0.6]]), False),  # sums to 1.1
        (np.array([[1.2, -0.2]]), False),  # sums to 1 but negative
        (np.array([[np.nan, 1.0]]), False),
        (np.array([[1.0], [1.0]]), False),  # one column: not class scores
        (np.array([[0.5, 0.5005]]), True),  # within 1e-3
    ],
)
def test_is_probabilities(y, expected):
    assert tasks.is_probabilities(y) is expected


def test_detect_task_rules():
    scores, ints = np.zeros((3, 4)), np.array([0, 3, 1])
    assert tasks.detect_task([scores], None) == "fidelity"
    assert tasks.detect_task([scores], ints) == "classification"
    assert tasks.detect_task([scores], ints.astype(np.float32)) == "classification"  # 0., 3., 1.
    assert tasks.detect_task([scores], np.array([0.5, 3.0, 1.0])) == "regression"  # not integers
    assert tasks.detect_task([scores], ints.reshape(3, 1)) == "regression"  # not one label per row
    assert tasks.detect_task([np.zeros((3, 1))], ints) == "regression"  # one output column
    assert tasks.detect_task([scores], ints, "regression") == "regression"
    assert tasks.detect_task([scores], np.array([0.5, 1, 2]), "classification") == "classification"
    assert tasks.detect_task([scores], ints, "fidelity") == "fidelity"


def test_detect_task_refusals():
    with pytest.raises(DataError) as e:
        tasks.detect_task([np.zeros((2, 2))], None, "ranking")
    assert e.value.exit_code == 2
    assert str(e.value) == "--task 'ranking': valid: auto, classification, regression, retrieval, fidelity"
    for task in ("classification", "regression"):
        with pytest.raises(DataError, match=f"--task {task} needs labels") as e:
            tasks.detect_task([np.zeros((2, 2))], None, task)
        assert e.value.exit_code != 2  # a data problem (no labels), not a usage one


def test_label_metrics_refusals():
    with pytest.raises(DataError, match=r"class scores \[N, C\]; the first output is \[3, 1\]"):
        tasks.label_metrics("classification", np.zeros((3, 1)), np.array([0, 0, 0]))
    with pytest.raises(DataError, match=r"labels range -1\.\.1 but the model has 2 classes"):
        tasks.label_metrics("classification", np.zeros((3, 2)), np.array([0, -1, 1]))
    with pytest.raises(DataError, match=r"labels range 0\.\.2 but the model has 2 classes"):
        tasks.label_metrics("classification", np.zeros((3, 2)), np.array([0, 2, 1]))
    with pytest.raises(DataError, match=r"regression labels \[3\] do not match the output \[3, 2\]"):
        tasks.label_metrics("regression", np.zeros((3, 2)), np.zeros(3))
    for f in (tasks.label_metrics, tasks.per_example_scores):
        with pytest.raises(DataError, match="unknown task 'ranking'"):
            f("ranking", np.zeros((3, 2)), np.zeros(3))


def test_label_metrics_edges_of_the_class_range():
    # labels 0 and C-1 are valid: argmax (1, 0) vs (1, 0): 1.0
    assert tasks.label_metrics("classification", np.array([[0, 1.0], [1.0, 0]]), np.array([1, 0])) == {
        "accuracy": 1.0
    }
    # exactly 5 classes: no top-5 (it would always be 1); 6 classes: top-5
    assert "top5_accuracy" not in tasks.label_metrics("classification", np.eye(5), np.arange(5))
    assert tasks.label_metrics("classification", np.eye(6), np.arange(6))["top5_accuracy"] == 1.0


def test_per_example_scores_hand_computed():
    # 2-D regression: row errors (1, -3) and (0.5, 0.5): mae per row (1 + 3)/2 = 2 and 0.5;
    # squared per row (1 + 9)/2 = 5 and 0.25; metric rmse = sqrt((5 + 0.25)/2)
    y, t = np.array([[1.0, -1.0], [2.5, 0.5]]), np.array([[0.0, 2.0], [2.0, 0.0]])
    per = tasks.per_example_scores("regression", y, t, {"cents": 100.0})
    assert per["mae"].tolist() == [2.0, 0.5] and per["rmse"].tolist() == [5.0, 0.25]
    assert per["mae_cents"].tolist() == [200.0, 50.0]
    m = tasks.label_metrics("regression", y, t, {"cents": 100.0})
    assert m == {"mae": 1.25, "mae_cents": 125.0, "rmse": pytest.approx(math.sqrt(2.625), rel=1e-12)}
    # 7 classes, scores 0..6 in both rows: top-5 {6, 5, 4, 3, 2}; labels 6 (hit, top-1) and 1 (miss)
    scores = np.tile(np.arange(7.0), (2, 1))
    per = tasks.per_example_scores("classification", scores, np.array([6, 1]))
    assert per["accuracy"].tolist() == [True, False] and per["top5_accuracy"].tolist() == [True, False]
    assert "top5_accuracy" not in tasks.per_example_scores("classification", np.eye(3), np.arange(3))


def test_topk_hits_breaks_ties_towards_the_lower_index():
    # all four scores equal: top-2 is classes {0, 1}
    scores = np.ones((4, 4))
    assert tasks.topk_hits(scores, np.array([0, 1, 2, 3]), 2).tolist() == [True, True, False, False]


def test_retrieval_is_leave_one_out_1nn_by_label_worked_by_hand():
    """Cosines by hand: 0 -> 1 (0.994 > 0.970), 1 -> 0 (0.9939 > 0.9905), 2 -> 3 (0.243), and
    3 -> 1 (0.9905, label 0): a miss. Never detected, only asked for; labels needed."""
    y = np.array([[1, 0], [0.9, 0.1], [0, 1], [0.8, 0.2]], dtype=np.float32)
    labels = np.array([0, 0, 1, 1])
    assert tasks.label_metrics("retrieval", y, labels) == {"loo_1nn": 0.75}
    assert tasks.per_example_scores("retrieval", y, labels)["loo_1nn"].tolist() == [True, True, True, False]
    assert tasks.PRIMARY["retrieval"] == "loo_1nn"
    assert tasks.detect_task([y], labels, "retrieval") == "retrieval"
    assert tasks.detect_task([y], labels, "auto") == "classification"  # logits and features look alike
    with pytest.raises(DataError, match="--task retrieval needs labels"):
        tasks.detect_task([y], None, "retrieval")
    with pytest.raises(DataError, match="at least 2 examples"):
        tasks.label_metrics("retrieval", y[:1], labels[:1])
