"""Why accuracy drops and how to get it back: per-layer sensitivity measured in tfjs, and a
greedy mixed-precision search for the smallest artifact within a metric budget.

Every candidate is a real tfjs artifact written by the converter's own per-weight maps
(quantization_dtype_map, the API behind `--quantize_uint8 name,...`) and measured in one
long-lived evaluator process."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .artifacts import read_artifact
from .convert import converter_command, save_tfjs
from .errors import ArtifactError
from .progress import log, progress
from .quantize_math import roundtrip
from .runtimes.base import Runtime
from .weight_error import batchnorm_layers, read_weights


@dataclass
class Probe:
    """A demo's metric on a fixed input set, computed from a runtime's outputs."""

    name: str
    higher_is_better: bool
    inputs: Callable[[], list[np.ndarray]]  # batches, re-created per evaluation (streamed)
    score: Callable[[np.ndarray], float]
    n: int

    def drop(self, reference: float, value: float, relative: bool) -> float:
        d = reference - value if self.higher_is_better else value - reference
        return d / abs(reference) if relative and reference else d


@dataclass
class Point:
    label: str
    dtype_map: dict
    weight_bytes: int
    metric: float
    drop: float
    seconds: float
    extra: dict = field(default_factory=dict)


def layers_with_weights(float32_dir: Path) -> dict[str, list[str]]:
    layers: dict[str, list[str]] = {}
    for w in read_artifact(float32_dir).weights:
        layers.setdefault(w.name.rsplit("/", 1)[0], []).append(w.name)
    return layers


def promotion_dtype(float32_dir: Path) -> dict[str, str]:
    """Per layer, the 2-byte dtype that reconstructs its weights better (BatchNorm: float16,
    since a tiny variance in a wide range needs relative, not absolute, precision)."""
    art = read_artifact(float32_dir)
    weights = read_weights(art)
    bn = set(batchnorm_layers(art))
    choice = {}
    for layer, names in layers_with_weights(float32_dir).items():
        if layer in bn:
            choice[layer] = "float16"
            continue
        err = {
            d: sum(_rel_l2(roundtrip(weights[n], d), weights[n]) for n in names)
            for d in ("uint16", "float16")
        }
        choice[layer] = min(err, key=err.get)
    return choice


def _rel_l2(q: np.ndarray, r: np.ndarray) -> float:
    den = float(np.linalg.norm(r))
    return float(np.linalg.norm(q - r)) / den if den else 0.0


def dtype_map_for(assignment: dict[str, str], layers: dict[str, list[str]]) -> dict:
    """Layer -> dtype as a converter map; uint8 as the fallthrough when no layer stays float32."""
    by_dtype: dict[str, list[str]] = {}
    for layer, dtype in assignment.items():
        by_dtype.setdefault(dtype, []).append(f"{layer}/*")
    keep_float32 = "float32" in by_dtype
    out: dict = {}
    for dtype, patterns in by_dtype.items():
        if dtype == "float32":
            continue
        out[dtype] = True if (dtype == "uint8" and not keep_float32) else sorted(patterns)
    return out


class Sweep:
    """Writes candidate artifacts into a scratch folder and measures them with one runtime."""

    def __init__(self, keras_model, float32_dir: Path, runtime: Runtime, probe: Probe, relative: bool):
        self.model = keras_model
        self.float32_dir = float32_dir
        self.runtime = runtime
        self.probe = probe
        self.relative = relative
        self.scratch = Path(tempfile.mkdtemp(prefix="quantlab-tune-"))
        self.points: list[Point] = []
        self.reference: float | None = None
        self._n = 0

    def measure(self, label: str, dtype_map: dict | None, keep: Path | None = None) -> Point:
        t0 = time.perf_counter()
        self._n += 1
        folder = keep or self.scratch / f"c{self._n}"
        save_tfjs(self.model, folder, dtype_map or None)
        loaded = self.runtime.load(folder)
        try:
            outs = [self.runtime.predict(loaded, x, batch_size=len(x))[0][0] for x in self.probe.inputs()]
        finally:
            self.runtime.unload(loaded)
        metric = self.probe.score(np.concatenate(outs))
        size = read_artifact(folder).weight_bytes
        if keep is None:
            shutil.rmtree(folder, ignore_errors=True)
        if self.reference is None:
            self.reference = metric
        drop = self.probe.drop(self.reference, metric, self.relative)
        point = Point(label, dtype_map or {}, size, metric, drop, time.perf_counter() - t0)
        self.points.append(point)
        log.debug("%s: %s %.4f (drop %.4f), %d bytes", label, self.probe.name, metric, drop, size)
        return point

    def close(self) -> None:
        shutil.rmtree(self.scratch, ignore_errors=True)


def sensitivity(sweep: Sweep, layers: dict[str, list[str]], sweeps: str = "ab") -> list[dict]:
    """(a) only layer L in uint8; (b) everything uint8 except L in float32. Ranked by (b)'s gain."""
    all_u8 = sweep.points[1].metric
    rows = []
    with progress() as bar:
        task = bar.add_task("per-layer sensitivity", total=len(layers) * len(sweeps), info="")
        for layer in layers:
            row = {"layer": layer}
            if "a" in sweeps:
                p = sweep.measure(f"only {layer} uint8", {"uint8": [f"{layer}/*"]})
                row["only_this_uint8"] = p.metric
                row["drop_only_this_uint8"] = p.drop
                bar.advance(task)
            if "b" in sweeps:
                assignment = {other: "uint8" for other in layers if other != layer} | {layer: "float32"}
                p = sweep.measure(f"all uint8 but {layer}", dtype_map_for(assignment, layers))
                row["all_but_this_uint8"] = p.metric
                row["gain_keeping_this_float32"] = sweep.probe.drop(all_u8, p.metric, sweep.relative) * -1
                bar.advance(task)
            rows.append(row)
    key = "gain_keeping_this_float32" if "b" in sweeps else "drop_only_this_uint8"
    rows.sort(key=lambda r: -r[key])
    return rows


