"""quantlab.judge against hand-computed cases (the arithmetic is in the comments; `math` writes out
the formulas, never the code under test): output kinds, per-kind figures, the worst output,
losses and margins."""

from __future__ import annotations

import math

import numpy as np
import pytest

from quantlab import judge as J
from quantlab import loss as L
from quantlab.errors import QuantlabError
from quantlab.metrics import error_stats
from quantlab.tasks import row_cosine

RNG = np.random.default_rng(7)


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)


def normal(*shape: int) -> np.ndarray:
    return RNG.normal(size=shape).astype(np.float32)


def unit(*shape: int) -> np.ndarray:
    return RNG.random(shape, dtype=np.float32)


# --- output_kind ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ref, kind",
    [
        (unit(4, 1), "small"),  # faceres gender: one sigmoid
        (normal(4, 1024), "embedding"),  # faceres face embedding
        (softmax(normal(4, 100)), "classes"),  # faceres age softmax
        (normal(2, 384, 16), "map"),  # blazeface boxes per anchor: 384 and 16 are both > 8
        (normal(2, 512, 1), "embedding"),  # blazeface scores (logits): one long axis
        (unit(2, 256, 256, 1), "map"),  # selfie mask
        (unit(3, 1, 17, 3), "embedding"),  # movenet keypoints: 51 values, only 17 > 8
        (unit(4, 100), "embedding"),  # handtrack scores: sigmoids, rows do not sum to 1
        (normal(4, 100, 4), "embedding"),  # handtrack boxes
        (np.array([0.0, 1, 3, 2], np.float32), "small"),  # handtrack counts [N]
        (normal(4, 1, 1, 228), "embedding"),  # [N,1,1,228] is a vector, not a map
        (softmax(normal(5, 2)), "classes"),  # a 2-class softmax is classes, not small
        (softmax(normal(5, 7)), "classes"),  # 7 classes <= SMALL_MAX, still classes
        (normal(5, 2), "small"),  # two logits: no probability rows
        (normal(5, 4), "small"),  # a box
        (normal(5, 8), "small"),  # SMALL_MAX values: still small
        (normal(5, 9), "embedding"),  # one more
        (normal(5, 1000), "embedding"),  # logits
        (unit(2, 64, 64, 3), "map"),  # an image
        (unit(2, 4, 4, 1), "embedding"),  # a 4x4 is no map: both sides <= 8
        (normal(2, 12804, 8), "embedding"),  # anchors x 8: one long axis
    ],
)
def test_output_kind(ref, kind):
    assert J.output_kind(ref) == kind


# --- small ------------------------------------------------------------------------------------


def test_small_output_is_judged_by_relative_error_never_cosine():
    ref = np.array([[2.0], [-2.0], [2.0], [-2.0]], np.float32)
    j = J.judge(ref + np.float32(0.1), ref)
    # RMS of ref: sqrt(4 * 4 / 4) = 2; mean |y - ref| = 0.1 -> rel_error 0.1 / 2 = 0.05
    assert (j["kind"], j["metric"]) == ("small", "rel_error")
    assert j["mean_abs"] == pytest.approx(0.1, rel=1e-6)
    assert j["value"] == j["rel_error"] == pytest.approx(0.05, rel=1e-6)
    assert j["score"] == pytest.approx(0.95, rel=1e-6)
    # noise 4 * 0.01 = 0.04, signal 16: rel_l2 sqrt(0.04 / 16) = 0.05, SQNR 10 log10(400)
    assert j["rel_l2"] == pytest.approx(0.05, rel=1e-6)
    assert j["sqnr_db"] == pytest.approx(10 * math.log10(400), rel=1e-6)
    assert j["max_abs"] == pytest.approx(0.1, rel=1e-6)
    assert (j["n"], j["size"], j["nonfinite"]) == (4, 1, 0)
    assert not any(k.startswith("cosine") or k.startswith("top") for k in j)
    pe = J.per_example(ref + np.float32(0.1), ref, "small")
    np.testing.assert_allclose(pe["rel_error"], [0.05] * 4, rtol=1e-6)
    np.testing.assert_allclose(pe["score"], [0.95] * 4, rtol=1e-6)


