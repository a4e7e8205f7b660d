"""Why accuracy drops and how to get it back: per-layer sensitivity measured in tfjs, then a
search for the smallest mixed-precision artifact within a metric budget, judged on a held-out
split the search never saw (with its interval). See sweep.py for how candidates are made and
measured, search.py for the search itself."""

from __future__ import annotations

import time
from pathlib import Path

from ..convert.converter import converter_command
from ..errors import ArtifactError
from ..infra.progress import log
from ..metrics import within_budget
from ..runtimes.base import Runtime
from ..tfjs import MODEL_JSON
from ..tfjs.artifacts import read_artifact
from .search import Ladder, RungProbe, choose_rung, judged_drop, search_order
from .sweep import (
    Probe,
    Sweep,
    dtype_map_for,
    layer_sizes,
    layers_with_weights,
    promotion_dtype,
    sensitivity,
    write_candidate,
)
from .weight_error import batchnorm_layers

UINT8 = "uint8"
BN_FIX = "uint8, BatchNorm float16"


def judged(point, conservative: bool) -> dict | None:
    """The held-out verdict on the answer: its drop, the drop's interval, which one was judged."""
    if point is None:
        return None
    return {
        "drop": point.drop,
        "drop_ci": point.drop_ci,
        "judged_on": "upper end of the interval" if conservative and point.drop_ci else "drop",
        "judged_drop": judged_drop(point, conservative),
        "n": (point.paired or {}).get("n"),
    }


