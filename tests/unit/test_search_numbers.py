"""The mixed-precision search on toy oracles: the ranking against hand-computed damage per byte,
and the gallop/bisection by the exact sequence of rungs it probes."""

import logging
from types import SimpleNamespace

import pytest

from quantlab.analysis.search import (
    Ladder,
    RungProbe,
    lowest_passing,
    lowest_passing_at_or_below,
    search_order,
)
from quantlab.analysis.sweep import Point
from quantlab.infra.progress import log


def _only(errors: dict[str, float]) -> list[dict]:
    return [{"layer": la, "output_error_only_this_uint8": e} for la, e in errors.items()]


def test_search_order_ranks_by_noise_power_per_byte_from_sweep_a():
    # damage = error^2 per promoted element:
    #   a: 0.4^2 / 100 = 0.16 / 100 = 1.6e-3
    #   b: 0.1^2 / 20  = 0.01 / 20  = 5.0e-4
    #   c: 0.2^2 / 50  = 0.04 / 50  = 8.0e-4
    # -> a, c, b.  (Unsquared: a 4e-3, b 5e-3, c 4e-3 -> b, a, c; per layer, not per byte: a, c, b
    # too, so also check the bytes matter below.)
    rows = _only({"a": 0.4, "b": 0.1, "c": 0.2})
    assert search_order(["a", "b", "c"], rows, {"a": 100, "b": 20, "c": 50}, None) == ["a", "c", "b"]
    # Bytes decide: a 0.16 / 1000 = 1.6e-4 now ranks after c (8e-4) and b (5e-4): c, b, a.
    assert search_order(["a", "b", "c"], rows, {"a": 1000, "b": 20, "c": 50}, None) == ["c", "b", "a"]


def test_search_order_from_sweep_b_uses_noise_power_removed():
    # uint8_error 0.5 (power 0.25). damage = 0.25 - all_but^2, per element:
    #   a: all_but 0.3  -> 0.25 - 0.09   = 0.16   / 100 = 1.6e-3
    #   b: all_but 0.45 -> 0.25 - 0.2025 = 0.0475 / 10  = 4.75e-3
    #   c: all_but 0.0  -> 0.25                  / 200 = 1.25e-3
    # -> b, a, c.  (Unsquared, 0.5 - all_but: a 2e-3, b 5e-3, c 2.5e-3 -> b, c, a.)
    rows = [
        {"layer": "a", "output_error_all_but_this": 0.3},
        {"layer": "b", "output_error_all_but_this": 0.45},
        {"layer": "c", "output_error_all_but_this": 0.0},
    ]
    assert search_order(["a", "b", "c"], rows, {"a": 100, "b": 10, "c": 200}, 0.5) == ["b", "a", "c"]


def test_search_order_clamps_negative_damage_and_prefers_sweep_a():
    # d: keeping it float32 made things worse (0.6 > 0.5): damage clamped to 0, like e (no row).
    # Both 0 keep the model's order d, e (unclamped, d's -0.11 would sort it after e).
    rows = [
        {"layer": "a", "output_error_only_this_uint8": 0.1, "output_error_all_but_this": 0.0},
        {"layer": "d", "output_error_all_but_this": 0.6},
    ]
    # a from sweep (a): 0.01 / 1 (sweep (b) would say 0.25: same rank here, but see below)
    assert search_order(["d", "e", "a"], rows, {"a": 1, "d": 1, "e": 1}, 0.5) == ["a", "d", "e"]
    # sweep (a) wins over (b): x from (a) 0.1^2 = 0.01; y from (b) 0.25 - 0.4^2 = 0.09 -> y, x.
    # (Were x judged by its (b) figure 0.25 - 0 = 0.25 it would come first.)
    rows = [
        {"layer": "x", "output_error_only_this_uint8": 0.1, "output_error_all_but_this": 0.0},
        {"layer": "y", "output_error_all_but_this": 0.4},
    ]
    assert search_order(["x", "y"], rows, {"x": 1, "y": 1}, 0.5) == ["y", "x"]