def test_small_output_doubled_has_cosine_one_but_scores_zero():
    ref = np.full((3, 1), 2.0, np.float32)
    j = J.judge(2 * ref, ref)
    # a cosine of one value is always 1; the error is |4 - 2| / RMS 2 = 1.0 -> score 0
    assert j["rel_error"] == pytest.approx(1.0) and j["score"] == 0.0


def test_small_all_zero_reference_takes_the_error_in_its_own_units():
    ref = np.zeros((3, 1), np.float32)
    y = np.array([[0.1], [0.0], [0.2]], np.float32)
    j = J.judge(y, ref)
    # zeros lie in [0, 1]: a flag, judged in its own units: abs_error = mean(0.1, 0, 0.2) = 0.1
    assert j["metric"] == "abs_error" and j["abs_error"] == pytest.approx(0.1, rel=1e-6)
    assert j["score"] == pytest.approx(0.9, rel=1e-6)
    assert J.judge(ref, ref)["score"] == 1.0


def test_a_flag_near_zero_is_judged_in_probability_units():
    # facemesh's faceflag on a face-less input: 1e-8 in float32, 2e-8 quantized. Relative to its
    # RMS that is an error of 1.0 (broken); in probability units 1e-8 (nothing).
    ref = np.full((4, 1), 1e-8, np.float32)
    y = np.full((4, 1), 2e-8, np.float32)
    j = J.judge(y, ref)
    assert j["metric"] == "abs_error" and j["abs_error"] == pytest.approx(1e-8, rel=1e-3)
    assert j["score"] == pytest.approx(1.0, abs=1e-7)
    # A flag that flips from 0 to 1 is broken either way.
    flip = J.judge(np.ones((4, 1), np.float32), np.zeros((4, 1), np.float32))
    assert flip["abs_error"] == 1.0 and flip["score"] == 0.0


def test_small_score_clips_per_example_but_judge_uses_the_mean():
    ref = np.array([[2.0], [2.0], [2.0], [2.0]], np.float32)  # RMS 2, outside [0, 1]: rel_error
    y = np.array([[2.0], [2.0], [2.0], [8.0]], np.float32)
    # per example rel_error (0, 0, 0, 6/2 = 3): mean 0.75 -> judge score 0.25; per-example scores
    # (1, 1, 1, 0) have mean 0.75: the documented exception when clipping binds
    j, pe = J.judge(y, ref), J.per_example(y, ref, "small")
    assert j["rel_error"] == pytest.approx(0.75) and j["score"] == pytest.approx(0.25)
    np.testing.assert_allclose(pe["rel_error"], [0, 0, 0, 3])
    np.testing.assert_allclose(pe["score"], [1, 1, 1, 0])


# --- classes ----------------------------------------------------------------------------------

REF3 = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])
Y3 = np.array([[0.6, 0.3, 0.1], [0.1, 0.8, 0.1], [0.2, 0.5, 0.3], [0.5, 0.4, 0.1]])


def test_softmax_classes_top1_and_kl_by_hand():
    j = J.judge(Y3, REF3)
    assert (j["kind"], j["metric"]) == ("classes", "top1_agreement")
    # argmax ref (0, 1, 2, 0), y (0, 1, 1, 0): 3 of 4 agree
    assert j["value"] == j["top1_agreement"] == 0.75 and j["score"] == 0.75
    assert "top5_agreement" not in j  # 3 classes
    # KL(ref || y) per row, then the mean
    kl = [
        0.7 * math.log(0.7 / 0.6) + 0.2 * math.log(0.2 / 0.3),  # the 0.1s cancel
        0.0,
        0.3 * math.log(0.3 / 0.5) + 0.5 * math.log(0.5 / 0.3),
        0.6 * math.log(0.6 / 0.5) + 0.3 * math.log(0.3 / 0.4),
    ]
    assert j["kl_divergence"] == pytest.approx(sum(kl) / 4, rel=1e-9)  # 0.0380
    assert 0 < j["cosine_mean"] < 1
    pe = J.per_example(Y3, REF3, "classes")
    assert pe["top1_agreement"].tolist() == [True, True, False, True]
    assert pe["score"].tolist() == [1.0, 1.0, 0.0, 1.0]


