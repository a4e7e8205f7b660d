"""The one road from what a runtime measured to a results record, for every producer (a demo's
evaluate, MobileNetV2's, a demo's LiteRT rows, `analyze MODEL`): each variant scored by the
producer's own rule, its row, the intervals and paired deltas against float32, and the record's
envelope (environment, command, time). A producer says only what is its own: how an output is
scored and what the record says about its data and model."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable

import numpy as np

from ..infra.environment import environment
from ..infra.progress import log
from ..results import created_now
from ..stats import uncertainty
from .evaluate import Measured
from .variant_row import variant_row

REFERENCE = "float32"

# outputs -> (metrics, per-example scores): the figures of one variant and what their intervals
# and paired deltas are computed from
Scorer = Callable[[list[np.ndarray]], tuple[dict, dict]]
# (variant, what was measured, its metrics) -> its row (variant_row.variant_row or litert_row)
RowMaker = Callable[[str, Measured, dict], dict]


def tfjs_rows(runtime) -> RowMaker:
    """Rows of tfjs variants measured in `runtime` (an evaluator pool or a runtime)."""
    return lambda v, m, metrics: variant_row(v, m.artifact, metrics, runtime, m.load_ms, m.timings)


def scored_rows(measured: dict[str, Measured], score: Scorer, row: RowMaker, label: str) -> tuple[list, dict]:
    """(rows, per-example scores by variant), each variant scored and logged in the order run."""
    rows, scores = [], {}
    for variant, m in measured.items():
        metrics, scores[variant] = score(m.outputs)
        rows.append(row(variant, m, metrics))
        log.info("%s %s: %s", label, variant, ", ".join(f"{k} {_shown(v)}" for k, v in metrics.items()))
    return rows, scores


def add_intervals(rows: list[dict], scores: dict[str, dict]) -> None:
    """Every row's intervals; each variant's paired differences from float32 on the same examples
    (`scores`: every variant's per-example scores, float32's among them when it ran)."""
    for row in rows:
        name = row["name"]
        row |= uncertainty(scores[name], scores.get(REFERENCE) if name != REFERENCE else None)


def run_record(
    *,
    kind: str,
    name: str,
    title: str,
    task: str,
    primary_metric: str | None,
    dataset: dict,
    variants: list[dict],
    weight_error: dict,
    runtime_info: dict,
    config: dict,
    seed: dict,
    note: str,
    **fields,
) -> dict:
    """A results record: what every producer's record holds, then the producer's own `fields`.
    config gets the command line first; `runtime_info` is the runtime's describe()."""
    return {
        "kind": kind,
        "demo": name,
        "title": title,
        "task": task,
        "primary_metric": primary_metric,
        "dataset": dataset,
        "variants": variants,
        "weight_error": weight_error,
        "seed": seed,
        "note": note,
        **fields,
        "environment": environment(runtime_info),
        "config": {"command": " ".join(shlex.quote(a) for a in sys.argv), **config},
        "created": created_now(),
    }


def _shown(value) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)
