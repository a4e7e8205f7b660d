"""Metrics against hand-computed cases: every expected number below was worked out by hand (the
arithmetic is in the comments), never by calling the code under test."""

import math

import numpy as np
import pytest

from quantlab.errors import DataError
from quantlab.metrics import (
    cosine_to_reference,
    error_stats,
    loo_1nn_accuracy,
    parity_stats,
    topk_seed_rule,
    topk_wnid,
    within_budget,
    within_tolerance,
)
from quantlab.tasks import label_metrics, topk_hits

NAN, INF = float("nan"), float("inf")


def test_error_stats_hand_computed():
    # reference (3, 4): signal 9 + 16 = 25. actual (3, 5): diff (0, 1), noise 1.
    # rel L2 = sqrt(1 / 25) = 0.2 (without the root: 0.04); SQNR = 10 log10(25) = 13.979400086720377 dB
    s = error_stats(np.array([3.0, 5.0]), np.array([3.0, 4.0]))
    assert s["rel_l2"] == pytest.approx(0.2, rel=1e-12)
    assert s["sqnr_db"] == pytest.approx(13.979400086720377, rel=1e-12)
    assert s["max_abs"] == 1.0 and s["mean_abs"] == 0.5
    assert s["nonfinite"] == 0 and s["nonfinite_reference"] == 0


def test_error_stats_negative_error_and_float64():
    # actual (3, 3) vs (3, 4): diff (0, -1): |diff| max 1, mean 0.5 (signed it would be 0 and -0.5).
    s = error_stats(np.array([3.0, 3.0]), np.array([3.0, 4.0]))
    assert (s["max_abs"], s["mean_abs"]) == (1.0, 0.5)
    # float16 inputs are widened before squaring: 300^2 = 90000 overflows float16 (max 65504).
    # reference (300, 400): signal 250000; actual (300, 410): noise 100; rel L2 = sqrt(1/2500) = 0.02
    s = error_stats(np.array([300, 410], np.float16), np.array([300, 400], np.float16))
    assert s["rel_l2"] == pytest.approx(0.02, rel=1e-12)
    # SQNR = 10 log10(2500) = 33.97940008672037 dB
    assert s["sqnr_db"] == pytest.approx(33.97940008672037, rel=1e-12)


def test_error_stats_exact_zero_and_empty():
    same = error_stats(np.array([1.0, -2.0]), np.array([1.0, -2.0]))
    assert same["rel_l2"] == 0.0 and same["sqnr_db"] == INF and same["max_abs"] == 0.0
    # Zero reference: any error is 100% relative error, none is 0.
    on_zero = error_stats(np.array([0.0, 0.5]), np.zeros(2))
    assert on_zero["rel_l2"] == 1.0 and on_zero["sqnr_db"] == -INF and on_zero["max_abs"] == 0.5
    assert error_stats(np.zeros(2), np.zeros(2))["rel_l2"] == 0.0
    empty = error_stats(np.zeros(0), np.zeros(0))
    assert (empty["max_abs"], empty["mean_abs"], empty["rel_l2"], empty["sqnr_db"]) == (0.0, 0.0, 0.0, INF)


def test_error_stats_never_claims_perfect_on_nonfinite():
    s = error_stats(np.array([1.0, NAN, INF, 4.0]), np.array([1.0, 2.0, 3.0, 4.0]))
    assert s["nonfinite"] == 2 and s["nonfinite_reference"] == 0
    assert all(math.isnan(s[k]) for k in ("max_abs", "mean_abs", "rel_l2", "sqnr_db"))
    # A NaN everywhere used to give noise NaN, `noise > 0` False, hence SQNR inf ("perfect").
    s = error_stats(np.array([NAN, NAN]), np.array([NAN, NAN]))
    assert s["sqnr_db"] != INF and math.isnan(s["sqnr_db"])
    assert (s["nonfinite"], s["nonfinite_reference"]) == (2, 2)
    # Matching infinities are not a perfect match either.
    s = error_stats(np.array([INF, 1.0]), np.array([INF, 1.0]))
    assert math.isnan(s["sqnr_db"]) and (s["nonfinite"], s["nonfinite_reference"]) == (1, 1)
    # Only the reference: counted separately.
    s = error_stats(np.array([1.0, 2.0, 3.0]), np.array([1.0, -INF, NAN]))
    assert (s["nonfinite"], s["nonfinite_reference"]) == (0, 2) and math.isnan(s["rel_l2"])