def test_seven_classes_top5_agreement():
    ref = np.array([[0.4] + [0.1] * 6] * 2)
    y = np.array([[0.04] + [0.16] * 6, [0.4] + [0.1] * 6])
    # example 0: float32's class 0 is last of 7 in y -> not in top 1 nor top 5; example 1: same
    j = J.judge(y, ref)
    assert j["kind"] == "classes"
    assert j["top1_agreement"] == 0.5 and j["top5_agreement"] == 0.5


# --- embedding --------------------------------------------------------------------------------


def test_embedding_one_example_flipped():
    ref = np.arange(40, dtype=np.float32).reshape(4, 10) - 20
    y = ref.copy()
    y[2] *= -1
    j = J.judge(y, ref)
    # cosines (1, 1, -1, 1): mean 0.5, min -1; score = max(0, 0.5)
    assert (j["kind"], j["metric"]) == ("embedding", "cosine_mean")
    assert j["value"] == j["cosine_mean"] == pytest.approx(0.5)
    assert j["cosine_min"] == pytest.approx(-1.0)
    assert j["score"] == pytest.approx(0.5)
    assert "top1_agreement" not in j and "top5_agreement" not in j
    pe = J.per_example(y, ref, "embedding")
    np.testing.assert_allclose(pe["cosine_mean"], [1, 1, -1, 1])
    np.testing.assert_allclose(pe["score"], [1, 1, 0, 1])  # clipped: mean 0.75, documented


def test_embedding_cosine_by_hand_and_as_row_cosine():
    ref = np.zeros((3, 9))
    y = np.zeros((3, 9))
    ref[0, :2], y[0, :2] = (3, 4), (4, 3)  # (12 + 12) / 25 = 0.96
    ref[1, 0], y[1, :2] = 1, (1, 1)  # 1 / sqrt(2)
    # row 2: both all zero -> they agree (1.0), as tasks.row_cosine
    pe = J.per_example(y, ref, "embedding")
    np.testing.assert_allclose(pe["cosine_mean"], [0.96, 1 / math.sqrt(2), 1.0], rtol=1e-12)
    a, r = normal(5, 300).astype(np.float64), normal(5, 300).astype(np.float64)
    np.testing.assert_allclose(J.per_example(a, r, "embedding")["cosine_mean"], row_cosine(a, r), rtol=1e-12)


# --- map --------------------------------------------------------------------------------------