def test_search_order_without_figures_keeps_model_order():
    assert search_order(["c", "a", "b"], [], {"a": 1}, None) == ["c", "a", "b"]
    # sweep (b) rows without the all-uint8 error give no damage either
    rows = [{"layer": "a", "output_error_all_but_this": 0.1}]
    assert search_order(["b", "a"], rows, {"a": 1, "b": 1}, None) == ["b", "a"]
    # one zero-error row among none: still nothing to rank by
    assert search_order(["b", "a"], _only({"a": 0.0}), {}, None) == ["b", "a"]


def test_search_order_missing_or_zero_size_counts_as_one_element():
    # a: 0.3^2 / 1 (size 0 -> 1) = 0.09; b: 0.2^2 / 1 (no size) = 0.04; c: 0.5^2 / 10 = 0.025
    rows = _only({"a": 0.3, "b": 0.2, "c": 0.5})
    assert search_order(["c", "b", "a"], rows, {"a": 0, "c": 10}, None) == ["a", "b", "c"]


class Oracle:
    """Rung k passes when k >= threshold (monotone); records the rungs asked, in order."""

    def __init__(self, threshold):
        self.threshold, self.asked = threshold, []

    def __call__(self, k: int) -> bool:
        self.asked.append(k)
        return self.threshold is not None and k >= self.threshold


@pytest.mark.parametrize(
    "failing,top,threshold,expected,probes",
    [
        # gallop from 0 by steps 1, 2, 4, 8: rungs 1, 3, 7, 15 (15 passes); bisect (7, 15]:
        # mid 11 passes, mid 9 fails, mid 10 passes -> 10
        (0, 100, 10, 10, [1, 3, 7, 15, 11, 9, 10]),
        # the first step passes: nothing to bisect
        (0, 100, 1, 1, [1]),
        # 1, 3, 7, 15, 31 (passes); bisect (15, 31]: 23 p, 19 f, 21 f, 22 p -> 22
        (0, 100, 22, 22, [1, 3, 7, 15, 31, 23, 19, 21, 22]),
        # the gallop is capped at the top rung: 1, 3, 7, then min(12, 15) = 12 passes;
        # bisect (7, 12]: 9 f, 10 f, 11 p -> 11
        (0, 12, 11, 11, [1, 3, 7, 12, 9, 10, 11]),
        # from a failing rung 5: 6 fails, 8 passes; bisect (6, 8]: 7 passes -> 7
        (5, 20, 7, 7, [6, 8, 7]),
        # nothing passes: 1, 3, 5 (capped), then None
        (0, 5, None, None, [1, 3, 5]),
        # the failing rung is the top: nothing to probe
        (5, 5, 1, None, []),
    ],
)
def test_lowest_passing_gallops_then_bisects(failing, top, threshold, expected, probes):
    oracle = Oracle(threshold)
    assert lowest_passing(oracle, failing, top) == expected
    assert oracle.asked == probes


@pytest.mark.parametrize(
    "passing,threshold,expected,probes",
    [
        # bisect (-1, 8]: mid 3 passes, mid 1 fails, mid 2 fails -> 3
        (8, 3, 3, [3, 1, 2]),
        # bisect (-1, 8]: 3, 1, 0 all pass -> 0
        (8, 0, 0, [3, 1, 0]),
        # bisect (-1, 8]: 3 f, 5 f, 6 f, 7 f -> 8
        (8, 8, 8, [3, 5, 6, 7]),
        # rung 0 known to pass: bisect (-1, 0] asks nothing
        (0, 0, 0, []),
    ],
)
def test_lowest_passing_at_or_below_bisects(passing, threshold, expected, probes):
    oracle = Oracle(threshold)
    assert lowest_passing_at_or_below(oracle, passing) == expected
    assert oracle.asked == probes