def test_parity_stats_hand_computed():
    # rows: (3, 4) vs (3, 4): cosine 1, argmax 1 = 1; (0, 1) vs (1, 0): cosine 0, argmax 1 != 0.
    # diff (0, 0, -1, 1): noise 2; signal 9 + 16 + 1 = 26;
    # rel L2 = sqrt(2/26) = sqrt(1/13) = 0.2773500981126146
    # SQNR = 10 log10(13) = 11.139433523068368 dB
    ref = np.array([[3.0, 4.0], [1.0, 0.0]])
    act = np.array([[3.0, 4.0], [0.0, 1.0]])
    s = parity_stats(act, ref)
    assert s["cosine_mean"] == pytest.approx(0.5) and s["cosine_min"] == pytest.approx(0.0, abs=1e-15)
    assert s["top1_agreement"] == 0.5
    assert s["rel_l2"] == pytest.approx(0.2773500981126146, rel=1e-12)
    assert s["sqnr_db"] == pytest.approx(11.139433523068368, rel=1e-12)
    assert s["max_abs"] == 1.0 and s["mean_abs"] == 0.5


def test_parity_stats_cosine_is_scale_free_and_zero_rows_are_zero():
    # (6, 8) vs (3, 4): same direction, cosine 1 whatever the scale; (0, 0) vs (1, 0): cosine 0.
    # (-3, -4) vs (3, 4): cosine -1 -> min -1, mean (1 + 0 - 1) / 3 = 0
    ref = np.array([[3.0, 4.0], [1.0, 0.0], [3.0, 4.0]])
    act = np.array([[6.0, 8.0], [0.0, 0.0], [-3.0, -4.0]])
    s = parity_stats(act, ref)
    assert s["cosine_min"] == pytest.approx(-1.0, rel=1e-12)
    assert s["cosine_mean"] == pytest.approx(0.0, abs=1e-12)
    # argmax: (6, 8) -> 1 = 1; (0, 0) -> 0 = 0; (-3, -4) -> 0 != 1: 2/3
    assert s["top1_agreement"] == pytest.approx(2 / 3)
    # Cosine per example on a 3-d output: rows are flattened, (2,2) images compare as 4-vectors.
    img = np.arange(8.0).reshape(2, 2, 2)
    assert parity_stats(img, img)["cosine_min"] == pytest.approx(1.0)


def test_parity_stats_scalar_output_has_no_cosine_and_nonfinite_has_no_agreement():
    assert "cosine_mean" not in parity_stats(np.array([[1.0], [2.0]]), np.array([[1.0], [2.5]]))
    s = parity_stats(np.array([[NAN, 1.0], [0.0, 1.0]]), np.array([[1.0, 0.0], [0.0, 1.0]]))
    assert s["nonfinite"] == 1 and math.isnan(s["top1_agreement"]) and math.isnan(s["cosine_min"])
    assert math.isnan(s["cosine_mean"]) and math.isnan(s["sqnr_db"])


def test_within_tolerance_needs_both_atol_and_rtol_exceeded():
    ref = np.array([1.0, 10.0, 100.0])
    act = ref + 0.25  # diff 0.25 everywhere (exact in binary)
    # atol 0.125; rtol 0.01 x |ref| = 0.01, 0.1, 1.0: elements 0 and 1 exceed both; element 2
    # exceeds atol only -> passes. With "or" instead of "and" all three would fail.
    assert within_tolerance(act, ref, atol=0.125, rtol=0.01) == (False, 2)
    assert within_tolerance(act, ref, atol=0.5, rtol=0.0) == (True, 0)
    assert within_tolerance(act, ref, atol=0.0, rtol=0.5) == (True, 0)  # 0.25 <= 0.5, 5, 50