def test_mask_iou_with_known_pixel_flips():
    ref = np.full((2, 4, 4, 1), 0.1, np.float32)
    ref[0, :2, :2] = 0.9  # 4 mask pixels in example 0; example 1 is empty
    y = ref.copy()
    y[0, 0, 0] = 0.2  # one mask pixel lost
    y[0, 3, 3] = 0.8  # one pixel gained
    y[1] = 0.2  # still empty
    j = J.judge(y, ref, "map")
    # example 0: intersection 3, union 5 -> 0.6; example 1: both empty -> 1.0; mean 0.8
    # (the pooled IoU would be 3 / 5 = 0.6: one definition, the mean per example)
    assert j["mask_iou"] == pytest.approx(0.8)
    # The headline is the mean absolute error in probability units: example 0 changes 0.7 + 0.7
    # on 2 of 16 pixels -> 1.4 / 16; example 1 changes 0.1 on all 16 -> 0.1; mean 0.09375.
    assert j["metric"] == "abs_error" and j["value"] == pytest.approx((1.4 / 16 + 0.1) / 2, rel=1e-5)
    assert j["score"] == pytest.approx(1 - (1.4 / 16 + 0.1) / 2, rel=1e-5)
    # noise 0.7^2 + 0.7^2 + 16 * 0.1^2 = 1.14; signal 4 * 0.81 + 12 * 0.01 + 16 * 0.01 = 3.52
    assert j["rel_l2"] == pytest.approx(math.sqrt(1.14 / 3.52), rel=1e-5)
    assert j["sqnr_db"] == pytest.approx(10 * math.log10(3.52 / 1.14), rel=1e-5)
    assert j["max_abs"] == pytest.approx(0.7, rel=1e-6)
    pe = J.per_example(y, ref, "map")
    np.testing.assert_allclose(pe["abs_error"], [1.4 / 16, 0.1], rtol=1e-5)
    np.testing.assert_allclose(J.mask_iou(y.reshape(2, -1), ref.reshape(2, -1)), [0.6, 1.0])


def test_map_outside_unit_range_uses_pooled_rel_l2():
    ref = np.stack([np.full((3, 3), 2.0), np.full((3, 3), -1.0)])
    y = ref.copy()
    y[0, 0, 0] += 1  # example 0: noise 1, signal 9 * 4 = 36 -> rel_l2 1/6
    y[1, 0, 0] += 3  # example 1: noise 9, signal 9 -> rel_l2 1
    j = J.judge(y, ref, "map")
    # pooled: sqrt(10 / 45); score 1 - that
    assert (j["metric"], "mask_iou" in j) == ("rel_l2", False)
    assert j["value"] == j["rel_l2"] == pytest.approx(math.sqrt(10 / 45), rel=1e-12)
    assert j["score"] == pytest.approx(1 - math.sqrt(10 / 45), rel=1e-12)
    pe = J.per_example(y, ref, "map")
    np.testing.assert_allclose(pe["rel_l2"], [1 / 6, 1.0], rtol=1e-12)  # mean 0.583: documented
    np.testing.assert_allclose(pe["score"], [5 / 6, 0.0], rtol=1e-12, atol=1e-15)


# --- consistency, exact outputs, errors -------------------------------------------------------


@pytest.mark.parametrize(
    "ref",
    [unit(6, 1), softmax(normal(6, 10)), normal(6, 50), unit(3, 16, 16, 2), normal(3, 12, 12)],
)
def test_figures_match_error_stats_and_per_example_means(ref):
    y = (ref + 0.01 * normal(*ref.shape)).astype(np.float32)
    j, e = J.judge(y, ref), error_stats(y, ref)
    for key in ("max_abs", "rel_l2", "sqnr_db"):
        assert j[key] == pytest.approx(e[key], rel=1e-9)
    if j["kind"] == "small":
        assert j["mean_abs"] == pytest.approx(e["mean_abs"], rel=1e-9)
    pe = J.per_example(y, ref, j["kind"])
    assert set(pe) == {j["metric"], "score"} and all(len(v) == len(ref) for v in pe.values())
    if j["metric"] != "rel_l2":  # the pooled rel_l2 is the documented exception
        assert np.mean(pe[j["metric"]]) == pytest.approx(j["value"], rel=1e-12)
    same = J.judge(ref, ref)
    assert same["score"] == 1.0 and same["rel_l2"] == 0.0 and same["sqnr_db"] == math.inf


