"""Intervals and paired differences: coverage by seeded simulation, McNemar and paired deltas on
hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from quantlab.stats import (
    format_interval,
    interval,
    intervals,
    is_proportion,
    mcnemar,
    no_difference_text,
    paired_delta,
    paired_deltas,
    uncertainty,
    wilson,
)


def test_wilson_interval_for_a_proportion_covers_the_truth_about_95_percent():
    rng = np.random.default_rng(11)
    p, n, trials = 0.3, 120, 400
    covered = 0
    for _ in range(trials):
        hits = rng.random(n) < p
        (lo, hi), method = interval("accuracy", hits)
        assert method == "wilson"
        covered += lo <= p <= hi
    assert 0.92 <= covered / trials <= 0.98


def test_bootstrap_interval_for_a_mean_covers_the_truth_about_95_percent():
    rng = np.random.default_rng(12)
    mu, n, trials = 2.0, 80, 400
    covered = 0
    for t in range(trials):
        x = rng.normal(mu, 1.5, n)
        (lo, hi), method = interval("mae", x, resamples=1000, seed=t)
        assert method == "bootstrap"
        covered += lo <= mu <= hi
    assert 0.92 <= covered / trials <= 0.98


def test_wilson_by_hand():
    # 8 of 10, z = 1.959964: centre (8 + z^2/2) / (10 + z^2), half-width z sqrt(8*2/10 + z^2/4) / (10 + z^2)
    z = 1.959963984540054
    centre = (8 + z * z / 2) / (10 + z * z)
    half = z * math.sqrt(8 * 2 / 10 + z * z / 4) / (10 + z * z)
    lo, hi = wilson(8, 10)
    assert lo == pytest.approx(centre - half, abs=1e-9) and hi == pytest.approx(centre + half, abs=1e-9)


def test_rmse_interval_brackets_sqrt_of_the_mean_squared_error():
    sq = np.random.default_rng(3).exponential(4.0, 300)
    (lo, hi), _ = interval("rmse", sq)
    assert lo < math.sqrt(sq.mean()) < hi
    (mlo, mhi), _ = interval("other", sq)  # the default statistic is the mean, not its root
    assert mlo < sq.mean() < mhi and mhi > hi


def test_constant_and_nonfinite_vectors():
    assert interval("cosine_mean", np.ones(50)) == ([1.0, 1.0], "bootstrap")  # floats: not a proportion
    assert interval("mae", np.array([1.0, np.nan])) == (None, "bootstrap")
    assert interval("accuracy", np.zeros(0, bool)) == (None, "wilson")
    assert is_proportion(np.array([0, 1, 1])) and not is_proportion(np.array([0.0, 1.0]))
    assert not is_proportion(np.array([0, 2]))


def test_intervals_record_the_method_level_and_resamples():
    out = intervals({"accuracy": np.array([True, False, True, True]), "mae": np.array([0.5, 1.0, 0.2, 0.4])})
    assert set(out["intervals"]) == {"accuracy", "mae"}
    m = out["interval_method"]
    assert m["methods"] == {"accuracy": "wilson", "mae": "bootstrap"}
    assert (m["level"], m["n"], m["resamples"], m["seed"]) == (0.95, 4, 2000, 0)
    # seeded: the same call gives the same interval
    again = intervals({"mae": np.array([0.5, 1.0, 0.2, 0.4])})
    assert again["intervals"]["mae"] == out["intervals"]["mae"]


def test_mcnemar_exact_by_hand():
    # b = 1 gained, c = 6 lost: p = 2 * (C(7,0) + C(7,1)) / 2^7 = 2 * 8 / 128 = 0.125
    ref = np.array([0] * 1 + [1] * 6 + [1] * 5 + [0] * 3, bool)
    var = np.array([1] * 1 + [0] * 6 + [1] * 5 + [0] * 3, bool)
    out = mcnemar(var, ref)
    assert out["flips"] == {"gained": 1, "lost": 6}
    assert out["p_value"] == pytest.approx(0.125)
    # b = 0, c = 5: p = 2 * 1 / 32 = 0.0625
    assert mcnemar(np.zeros(5, bool), np.ones(5, bool))["p_value"] == pytest.approx(0.0625)
    # no discordant pair: p = 1
    assert mcnemar(np.ones(4, bool), np.ones(4, bool)) == {"p_value": 1.0, "flips": {"gained": 0, "lost": 0}}
    # b = c = 3: p = 2 * (1 + 6 + 15 + 20) / 64 = 84 / 64 -> capped at 1
    assert mcnemar(np.array([1, 1, 1, 0, 0, 0], bool), np.array([0, 0, 0, 1, 1, 1], bool))["p_value"] == 1.0


def test_paired_delta_identical_vectors_is_zero_with_a_zero_interval():
    x = np.random.default_rng(0).random(100)
    d = paired_delta("mae", x, x.copy())
    assert d["delta"] == 0.0 and d["ci"] == [0.0, 0.0] and d["covers_zero"]
    assert d["test"] == "paired-bootstrap" and d["p_value"] is None
    hits = x > 0.5
    d = paired_delta("accuracy", hits, hits.copy())
    assert d["ci"] == [0.0, 0.0] and d["test"] == "mcnemar-exact" and d["flips"] == {"gained": 0, "lost": 0}
    assert no_difference_text(d) == "no measurable difference on 100 examples"


def test_paired_delta_of_a_constant_shift_is_the_shift_exactly():
    x = np.random.default_rng(1).random(200)
    d = paired_delta("mae", x + 0.25, x)
    assert d["delta"] == pytest.approx(0.25)
    assert d["ci"] == pytest.approx([0.25, 0.25]) and not d["covers_zero"]
    assert no_difference_text(d) is None


def test_paired_delta_interval_matches_a_hand_computed_paired_bootstrap():
    # The paired bootstrap of the mean difference is the bootstrap of the differences' mean: its
    # percentile interval must be close to mean(d) -+ 1.96 sd(d) / sqrt(n) for n = 400.
    rng = np.random.default_rng(5)
    ref = rng.normal(1.0, 1.0, 400)
    var = ref + rng.normal(0.1, 0.5, 400)
    d = paired_delta("mae", var, ref, resamples=4000)
    diffs = var - ref
    half = 1.959964 * diffs.std(ddof=1) / math.sqrt(len(diffs))
    assert d["delta"] == pytest.approx(diffs.mean())
    assert d["ci"][0] == pytest.approx(diffs.mean() - half, abs=0.1 * half)
    assert d["ci"][1] == pytest.approx(diffs.mean() + half, abs=0.1 * half)
    # unpaired, the interval would be ~2x wider (sd of var and ref ~1 each vs 0.5 for the difference)
    assert d["ci"][1] - d["ci"][0] < 0.7 * 2 * 1.96 * math.sqrt(2 / 400)


def test_paired_deltas_for_accuracy_counts_the_flips_and_keeps_sign():
    ref = np.array([1] * 90 + [0] * 10, bool)
    var = ref.copy()
    var[:7] = False  # 7 lost
    var[95] = True  # 1 gained
    d = paired_deltas({"accuracy": var, "extra": var}, {"accuracy": ref})
    assert set(d) == {"accuracy"}
    a = d["accuracy"]
    assert a["delta"] == pytest.approx(-0.06) and a["flips"] == {"gained": 1, "lost": 7}
    assert a["p_value"] == pytest.approx(2 * 9 / 256)  # b=1, c=7: 2 * (1 + 8) / 2^8
    assert a["ci"][0] < -0.06 < a["ci"][1] < 0


def test_paired_delta_of_mismatched_or_nonfinite_vectors_is_left_out():
    assert paired_delta("mae", np.ones(3), np.ones(4)) is None
    assert paired_delta("mae", np.array([1.0, np.inf]), np.ones(2)) is None


def test_uncertainty_adds_deltas_only_given_a_reference():
    per = {"accuracy": np.array([True, True, False, True])}
    assert set(uncertainty(per)) == {"intervals", "interval_method"}
    assert set(uncertainty(per, per)) == {"intervals", "interval_method", "deltas"}


def test_format_interval():
    assert format_interval(0.9226, 0.9174, 0.9278) == "0.9226 ±0.0052"
    assert format_interval(0.9226, 0.9173, 0.9277) == "0.9226 [0.9173, 0.9277]"
    assert format_interval(0.5, None, None) == "0.5000"
    assert format_interval(None, 0.1, 0.2) == "–"
    # a narrow interval gets more digits: half-width 2.5e-6 -> 7 decimals
    assert format_interval(0.9999950, 0.9999925, 0.9999975) == "0.9999950 ±0.0000025"


def test_few_discordant_pairs_are_no_measurable_difference_even_if_the_bootstrap_says_so():
    # 3 examples gained, none lost, out of 1000: McNemar's exact p = 2 * 0.5**3 = 0.25
    reference = np.zeros(1000, bool)
    variant = reference.copy()
    variant[:3] = True
    d = paired_delta("accuracy", variant, reference)
    assert d["p_value"] == pytest.approx(0.25) and d["flips"] == {"gained": 3, "lost": 0}
    assert d["covers_zero"] is True