def test_within_tolerance_boundaries_are_inclusive_and_use_abs():
    # diff exactly atol: not a failure (strictly greater fails).
    assert within_tolerance(np.array([0.5]), np.array([0.0]), atol=0.5, rtol=0.0) == (True, 0)
    # diff 1 vs rtol 0.25 x |4| = 1: not a failure; a negative reference counts by its magnitude.
    assert within_tolerance(np.array([5.0]), np.array([4.0]), atol=0.5, rtol=0.25) == (True, 0)
    assert within_tolerance(np.array([-5.0]), np.array([-4.0]), atol=0.5, rtol=0.25) == (True, 0)
    # actual below the reference: |diff| counts.
    assert within_tolerance(np.array([-1.0]), np.array([0.0]), atol=0.5, rtol=0.0) == (False, 1)
    # float32 inputs are compared in float64: 0.1f - 0.1 is ~1.5e-9, inside atol 1e-6.
    assert within_tolerance(np.array([0.1], np.float32), np.array([0.1]), atol=1e-6, rtol=0.0) == (True, 0)


def test_within_tolerance_nonfinite_always_fails():
    ref = np.array([1.0, 2.0, 3.0])
    assert within_tolerance(np.array([1.0, NAN, 3.0]), ref, atol=1e9, rtol=1e9) == (False, 1)
    assert within_tolerance(ref, np.array([NAN, 2.0, 3.0]), atol=1e9, rtol=1e9) == (False, 1)
    assert within_tolerance(np.array([INF, 2.0, -INF]), ref, atol=1e9, rtol=1e9) == (False, 2)
    # The same Inf in both is not agreement either (documented choice).
    assert within_tolerance(np.array([INF, 2.0]), np.array([INF, 2.0]), atol=0.1, rtol=0.1) == (False, 1)


def test_within_budget_tolerance_is_1e_9():
    assert within_budget(0.01, 0.01)
    assert within_budget(0.615 - 0.605, 0.01)  # 0.01000000000000001: one step of 1/n, within
    assert within_budget(-0.5, 0.0)  # an improvement
    assert within_budget(1e-9, 0.0)  # exactly the tolerance
    assert not within_budget(2e-9, 0.0)  # past it
    assert not within_budget(0.0100001, 0.01)
    assert not within_budget(0.02, 0.01)
    assert not within_budget(NAN, 0.01)
    assert not within_budget(INF, 0.01)


def test_task_metrics_hand_computed():
    probs = np.array([[0.1, 0.9], [0.8, 0.2], [0.4, 0.6]])
    # argmax 1, 0, 1 vs labels 1, 0, 0: 2 of 3 (2 classes: no top-5)
    assert label_metrics("classification", probs, np.array([1, 0, 0])) == {"accuracy": pytest.approx(2 / 3)}
    # |1 - 1.5| + |2 - 2| + |3 - 1| = 2.5, / 3; squares .25 + 0 + 4 = 4.25, / 3, root
    m = label_metrics("regression", np.array([[1.0], [2.0], [3.0]]), np.array([1.5, 2.0, 1.0]))
    assert m == {"mae": pytest.approx(2.5 / 3), "rmse": pytest.approx((4.25 / 3) ** 0.5)}
    m = label_metrics("regression", np.array([[1.0], [2.0]]), np.array([[1.5], [2.0]]), {"dollars": 100.0})
    assert m == {"mae": 0.25, "mae_dollars": 25.0, "rmse": pytest.approx(0.125**0.5)}
    with pytest.raises(DataError, match="unknown task"):
        label_metrics("ranking", probs, np.array([1, 0, 0]))


def test_top_k_ranks_by_highest_score():
    probs = np.array([[0.5, 0.3, 0.2], [0.1, 0.2, 0.7], [0.3, 0.6, 0.1]])
    labels = np.array([1, 0, 2])
    # top-2 sets {0, 1}, {2, 1}, {1, 0}: labels 1 in, 0 out, 2 out -> 1/3; top-1 sets {0}, {2}, {1}: 0
    assert topk_hits(probs, labels, 2).tolist() == [True, False, False]
    assert topk_hits(probs, labels, 1).tolist() == [False, False, False]
    assert topk_hits(probs, labels, 3).all()
    # top-5 of 7 classes, row 0 ranks classes 6 5 4 3 2 1 0: label 1 is 6th (miss), label 2 5th (hit)
    scores = np.tile(np.arange(7.0), (2, 1))
    m = label_metrics("classification", scores, np.array([1, 2]))
    assert m == {"accuracy": 0.0, "top5_accuracy": 0.5}


