"""The mixed-precision search: rank layers by how much damage per byte their uint8 weights do,
then find how far down that ranking the 2-byte promotions must go to meet the budget.

Rung k of the ladder is the start point (all-uint8, or uint8 with BatchNorm in float16) with the
first k ranked layers promoted to uint16/float16. Bytes grow with k, so the smallest artifact
within budget is the lowest passing rung; it is found by galloping then bisecting (assuming the
drop shrinks going up, which holds up to probe noise) on the subset. The held-out split (with
`--holdout 0`, the full set) then judges: it re-checks that rung and, from there, bisects down
when it passes or gallops up when it fails, so the subset only brackets the answer (on 200
images a budget of 0.01 is two images), and the examples that judge are ones the search never
saw."""

from __future__ import annotations

from collections.abc import Callable

from ..infra.progress import log
from ..metrics import within_budget
from .sweep import Point, Sweep, dtype_map_for


def search_order(
    candidates: list[str], rows: list[dict], sizes: dict[str, int], uint8_error: float | None
) -> list[str]:
    """Candidate layers, most damage per promoted byte first. Damage is output-noise power
    (output error squared, roughly additive over layers): from sweep (a) when it ran (the noise a
    layer adds alone), else from sweep (b) (the noise that keeping the layer float32 removes from
    all-uint8's `uint8_error`), else the model's layer order."""
    by_layer = {r["layer"]: r for r in rows}

    def damage(layer: str) -> float:
        row = by_layer.get(layer, {})
        if row.get("output_error_only_this_uint8") is not None:
            return row["output_error_only_this_uint8"] ** 2
        if row.get("output_error_all_but_this") is not None and uint8_error is not None:
            return max(0.0, uint8_error**2 - row["output_error_all_but_this"] ** 2)
        return 0.0

    if not any(damage(la) for la in candidates):
        return list(candidates)
    return sorted(candidates, key=lambda la: -damage(la) / max(1, sizes.get(la, 1)))


class Ladder:
    """Rung k: `start` with the first k layers of `order` promoted to their 2-byte dtype."""

    def __init__(self, start: dict[str, str], order: list[str], promote: dict[str, str], layers, label: str):
        self.start, self.order, self.promote, self.layers = start, order, promote, layers
        self.start_label = label
        self.top = len(order)

    def assignment(self, k: int) -> dict[str, str]:
        return self.start | {la: self.promote[la] for la in self.order[:k]}

    def dtype_map(self, k: int) -> dict:
        return dtype_map_for(self.assignment(k), self.layers)

    def label(self, k: int) -> str:
        if k == 0:
            return self.start_label
        last = self.order[k - 1]
        return f"{self.start_label} + {k} promoted (last {last} {self.promote[last]})"


def judged_drop(point: Point, conservative: bool = False) -> float:
    """The drop a budget is judged on: the point's own, or (conservative) the upper end of its
    paired interval where it has one."""
    if conservative and point.drop_ci is not None:
        return point.drop_ci[1]
    return point.drop


class RungProbe:
    """Measures ladder rungs on one sweep, once each, and says whether a rung is within budget
    (`conservative`: the upper end of the drop's interval within budget)."""

    def __init__(
        self,
        sweep: Sweep,
        ladder: Ladder,
        max_drop: float,
        known: dict[int, Point] | None = None,
        conservative: bool = False,
    ):
        self.sweep, self.ladder, self.max_drop = sweep, ladder, max_drop
        self.points: dict[int, Point] = dict(known or {})
        self.conservative = conservative

    def point(self, k: int) -> Point:
        if k not in self.points:
            p = self.sweep.measure(self.ladder.label(k), self.ladder.dtype_map(k))
            p.extra["rung"] = k
            p.extra["promoted"] = self.ladder.order[:k]
            self.points[k] = p
            log.info(
                "rung %d/%d on %d examples: %s %.4f (drop %+.4f), %d bytes",
                k, self.ladder.top, self.sweep.probe.n, self.sweep.probe.name, p.metric, p.drop,
                p.weight_bytes,
            )  # fmt: skip
        return self.points[k]

    def passes(self, k: int) -> bool:
        return self.within(self.point(k))

    def within(self, point: Point) -> bool:
        return within_budget(judged_drop(point, self.conservative), self.max_drop)


def choose_rung(on_search: RungProbe, on_holdout: RungProbe, top: int) -> tuple[int | None, int | None]:
    """(search rung, answer rung). The search split only brackets the answer: its lowest passing
    rung is re-checked on the held-out split, which then decides, down from there when it passes,
    on up the ladder when the search split was too optimistic. None: nothing passes there."""
    search_rung = 0 if on_search.passes(0) else lowest_passing(on_search.passes, 0, top)
    if search_rung is None:
        return None, None
    if on_holdout.passes(search_rung):
        return search_rung, lowest_passing_at_or_below(on_holdout.passes, search_rung)
    return search_rung, lowest_passing(on_holdout.passes, search_rung, top)


def lowest_passing(passes: Callable[[int], bool], failing: int, top: int) -> int | None:
    """The lowest rung above `failing` (known to fail) that passes, galloping up (1, 2, 4, ...)
    then bisecting; None when the top rung fails too."""
    lo, step = failing, 1
    while lo < top:
        hi = min(top, lo + step)
        if passes(hi):
            return _bisect(passes, lo, hi)
        lo, step = hi, step * 2
    return None


def lowest_passing_at_or_below(passes: Callable[[int], bool], passing: int) -> int:
    """The lowest rung in [0, passing] that passes, given that `passing` does, by bisection."""
    return _bisect(passes, -1, passing)


def _bisect(passes: Callable[[int], bool], lo: int, hi: int) -> int:
    """`lo` fails (-1: below the ladder), `hi` passes; narrows to the lowest passing rung."""
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if passes(mid):
            hi = mid
        else:
            lo = mid
    return hi
