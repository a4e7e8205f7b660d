"""tune's held-out split: how it is drawn, and that the held-out split, not the search split,
decides (with --conservative, the upper end of the drop's interval)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from quantlab.analysis.search import Ladder, RungProbe, choose_rung, judged_drop
from quantlab.analysis.splits import holdout_split
from quantlab.analysis.sweep import Point, Probe
from quantlab.analysis.tune import judged
from quantlab.errors import QuantlabError


def test_holdout_split_is_stratified_seeded_and_disjoint():
    labels = np.repeat(np.arange(4), [10, 20, 30, 40])
    search, held, rec = holdout_split(len(labels), 0.5, seed=3, labels=labels)
    assert len(np.intersect1d(search, held)) == 0 and len(search) + len(held) == 100
    # each class contributes half of its examples
    assert [int(np.sum(labels[held] == c)) for c in range(4)] == [5, 10, 15, 20]
    assert rec == {
        "fraction": 0.5,
        "seed": 3,
        "n": 100,
        "stratified_by": "label",
        "search_n": 50,
        "holdout_n": 50,
    }
    again, held2, _ = holdout_split(len(labels), 0.5, seed=3, labels=labels)
    assert np.array_equal(held, held2)
    _, other, _ = holdout_split(len(labels), 0.5, seed=4, labels=labels)
    assert not np.array_equal(held, other)


def test_holdout_split_without_labels_and_by_whole_groups():
    search, held, rec = holdout_split(10, 0.3, seed=0)
    assert len(held) == 3 and len(search) == 7 and rec["stratified_by"] is None
    wnids = np.repeat(np.array(["a", "b", "c", "d"]), 5)
    search, held, rec = holdout_split(20, 0.5, seed=0, labels=wnids, groups=True)
    # whole synsets: 2 of 4 classes held out, each with all 5 images
    assert sorted(set(wnids[held])) != sorted(set(wnids[search]))
    assert not set(wnids[held]) & set(wnids[search]) and len(held) == 10
    # fraction 0: nothing held out, the full set judges (the old behaviour)
    search, held, rec = holdout_split(5, 0.0)
    assert np.array_equal(search, held) and rec["stratified_by"] is None
    with pytest.raises(QuantlabError, match="empty split"):
        holdout_split(3, 0.01)


def test_drop_interval_from_the_paired_delta():
    higher = Probe("accuracy", True, lambda: [], lambda out: 0.0, 10)
    lower = Probe("mae", False, lambda: [], lambda out: 0.0, 10)
    # accuracy: delta (variant - float32) in [-0.03, -0.01] is a drop in [0.01, 0.03]
    assert higher.drop_interval([-0.03, -0.01], 0.9, False) == pytest.approx([0.01, 0.03])
    assert higher.drop_interval([-0.03, -0.01], 0.5, True) == pytest.approx([0.02, 0.06])
    # mae: a delta is the drop itself
    assert lower.drop_interval([-0.01, 0.02], 0.3, False) == [-0.01, 0.02]


class ScriptedSweep:
    """Sweep.measure from a table: rung k -> (drop, drop_ci)."""

    def __init__(self, drops: dict[int, tuple[float, list[float] | None]], n: int):
        self.probe = SimpleNamespace(n=n, name="accuracy")
        self.drops, self.measured = drops, []

    def measure(self, label, dtype_map):
        k = 0 if "promoted" not in label else int(label.split(" + ")[1].split()[0])
        self.measured.append(k)
        drop, ci = self.drops[k]
        return Point(label, dtype_map, 1000 + 100 * k, 0.9 - drop, drop, 0.1, drop_ci=ci)


LAYERS = {"a": ["a/kernel"], "b": ["b/kernel"], "c": ["c/kernel"]}


def _ladder():
    start = {"a": "uint8", "b": "uint8", "c": "uint8"}
    return Ladder(start, ["a", "b", "c"], {"a": "uint16", "b": "uint16", "c": "uint16"}, LAYERS, "uint8")


def test_a_candidate_within_budget_on_the_search_split_but_not_held_out_is_rejected():
    # the search split says uint8 (rung 0) is within a budget of 0.01; held out it drops 0.02,
    # rung 1 0.015, rung 2 0.005: the answer is rung 2, not the search split's rung 0
    search = ScriptedSweep({0: (0.005, None), 1: (0.0, None), 2: (0.0, None), 3: (0.0, None)}, 200)
    held = ScriptedSweep({0: (0.02, None), 1: (0.015, None), 2: (0.005, None), 3: (0.0, None)}, 5000)
    ladder = _ladder()
    search_rung, rung = choose_rung(
        RungProbe(search, ladder, 0.01), RungProbe(held, ladder, 0.01), ladder.top
    )
    assert (search_rung, rung) == (0, 2)
    assert search.measured == [0] and held.measured == [0, 1, 3, 2]  # gallop 1, 3; bisect: 2
    # nothing passes held out: rejected outright, whatever the search split said
    held = ScriptedSweep({k: (0.02, None) for k in range(4)}, 5000)
    assert choose_rung(RungProbe(search, ladder, 0.01), RungProbe(held, ladder, 0.01), ladder.top) == (
        0,
        None,
    )


def test_the_held_out_split_can_also_bring_the_answer_down():
    search = ScriptedSweep({0: (0.03, None), 1: (0.02, None), 2: (0.02, None), 3: (0.0, None)}, 200)
    held = ScriptedSweep({0: (0.005, None), 1: (0.0, None), 2: (0.0, None), 3: (0.0, None)}, 5000)
    ladder = _ladder()
    assert choose_rung(RungProbe(search, ladder, 0.01), RungProbe(held, ladder, 0.01), ladder.top) == (3, 0)


def test_conservative_judges_the_upper_end_of_the_drops_interval():
    # held out: rung 0 drops 0.008 (within 0.01) but its interval reaches 0.014; rung 1 drops
    # 0.004 in [0.001, 0.009]
    drops = {0: (0.008, [0.002, 0.014]), 1: (0.004, [0.001, 0.009]), 2: (0.0, [0.0, 0.0]), 3: (0.0, None)}
    search = ScriptedSweep({k: (0.0, None) for k in range(4)}, 200)
    ladder = _ladder()
    plain = RungProbe(ScriptedSweep(drops, 5000), ladder, 0.01)
    assert choose_rung(RungProbe(search, ladder, 0.01), plain, ladder.top) == (0, 0)
    strict = RungProbe(ScriptedSweep(drops, 5000), ladder, 0.01, conservative=True)
    assert choose_rung(RungProbe(search, ladder, 0.01), strict, ladder.top) == (0, 1)
    p = strict.point(0)
    assert judged_drop(p) == 0.008 and judged_drop(p, conservative=True) == 0.014
    assert (
        judged(p, True)["judged_drop"] == 0.014
        and judged(p, True)["judged_on"] == "upper end of the interval"
    )
    assert judged(p, False)["judged_drop"] == 0.008 and judged(None, True) is None
    # a point without an interval is judged on its drop even when conservative
    assert judged_drop(Point("x", {}, 1, 0.9, 0.003, 0.0), conservative=True) == 0.003