# Unit vectors: p0 (1, 0), p1 (.8, .6), p2 (.6, .8), p3 (0, 1), p4 (.28, .96); p3 is stored as
# (0, 10) to show that the neighbour is by cosine, not by raw dot product.
# Cosines: p0p1 .8  p0p2 .6  p0p3 0  p0p4 .28  p1p2 .96  p1p3 .6  p1p4 .8  p2p3 .8  p2p4 .936  p3p4 .96
# Nearest (self excluded): p0 -> p1; p1 -> p2; p2 -> p1; p3 -> p4; p4 -> p3.
LOO_FEATURES = np.array([[1.0, 0.0], [0.8, 0.6], [0.6, 0.8], [0.0, 10.0], [0.28, 0.96]])


def test_loo_1nn_accuracy_hand_computed():
    # labels a a b b b: p0 -> p1 (a = a) ok; p1 -> p2 (b != a) wrong; p2 -> p1 (a != b) wrong;
    # p3 -> p4 (b = b) ok; p4 -> p3 (b = b) ok: 3 of 5 = 0.6.
    # (Inverted: 0.4. Self not excluded: 1.0. Raw dot: p1 -> p3 (6) wrong, p2 -> p3 (8) ok,
    # p4 -> p3 (9.6) ok: 0.8.)
    assert loo_1nn_accuracy(LOO_FEATURES, ["a", "a", "b", "b", "b"]) == pytest.approx(0.6)
    # labels a a a b b: all five nearest share the label: 1.0 (inverted: 0.0)
    assert loo_1nn_accuracy(LOO_FEATURES, ["a", "a", "a", "b", "b"]) == 1.0
    # 3-d features are flattened per row
    assert loo_1nn_accuracy(LOO_FEATURES.reshape(5, 2, 1), ["a", "a", "a", "b", "b"]) == 1.0


def test_cosine_to_reference_hand_computed():
    # (3, 4) . (4, 3) / 25 = 24/25 = 0.96; (1, 0) vs (-2, 0): -1; zero row: 0
    got = cosine_to_reference(
        np.array([[3.0, 4.0], [1.0, 0.0], [0.0, 0.0]]), np.array([[4.0, 3.0], [-2.0, 0], [1, 1]])
    )
    np.testing.assert_allclose(got, [0.96, -1.0, 0.0], rtol=1e-12, atol=1e-15)


CLASS_NAMES = ["tabby cat", "tiger cat", "great white shark", "tiger shark"]
SEED_PROBS = np.array(
    [
        [0.1, 0.6, 0.2, 0.1],  # ranking 1, 2, then 0/3
        [0.5, 0.1, 0.3, 0.1],  # ranking 0, 2, then 1/3
        [0.1, 0.2, 0.3, 0.4],  # ranking 3, 2, 1, 0
    ]
)


def test_topk_seed_rule_hand_computed():
    tokens = ["cat", "shark", "tabby"]
    # k=1: "cat" in "tiger cat" yes; "shark" in "tabby cat" no; "tabby" in "tiger shark" no -> 1/3
    assert topk_seed_rule(SEED_PROBS, tokens, CLASS_NAMES, 1) == pytest.approx(1 / 3)
    # k=2: row 1 adds "great white shark" -> yes; row 2 adds "great white shark": no -> 2/3
    assert topk_seed_rule(SEED_PROBS, tokens, CLASS_NAMES, 2) == pytest.approx(2 / 3)
    # k=3: row 2 adds "tiger cat": no -> 2/3; k=4: row 2 adds "tabby cat" -> 3/3
    assert topk_seed_rule(SEED_PROBS, tokens, CLASS_NAMES, 3) == pytest.approx(2 / 3)
    assert topk_seed_rule(SEED_PROBS, tokens, CLASS_NAMES, 4) == 1.0
    # The token must be inside a class name, not the class name inside the token:
    assert topk_seed_rule(SEED_PROBS[:1], ["a tiger cat here"], CLASS_NAMES, 4) == 0.0
    # Any one of the top-k matching is enough (row 0, k=2: "tiger" in "tiger cat" only).
    assert topk_seed_rule(SEED_PROBS[:1], ["cat"], CLASS_NAMES, 2) == 1.0


