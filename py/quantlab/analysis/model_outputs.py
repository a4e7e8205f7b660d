"""Every output of a model judged against float32's, and the variant's headline: its worst output.

An output's kind is decided once, from the float32 reference (quantlab.judge); each variant's
output then gets its kind's headline metric with an interval, a paired delta against float32
and whether that delta is a real loss (interval excludes zero and the change exceeds the
practical margin, --min-effect). `--output NAME` picks which outputs count for the headline and
for tune; the others are still judged and shown."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import judge, loss, stats
from ..errors import QuantlabError

WORST_SCORE = "worst_output_score"  # the fidelity headline: the lowest output score, in [0, 1]


def output_names(described: list[dict], n: int) -> list[str]:
    """The model's output names (as the runtime reports them), or output_k when it names none."""
    names = [o.get("name") for o in described or []]
    return (
        names
        if len(names) == n and all(names) and len(set(names)) == n
        else [f"output_{k}" for k in range(n)]
    )


def counted_outputs(names: list[str], chosen: list[str] | None) -> list[str]:
    """--output NAME (repeatable): which outputs count; every one when none is given. An unknown
    name is a usage error listing the model's outputs (exit 2)."""
    if not chosen:
        return list(names)
    unknown = [c for c in chosen if c not in names]
    if unknown:
        raise QuantlabError(
            f"--output {unknown[0]}: the model has no output of that name; its outputs: {', '.join(names)}",
            exit_code=2,
        )
    return [n for n in names if n in chosen]


@dataclass
class OutputJudge:
    """Judges every variant's outputs against the float32 reference's, kind by kind."""

    names: list[str]
    reference: list[np.ndarray]
    counted: list[str]
    min_effect: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.kinds = {n: judge.output_kind(r) for n, r in zip(self.names, self.reference, strict=True)}
        self._ref_scores = {
            n: judge.per_example(r, r, self.kinds[n]) for n, r in zip(self.names, self.reference, strict=True)
        }

    def describe(self) -> dict:
        return {"output_kinds": self.kinds, "counted_outputs": self.counted, "min_effect": self.min_effect}

    def judge(self, outputs: list[np.ndarray], is_reference: bool = False) -> tuple[dict, str | None, dict]:
        """(per-output records, the worst counted output's name, per-example arrays for the row's
        intervals: the worst output's score under WORST_SCORE)."""
        per_output: dict[str, dict] = {}
        per_example: dict[str, dict[str, np.ndarray]] = {}
        for name, y, ref in zip(self.names, outputs, self.reference, strict=True):
            kind = self.kinds[name]
            rec = judge.judge(y, ref, kind)
            pe = judge.per_example(y, ref, kind)
            per_example[name] = pe
            metric = rec["metric"]
            values = pe.get(metric)
            rec["interval"] = stats.interval(metric, values)[0] if values is not None else None
            rec["delta"] = None
            if not is_reference and values is not None:
                rec["delta"] = stats.paired_delta(metric, values, self._ref_scores[name][metric])
            rec["loss"] = bool(rec["delta"] and loss.is_loss(metric, rec["delta"], self.min_effect))
            rec["counted"] = name in self.counted
            per_output[name] = rec
        worst = judge.worst(per_output, self.counted)
        scores = {WORST_SCORE: per_example[worst]["score"]} if worst is not None else {}
        return per_output, worst, scores

    def reference_scores(self) -> dict[str, np.ndarray]:
        """float32's own per-example worst score (all ones): the other side of the row's delta."""
        return {WORST_SCORE: np.ones(len(self.reference[0]))}

    def judge_scores(self, outputs: list[np.ndarray]) -> tuple[float, np.ndarray]:
        """(the worst counted output's mean score, its per-example scores): tune's objective,
        without intervals (fast)."""
        best: tuple[float, np.ndarray] | None = None
        for name, y, ref in zip(self.names, outputs, self.reference, strict=True):
            if name not in self.counted:
                continue
            pe = judge.per_example(y, ref, self.kinds[name])["score"]
            s = float(np.mean(pe)) if np.all(np.isfinite(pe)) else 0.0
            if best is None or s < best[0]:
                best = (s, pe)
        assert best is not None
        return best


def headline(per_output: dict, worst: str | None) -> dict:
    """The row's headline: the worst counted output and its figure."""
    if worst is None:
        return {}
    rec = per_output[worst]
    return {
        "output": worst,
        "kind": rec["kind"],
        "metric": rec["metric"],
        "value": rec["value"],
        "score": rec["score"],
        "interval": rec.get("interval"),
    }