def test_bad_shapes_and_kinds():
    with pytest.raises(QuantlabError, match="differs"):
        J.judge(np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(QuantlabError, match="unknown output kind"):
        J.per_example(np.zeros((2, 3)), np.zeros((2, 3)), "boxes")


# --- NaN / Inf --------------------------------------------------------------------------------


def test_nan_in_y_scores_zero_with_no_made_up_figures():
    ref = normal(3, 20)
    y = ref.copy()
    y[1, 4] = np.nan
    y[1, 5] = np.inf
    j = J.judge(y, ref)
    assert (j["kind"], j["score"], j["value"], j["nonfinite"]) == ("embedding", 0.0, None, 2)
    assert j["cosine_mean"] is None and j["cosine_min"] is None and j["max_abs"] is None
    pe = J.per_example(y, ref, "embedding")
    assert np.isnan(pe["cosine_mean"][1]) and pe["cosine_mean"][[0, 2]] == pytest.approx([1, 1])
    assert pe["score"].tolist() == [0.0, 0.0, 0.0]  # broken as a whole, as judge says
    hits = J.per_example(np.array([[np.nan, 1.0], [0.2, 0.8]]), np.array([[0.4, 0.6], [0.3, 0.7]]), "classes")
    assert np.isnan(hits["top1_agreement"][0]) and hits["top1_agreement"][1] == 1.0


def test_nan_only_in_float32_is_unjudgeable():
    ref = np.array([[1.0], [np.nan]])
    j = J.judge(np.array([[1.0], [2.0]]), ref)
    assert (j["score"], j["value"], j["nonfinite"], j["nonfinite_reference"]) == (None, None, 0, 1)
    pe = J.per_example(np.array([[1.0], [2.0]]), ref, "small")
    assert np.all(np.isnan(pe["rel_error"])) and np.isnan(pe["score"][1])


# --- worst ------------------------------------------------------------------------------------


def test_worst_is_the_collapsed_embedding_of_faceres():
    gender = unit(4, 1)
    e0, e1 = np.eye(16)[0], np.eye(16)[1]
    emb_ref = np.stack([3 * e0] * 4)  # 3, not 1: a one-hot row would be a probability row
    emb_y = np.stack([0.2 * e0 + math.sqrt(0.96) * e1] * 4)  # cosine 0.2 on every example
    age = softmax(normal(4, 100))
    per_output = {
        "gender": J.judge(gender, gender),
        "embedding": J.judge(emb_y, emb_ref),
        "age": J.judge(age, age),
    }
    assert per_output["gender"]["score"] == 1.0 and per_output["age"]["score"] == 1.0
    assert per_output["embedding"]["score"] == pytest.approx(0.2)
    assert J.worst(per_output) == "embedding"
    assert J.worst(per_output, counted=["gender", "age"]) == "gender"  # tie: the first


def test_worst_nonfinite_always_loses_then_unscored():
    nan_y = J.judge(np.array([[np.nan], [1.0]]), np.array([[1.0], [1.0]]))
    assert nan_y["score"] == 0.0
    outs = {"a": {"score": 0.0, "nonfinite": 0}, "b": nan_y, "c": {"score": None, "nonfinite": 0}}
    assert J.worst(outs) == "b"
    assert J.worst({"a": {"score": 0.0, "nonfinite": 0}, "c": outs["c"]}) == "c"
    assert J.worst({"x": {"score": 0.5}, "y": {"score": 0.5}}) == "x"
    assert J.worst({"x": {"score": 0.1}, "y": {"score": 0.5}}, counted=["y"]) == "y"
    assert J.worst({}) is None and J.worst({"x": {"score": 1.0}}, counted=[]) is None


# --- losses and margins -----------------------------------------------------------------------


def delta(d, lo, hi, **kw):
    return {"delta": d, "ci": [lo, hi], "n": 500, "covers_zero": lo <= 0 <= hi, **kw}


def test_float16_cosine_change_is_within_the_margin_not_a_loss():
    d = delta(-0.0001, -0.00015, -0.00005)  # real (interval excludes 0) but 1e-4 < 1e-3
    assert not L.is_loss("cosine_mean", d)
    assert L.reading("cosine_mean", d) == "within the margin (±0.001)"


def test_top1_agreement_drop_is_a_loss():
    d = delta(-0.05, -0.08, -0.02)
    assert L.is_loss("top1_agreement", d)
    assert L.reading("top1_agreement", d) == "worse than float32"
    # McNemar's exact test has the last word: p 0.2 -> no measurable difference
    assert not L.is_loss("top1_agreement", {**d, "p_value": 0.2})
    assert L.reading("top1_agreement", {**d, "p_value": 0.2}) == "no measurable difference on 500 examples"
    # exactly the margin, give or take float steps: 0.02 - 0.03 = -0.009999999999999998
    assert L.is_loss("top1_agreement", delta(0.02 - 0.03, -0.015, -0.005))


def test_an_interval_covering_zero_is_never_a_loss():
    for metric in ("top1_agreement", "rel_l2", "mae", "foo"):
        d = delta(-0.5, -1.0, 0.1)
        assert not L.is_loss(metric, d) and not L.is_loss(metric, {**d, "delta": 0.5})
        assert L.reading(metric, d) == "no measurable difference on 500 examples"
    # covers_zero says so even where the ci does not: never a loss
    assert not L.is_loss("top1_agreement", {"delta": -0.5, "ci": [-0.6, -0.4], "covers_zero": True})
    assert not L.is_loss("top1_agreement", {"delta": -0.5, "ci": None})  # no interval: unproven
    assert L.reading("top1_agreement", {"delta": -0.5, "ci": None}) == "no measurable difference"


def test_lower_is_better_direction():
    up, down = delta(0.05, 0.03, 0.07), delta(-0.05, -0.07, -0.03)
    assert L.is_loss("rel_l2", up) and not L.is_loss("rel_l2", down)
    assert L.reading("rel_l2", down) == "better than float32"
    assert L.is_loss("kl_divergence", up) and L.is_loss("rel_error", up)
    assert not L.is_loss("top1_agreement", up) and L.reading("top1_agreement", up) == "better than float32"
    # mae has no default margin (0.0): the interval decides; mae_<unit> is lower-is-better too
    small_up = delta(0.001, 0.0005, 0.0015)
    assert L.is_loss("mae", small_up) and L.is_loss("mae_dollars", delta(100, 50, 150))
    assert not L.is_loss("mae_dollars", delta(-100, -150, -50))
    assert not L.is_loss("mae", small_up, {"mae": 0.01})
    assert L.reading("mae", small_up, {"mae": 0.01}) == "within the margin (±0.01)"
    assert L.is_loss("sqnr_db", delta(-1.5, -2, -1)) and not L.is_loss("sqnr_db", delta(-0.5, -0.7, -0.3))


def test_parse_min_effect():
    m = L.parse_min_effect(["cosine_mean=0.0005", "mae_dollars=500", "rel_l2 = 0.02"])
    assert m["cosine_mean"] == 0.0005 and m["mae_dollars"] == 500.0 and m["rel_l2"] == 0.02
    assert m["top1_agreement"] == L.DEFAULT_MIN_EFFECT["top1_agreement"]
    assert L.parse_min_effect([]) == L.DEFAULT_MIN_EFFECT
    for bad in ("cosine_mean", "foo=1", "=1", "mae_=1"):
        with pytest.raises(QuantlabError, match="top1_agreement") as e:  # names the valid metrics
            L.parse_min_effect([bad])
        assert e.value.exit_code == 2 and str(e.value).startswith(f"--min-effect {bad!r}: ")
    for bad in ("rel_l2=-0.1", "rel_l2=nan", "rel_l2=inf", "rel_l2=abc", "rel_l2="):
        with pytest.raises(QuantlabError, match="finite number >= 0") as e:
            L.parse_min_effect([bad])
        assert e.value.exit_code == 2


def test_default_min_effect_covers_every_headline_metric():
    for metric in ("top1_agreement", "cosine_mean", "rel_error", "mask_iou", "rel_l2", "score"):
        assert L.DEFAULT_MIN_EFFECT[metric] > 0
    assert J.LOWER_IS_BETTER >= {"rel_error", "rel_l2", "mae", "rmse", "kl_divergence"}