def test_topk_wnid_hand_computed():
    wnids = ["n1", "n2", "n3", "n4"]
    # image wnids n2, n9 (not a class: skipped), n1: rows 0 and 2 count (n = 2).
    # row 0 top-1 is class 1 = n2: hit; row 2 top-1 is class 3 = n4, not n1: miss -> 0.5
    assert topk_wnid(SEED_PROBS, ["n2", "n9", "n1"], wnids, 1) == (0.5, 2)
    # k=4: row 2 reaches class 0 = n1 -> 1.0
    assert topk_wnid(SEED_PROBS, ["n2", "n9", "n1"], wnids, 4) == (1.0, 2)
    assert topk_wnid(SEED_PROBS, ["x", "y", "z"], wnids, 1) == (None, 0)


def test_error_stats_signal_below_one_and_exactly_one():
    # reference (0.3, 0.4): signal 0.25; actual (0.3, 0.5): noise 0.01; rel L2 = sqrt(0.04) = 0.2;
    # SQNR = 10 log10(25) = 13.979400086720377 dB (a signal below 1 is still a signal)
    s = error_stats(np.array([0.3, 0.5]), np.array([0.3, 0.4]))
    assert s["rel_l2"] == pytest.approx(0.2, rel=1e-9)
    assert s["sqnr_db"] == pytest.approx(13.979400086720377, rel=1e-9)
    # reference (1, 0): signal exactly 1; actual (1, 0.5): noise 0.25: SQNR = 10 log10(4) = 6.020599913279624
    s = error_stats(np.array([1.0, 0.5]), np.array([1.0, 0.0]))
    assert s["sqnr_db"] == pytest.approx(6.020599913279624, rel=1e-12) and s["rel_l2"] == 0.5


def test_no_numpy_warnings_on_edge_cases():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a zero signal or inf - inf must not warn (nor divide)
        assert error_stats(np.array([0.0, 0.5]), np.zeros(2))["sqnr_db"] == -INF
        assert within_tolerance(np.array([INF, -INF]), np.array([INF, -INF]), 0.1, 0.1) == (False, 2)


def test_top1_agreement_is_per_example():
    # rows argmax 0, 1, 0: identical outputs agree on every example (1.0). A flat argmax over the
    # whole batch (index 0) would "agree" only with rows 0 and 2.
    x = np.array([[2.0, 1.0], [0.0, 3.0], [5.0, 4.0]])
    assert parity_stats(x, x)["top1_agreement"] == 1.0
    y = np.array([[2.0, 1.0], [3.0, 0.0], [5.0, 4.0]])  # row 1 disagrees: 2/3
    assert parity_stats(y, x)["top1_agreement"] == pytest.approx(2 / 3)


def test_accuracy_reads_the_outputs():
    # argmax (1, 1, 0) vs labels (1, 1, 0): 1.0; (anything reading class 0 everywhere: 1/3)
    probs = np.array([[0.2, 0.8], [0.4, 0.6], [0.9, 0.1]])
    assert label_metrics("classification", probs, np.array([1, 1, 0])) == {"accuracy": 1.0}
    assert label_metrics("classification", probs, np.array([[1], [1], [0]])) == {"accuracy": 1.0}


def test_seed_rule_needs_one_token_per_image_and_wnid_ranks_highest_first():
    with pytest.raises(ValueError):
        topk_seed_rule(SEED_PROBS, ["cat"], CLASS_NAMES, 1)  # 3 images, 1 token
    # row 0's highest class is 1 = n2: a hit at k=1 (its lowest, class 0 or 3, is not n2)
    assert topk_wnid(SEED_PROBS[:1], ["n2"], ["n1", "n2", "n3", "n4"], 1) == (1.0, 1)


def test_parity_stats_two_zero_rows_agree():
    # ReLU outputs are often all zero in both runtimes: that row agrees (cosine 1), not 0.
    a = np.array([[0.0, 0.0], [3.0, 4.0]])
    s = parity_stats(a, a.copy())
    assert s["cosine_min"] == pytest.approx(1.0) and s["cosine_mean"] == pytest.approx(1.0)
    assert parity_stats(np.array([[0.0, 0.0]]), np.array([[1.0, 0.0]]))["cosine_min"] == 0.0