def run_tune(
    models_root: Path,
    runtime: Runtime,
    probe: Probe,
    holdout_probe: Probe,
    max_drop: float,
    relative: bool = False,
    sweeps: str = "ab",
    conservative: bool = False,
    split: dict | None = None,
    rank_probe: Probe | None = None,
    base: str = "float32",
) -> dict:
    """`probe`: the search split (what the search sees); `holdout_probe`: the examples that
    judge the answer (held out from the search; `split` says how they were drawn);
    `rank_probe`: the (smaller) part of the search split the per-layer sweep ranks layers on
    (default: `probe`): the ranking uses the continuous output error, which a few dozen examples
    already measure well. `conservative`: the upper end of the held-out drop's interval must
    meet the budget. `runtime`: an evaluator pool (quantlab.analysis.pool) or one Runtime."""
    # `base`: the float32 variant quantized and measured against: "float32", or e.g. the graph
    # demo's "equalized" (its float32 weights after cross-layer equalization).
    float32_dir = models_root / base
    if not (float32_dir / MODEL_JSON).is_file():
        raise ArtifactError(
            f"{float32_dir / 'model.json'}: missing; run `quantlab run {models_root.name}` first"
        )
    float32_art = read_artifact(float32_dir)
    layers = layers_with_weights(float32_art)
    t0 = time.perf_counter()
    # Candidates are re-quantized from the float32 artifact: one road for demos and users' models
    # (layers or graph), byte-identical to what the converter writes from the Keras model.
    sweep = Sweep(float32_dir, runtime, probe, relative)
    full = Sweep(float32_dir, runtime, holdout_probe, relative, intervals=True)
    rank = Sweep(float32_dir, runtime, rank_probe, relative) if rank_probe is not None else sweep
    tuned_dir = models_root / ("tuned" if base == "float32" else f"tuned-{base}")
    try:
        sweep.measure("float32", None)
        u8 = sweep.measure(UINT8, {"uint8": True})
        start, start_label, start_point = {la: "uint8" for la in layers}, UINT8, u8
        bn = batchnorm_layers(float32_art)
        if bn:  # the known fix for the BatchNorm collapse (DESIGN 2.6), measured, not assumed
            bn_fix = {la: "float16" if la in bn else "uint8" for la in layers}
            p = sweep.measure(BN_FIX, dtype_map_for(bn_fix, layers))
            if p.drop < u8.drop:  # then the search starts from it: it is what is left to fix
                start, start_label, start_point = bn_fix, BN_FIX, p
        t_sweep = time.perf_counter()
        rank_u8 = u8
        if sweeps and rank is not sweep:
            rank_u8 = rank.measure_many([("float32", None), (UINT8, {"uint8": True})])[1]
        rows = sensitivity(rank, layers, rank_u8, sweeps) if sweeps else []
        sweep_seconds = time.perf_counter() - t_sweep
        candidates = [la for la in layers if start[la] == "uint8"]
        order = search_order(candidates, rows, layer_sizes(float32_art), rank_u8.output_error)
        ladder = Ladder(start, order, promotion_dtype(float32_art), layers, start_label)
        on_subset = RungProbe(sweep, ladder, max_drop, {0: start_point})
        on_full = RungProbe(full, ladder, max_drop, conservative=conservative)
        chosen = verified = None
        subset_rung = rung = None
        if start_label == BN_FIX:  # the known fix's held-out figure is worth having either way
            on_full.point(0)
        if start_label == BN_FIX and within_budget(u8.drop, max_drop):  # plain uint8 is smaller: try it first
            v = full.measure(UINT8, {"uint8": True})
            if on_full.within(v):
                chosen, verified = u8, v
        if verified is None:
            # The answer is always judged on the held-out split: down from the search split's rung
            # when it passes there, on up the ladder when the search split was too optimistic.
            subset_rung, rung = choose_rung(on_subset, on_full, ladder.top)
            if rung is not None:
                chosen, verified = on_subset.point(rung), on_full.point(rung)
        if verified is not None:
            write_candidate(float32_dir, tuned_dir, verified.dtype_map)
            assert read_artifact(tuned_dir).weight_bytes == verified.weight_bytes
    finally:
        sweep.close()
        full.close()
        rank.close()
    seconds = time.perf_counter() - t0
    n_eval = len(sweep.points) + len(full.points) + (len(rank.points) if rank is not sweep else 0)
    considered = [u8, *on_subset.points.values()]  # the start point is rung 0
    best = min(considered, key=lambda p: (p.drop, p.weight_bytes))
    record = {
        "metric": probe.name,
        "max_drop": max_drop,
        "relative": relative,
        "subset_size": probe.n,
        "rank_size": rank.probe.n,
        "workers": getattr(runtime, "ran", 1),
        "executor": getattr(runtime, "executor", "local"),
        "holdout_size": holdout_probe.n,
        "holdout": split or {"fraction": 0.0, "note": "no held-out split: the full set judged"},
        "conservative": conservative,
        "base": base,
        "runtime": runtime.name,
        "float32_metric": sweep.points[0].metric,
        "float32_bytes": sweep.points[0].weight_bytes,
        "sensitivity": rows,
        "points": [p.__dict__ for p in sweep.points],
        "rank_points": [p.__dict__ for p in rank.points] if rank is not sweep else [],
        "holdout_checks": [p.__dict__ for p in full.points],
        "search": {
            "start": start_label,
            "order": [{"layer": la, "promote_to": ladder.promote[la]} for la in order],
            "subset_rung": subset_rung,
            "rung": rung,
            "rungs": ladder.top,
        },
        "chosen": chosen.__dict__ if chosen else None,
        "verified": verified.__dict__ if verified else None,
        "verified_float32_metric": full.points[0].metric if full.points else None,
        "verified_within_budget": verified is not None,
        "verified_drop": judged(verified, conservative),
        "artifact": str(tuned_dir) if verified else None,
        "converter_command": converter_command(float32_dir / MODEL_JSON, tuned_dir, verified.dtype_map)
        if verified and float32_art.format == "layers"
        else None,  # graph models: the converter cannot re-quantize them (tensorflow/tfjs#6154)
        "format": float32_art.format,
        "best_found": best.__dict__,
        "n_evaluated": n_eval,
        "seconds": round(seconds, 1),
        "sweep_seconds": round(sweep_seconds, 1),
        "n_sweep": len(rows) * len(sweeps),
        "seconds_per_variant": round(seconds / max(1, n_eval), 2),
    }
    if verified is None:
        log.warning(
            "no candidate meets a drop of %s; best found: %s (%s %.4f, drop %.4f)",
            max_drop, best.label, probe.name, best.metric, best.drop,
        )  # fmt: skip
    return record