def test_gallop_needs_logarithmically_many_probes():
    # 1000 rungs, answer 700: gallop 1, 3, 7, ..., 511, 1000 (10 probes), bisect (511, 1000]: 9 more
    oracle = Oracle(700)
    assert lowest_passing(oracle, 0, 1000) == 700
    assert len(oracle.asked) == 19 and oracle.asked[:10] == [1, 3, 7, 15, 31, 63, 127, 255, 511, 1000]


LAYERS = {"a": ["a/kernel", "a/bias"], "b": ["b/kernel"], "c": ["c/gamma"]}


def _ladder():
    start = {"a": "uint8", "b": "uint8", "c": "uint8"}
    return Ladder(start, ["b", "c", "a"], {"a": "uint16", "b": "uint16", "c": "float16"}, LAYERS, "uint8")


def test_ladder_rungs():
    ladder = _ladder()
    assert ladder.top == 3
    assert ladder.assignment(0) == {"a": "uint8", "b": "uint8", "c": "uint8"}
    assert ladder.assignment(2) == {"a": "uint8", "b": "uint16", "c": "float16"}
    assert ladder.label(0) == "uint8"
    assert ladder.label(2) == "uint8 + 2 promoted (last c float16)"
    # uint8 patterns for the rest; no float32 left, so uint8 is the fallthrough (True)
    assert ladder.dtype_map(1) == {"uint8": True, "uint16": ["b/*"]}
    assert ladder.dtype_map(3) == {"uint16": ["a/*", "b/*"], "float16": ["c/*"]}


class FakeSweep:
    """Sweep.measure without a model: drop falls by 0.01 per promoted layer from 0.03."""

    def __init__(self):
        self.probe = SimpleNamespace(n=200, name="accuracy")
        self.measured: list[str] = []

    def measure(self, label, dtype_map):
        self.measured.append(label)
        k = 0 if "promoted" not in label else int(label.split(" + ")[1].split()[0])
        return Point(label, dtype_map, 1000 + 100 * k, 0.9 - 0.03 + 0.01 * k, 0.03 - 0.01 * k, 0.1)


def test_rung_probe_measures_each_rung_once_and_judges_the_budget():
    sweep = FakeSweep()
    probe = RungProbe(sweep, _ladder(), max_drop=0.01)
    # drops: rung 0 0.03, 1 0.02, 2 0.01 (within, also with float noise), 3 0.0
    assert [probe.passes(k) for k in (0, 1, 2, 3, 2, 1)] == [False, False, True, True, True, False]
    assert sweep.measured == [
        "uint8",
        "uint8 + 1 promoted (last b uint16)",
        "uint8 + 2 promoted (last c float16)",
        "uint8 + 3 promoted (last a uint16)",
    ]
    assert probe.point(2).extra == {"rung": 2, "promoted": ["b", "c"]}
    # a known point is not measured again
    known = Point("start", {}, 1, 0.9, 0.0, 0.0)
    assert RungProbe(sweep, _ladder(), 0.01, {0: known}).point(0) is known and len(sweep.measured) == 4
    # the whole search on the fake: lowest passing rung from 0 is 2
    assert lowest_passing(probe.passes, 0, 3) == 2


class RecordingSweep(FakeSweep):
    def __init__(self):
        super().__init__()
        self.maps: list[dict] = []

    def measure(self, label, dtype_map):
        self.maps.append(dtype_map)
        return super().measure(label, dtype_map)


class _Lines(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def test_rung_probe_measures_the_rungs_map_and_logs_it():
    sweep = RecordingSweep()
    probe = RungProbe(sweep, _ladder(), max_drop=0.01)
    handler, old_level = _Lines(), log.level
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        probe.point(1)
    finally:
        log.removeHandler(handler)
        log.setLevel(old_level)
    assert sweep.maps == [{"uint8": True, "uint16": ["b/*"]}]
    # rung 1 of 3 on the probe's 200 examples: metric 0.9 - 0.03 + 0.01 = 0.88, drop 0.02, 1100 bytes
    assert handler.lines == ["rung 1/3 on 200 examples: accuracy 0.8800 (drop +0.0200), 1100 bytes"]