def greedy_search(
    sweep: Sweep,
    layers: dict[str, list[str]],
    ranking: list[str],
    max_drop: float,
    start: dict[str, str] | None = None,
) -> Point | None:
    """From `start` (default all-uint8), promote the remaining uint8 layers in ranking order to
    their 2-byte dtype until the probe's drop is within budget. Returns the first point within
    budget (the smallest found)."""
    promote = promotion_dtype(sweep.float32_dir)
    assignment = dict(start) if start else {layer: "uint8" for layer in layers}
    todo = [layer for layer in ranking if assignment[layer] == "uint8"]
    with progress() as bar:
        task = bar.add_task("greedy search", total=len(todo), info="")
        for layer in todo:
            assignment[layer] = promote[layer]
            point = sweep.measure(f"greedy +{layer} {promote[layer]}", dtype_map_for(assignment, layers))
            point.extra["promoted"] = [la for la in ranking if assignment[la] != "uint8"]
            bar.update(
                task, advance=1, info=f"{sweep.probe.name} {point.metric:.4f} (drop {point.drop:+.4f})"
            )
            if point.drop <= max_drop:
                return point
    return None


def within(points: list[Point], max_drop: float) -> list[Point]:
    return [p for p in points if p.drop <= max_drop]


def run_tune(
    keras_model,
    models_root: Path,
    runtime: Runtime,
    probe: Probe,
    full_probe: Probe,
    max_drop: float,
    relative: bool = False,
    sweeps: str = "ab",
) -> dict:
    float32_dir = models_root / "float32"
    if not (float32_dir / "model.json").is_file():
        raise ArtifactError(
            f"{float32_dir / 'model.json'}: missing; run `quantlab run {models_root.name}` first"
        )
    layers = layers_with_weights(float32_dir)
    t0 = time.perf_counter()
    sweep = Sweep(keras_model, float32_dir, runtime, probe, relative)
    try:
        sweep.measure("float32", None)
        sweep.measure("uint8", {"uint8": True})
        bn = list(batchnorm_layers(read_artifact(float32_dir)))
        start = None
        if bn:  # the known fix for the BatchNorm collapse (DESIGN 2.6), measured, not assumed
            bn_fix = {la: "float16" if la in bn else "uint8" for la in layers}
            point = sweep.measure("uint8, BatchNorm float16", dtype_map_for(bn_fix, layers))
            # Greedy goes on from the cheap fix when it helps: the sensitivities below are
            # dominated by the BatchNorm collapse and say little about what is left after it.
            start = bn_fix if point.drop < sweep.points[1].drop else None
        cheap_ok = min(p.drop for p in sweep.points[1:]) <= max_drop  # uint8 or the BN fix
        rows = sensitivity(sweep, layers, sweeps) if sweeps else []
        ranking = [r["layer"] for r in rows] or list(layers)
        found = None if cheap_ok else greedy_search(sweep, layers, ranking, max_drop, start)
        candidates = within(sweep.points, max_drop)
        chosen = min(candidates, key=lambda p: (p.weight_bytes, -p.metric)) if candidates else None
        verified = full_ref = None
        tuned_dir = models_root / "tuned"
        if chosen is not None:
            # The final answer is always re-checked on the full evaluation set.
            full = Sweep(keras_model, float32_dir, runtime, full_probe, relative)
            try:
                full_ref = full.measure("float32 (full set)", None)
                verified = full.measure(f"{chosen.label} (full set)", chosen.dtype_map, keep=tuned_dir)
            finally:
                full.close()
    finally:
        sweep.close()
    seconds = time.perf_counter() - t0
    n_eval = len(sweep.points) + (2 if verified else 0)
    best = max(sweep.points, key=lambda p: (-p.drop, -p.weight_bytes))
    record = {
        "metric": probe.name,
        "max_drop": max_drop,
        "relative": relative,
        "subset_size": probe.n,
        "full_size": full_probe.n,
        "runtime": runtime.name,
        "float32_metric": sweep.points[0].metric,
        "float32_bytes": sweep.points[0].weight_bytes,
        "sensitivity": rows,
        "points": [p.__dict__ for p in sweep.points],
        "chosen": chosen.__dict__ if chosen else None,
        "greedy_found": found is not None,
        "verified": verified.__dict__ if verified else None,
        "verified_float32_metric": full_ref.metric if full_ref else None,
        "verified_within_budget": bool(verified and verified.drop <= max_drop),
        "artifact": str(tuned_dir) if verified else None,
        "converter_command": converter_command(float32_dir / "model.json", tuned_dir, chosen.dtype_map)
        if chosen
        else None,
        "best_found": best.__dict__,
        "n_evaluated": n_eval,
        "seconds": round(seconds, 1),
        "seconds_per_variant": round(seconds / max(1, n_eval), 2),
    }
    if chosen is None:
        log.warning(
            "no candidate meets a drop of %s; best found: %s (%s %.4f, drop %.4f)",
            max_drop, best.label, probe.name, best.metric, best.drop,
        )  # fmt: skip
    return record
