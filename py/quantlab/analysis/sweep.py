"""Candidate artifacts and their measurement: every candidate is a real tfjs artifact written by
the converter's own per-weight maps (quantization_dtype_map, the API behind
`--quantize_uint8 name,...`) and measured in one long-lived evaluator process."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..convert.converter import save_tfjs
from ..infra.progress import log, progress
from ..metrics import error_stats
from ..runtimes.base import Runtime
from ..stats import paired_delta
from ..tfjs.artifacts import Artifact, read_artifact
from ..tfjs.quantization import roundtrip
from .jobs import BATCH_BYTES, sized, values_per_example
from .weight_error import batchnorm_layers, read_weights


@dataclass
class Probe:
    """A demo's metric on a fixed input set, computed from a runtime's outputs."""

    name: str
    higher_is_better: bool
    inputs: Callable[[], Iterable[np.ndarray]]  # chunks, re-created per evaluation (streamed)
    score: Callable[[np.ndarray], float]
    n: int
    batch_size: int | None = None  # tfjs batch inside a chunk; None: the whole chunk
    # the metric per example (its mean is `score`): hits or errors, for the drop's paired interval
    per_example: Callable[[np.ndarray], np.ndarray] | None = None
    # score and per_example take every output (a list) instead of the first one
    all_outputs: bool = False
    fixed_batch: int | None = None  # the model takes exactly this many examples per call

    def drop(self, reference: float, value: float, relative: bool) -> float:
        d = reference - value if self.higher_is_better else value - reference
        return d / abs(reference) if relative and reference else d

    def drop_interval(self, delta_ci: list[float], reference: float, relative: bool) -> list[float]:
        """The drop's [lo, hi] from the interval of (variant - reference)."""
        lo, hi = (-delta_ci[1], -delta_ci[0]) if self.higher_is_better else (delta_ci[0], delta_ci[1])
        if relative and reference:
            lo, hi = lo / abs(reference), hi / abs(reference)
        return [lo, hi]


@dataclass
class Point:
    label: str
    dtype_map: dict
    weight_bytes: int
    metric: float
    drop: float
    seconds: float
    # ||outputs - float32 outputs|| / ||float32 outputs|| on the same inputs: a continuous measure
    # of the damage, far less noisy than a metric on a few hundred examples.
    output_error: float | None = None
    extra: dict = field(default_factory=dict)
    # with per-example scores (held-out checks): the drop's paired-bootstrap interval, and the
    # paired difference from float32 (stats.paired_delta: delta, ci, p_value, flips)
    drop_ci: list[float] | None = None
    paired: dict | None = None


def layers_with_weights(art: Artifact) -> dict[str, list[str]]:
    return {layer: [w.name for w in ws] for layer, ws in art.weights_by_layer().items()}


def layer_sizes(art: Artifact) -> dict[str, int]:
    """Layer -> number of weight elements (the bytes a 2-byte dtype adds over uint8)."""
    by_layer = art.weights_by_layer()
    return {layer: sum(int(np.prod(w.shape, dtype=np.int64)) for w in ws) for layer, ws in by_layer.items()}


def promotion_dtype(art: Artifact) -> dict[str, str]:
    """Per layer, the 2-byte dtype that reconstructs its weights better (BatchNorm: float16,
    since a tiny variance in a wide range needs relative, not absolute, precision)."""
    weights = read_weights(art)
    bn = set(batchnorm_layers(art))
    choice = {}
    for layer, entries in art.weights_by_layer().items():
        if layer in bn:
            choice[layer] = "float16"
            continue
        err = {
            d: sum(error_stats(roundtrip(weights[w.name], d), weights[w.name])["rel_l2"] for w in entries)
            for d in ("uint16", "float16")
        }
        choice[layer] = min(err, key=err.get)
    return choice


def layer_patterns(layer: str, names: list[str], all_names: list[str] | None = None) -> list[str]:
    """The converter's name patterns for one layer's weights: `layer/*` (what a user would type)
    when it matches exactly those weights, else the names themselves (escaped): a weight at the
    top of the graph, named without a layer (a shipped graph's `Const_3`), or a layer whose
    `layer/*` would also take the weights of the layers nested under it (a shipped graph's
    `StatefulPartitionedCall/*` matches every weight)."""
    import fnmatch
    import glob

    pattern = f"{layer}/*"
    if names and all(n.startswith(layer + "/") for n in names):
        if all_names is None or set(fnmatch.filter(all_names, pattern)) == set(names):
            return [pattern]
    return [glob.escape(n) for n in names]


def dtype_map_for(assignment: dict[str, str], layers: dict[str, list[str]]) -> dict:
    """Layer -> dtype as a converter map; uint8 as the fallthrough when no layer stays float32."""
    all_names = [n for names in layers.values() for n in names]
    by_dtype: dict[str, list[str]] = {}
    for layer, dtype in assignment.items():
        by_dtype.setdefault(dtype, []).extend(layer_patterns(layer, layers.get(layer, []), all_names))
    keep_float32 = "float32" in by_dtype
    out: dict = {}
    for dtype, patterns in by_dtype.items():
        if dtype == "float32":
            continue
        out[dtype] = True if (dtype == "uint8" and not keep_float32) else sorted(patterns)
    return out


def write_candidate(source, folder: Path, dtype_map: dict | None) -> None:
    """A candidate artifact with the converter's per-weight map: re-quantized from a float32 tfjs
    artifact folder (any model, graph ones included; the same bytes as `save_keras_model`, which
    tests prove), or saved from a Keras model."""
    if isinstance(source, Path):
        from ..convert.requantize import requantize
        from ..convert.weight_checks import check_weights_quantizable

        requantize(source, folder, dtype_map or None, check_weights_quantizable)
    else:
        save_tfjs(source, folder, dtype_map or None)


class Sweep:
    """Writes candidate artifacts into a scratch folder and measures them on one probe with an
    evaluator pool (quantlab.analysis.pool; a plain Runtime works too, as one worker). The first
    measurement is float32 (made so when it is not): the reference for drops and output errors.
    `measure_many` hands every (candidate, input chunk) to the pool at once: candidates are
    written while earlier ones run, and only a few are on disk at any time."""

    def __init__(self, source, runtime, probe: Probe, relative: bool, intervals: bool = False):
        self.model = source  # a float32 artifact folder (Path) or a Keras model: see write_candidate
        self.runtime = runtime
        self.pool = runtime if hasattr(runtime, "imap") else _one_worker(runtime)
        self.probe = probe
        self.relative = relative
        self.intervals = intervals and probe.per_example is not None  # paired intervals of drops
        self._reference_scores: np.ndarray | None = None
        self.scratch = Path(tempfile.mkdtemp(prefix="quantlab-tune-"))
        self.points: list[Point] = []
        self.reference: float | None = None
        self._reference_outputs: np.ndarray | None = None
        self._n = 0

    def measure(self, label: str, dtype_map: dict | None) -> Point:
        return self.measure_many([(label, dtype_map)])[0]

    def measure_many(self, items: list[tuple[str, dict | None]], on_point=None) -> list[Point]:
        from .jobs import Job

        if self.reference is None and items and items[0][1]:  # drops need this probe's float32 first
            self.measure("float32", None)
        from ..runtimes.base import n_examples
        from .evaluate import pad_to

        chunks = list(self.probe.inputs())
        sizes = [n_examples(x) for x in chunks]
        fixed = self.probe.fixed_batch
        if fixed:  # whole batches only: pad each chunk, drop the padding's outputs below
            chunks = [pad_to(x, fixed) for x in chunks]
        batch = fixed or self.probe.batch_size
        # tfjs batch per chunk (the same for every candidate): given, or the chunk bounded in bytes
        batches = [batch or sized(n_examples(x), values_per_example(x), BATCH_BYTES) for x in chunks]
        started: dict[int, tuple[Path, float]] = {}

        def jobs():
            for i, (label, dtype_map) in enumerate(items):
                self._n += 1
                folder = self.scratch / f"c{self._n}"
                started[i] = (folder, time.perf_counter())
                write_candidate(self.model, folder, dtype_map)
                for k, x in enumerate(chunks):
                    yield Job(label, folder, x, batches[k], k, len(chunks))

        points, parts = [], []
        for r in self.pool.imap(jobs(), n_jobs=len(items) * len(chunks)):
            parts.append([o[: sizes[r.job.shard]] for o in r.outputs])
            if r.job.shard < r.job.n_shards - 1:
                continue
            i = len(points)
            folder, t0 = started[i]
            label, dtype_map = items[i]
            outs = [np.concatenate([p[k] for p in parts]) for k in range(len(parts[0]))]
            out = outs if self.probe.all_outputs else outs[0]
            points.append(self._point(label, dtype_map, out, folder, t0))
            parts = []
            if on_point is not None:
                on_point(points[-1])
        return points

    def _point(self, label: str, dtype_map: dict | None, out: np.ndarray, folder: Path, t0: float) -> Point:
        metric = self.probe.score(out)
        size = read_artifact(folder).weight_bytes
        shutil.rmtree(folder, ignore_errors=True)
        scores = self.probe.per_example(out) if self.intervals else None
        if self.reference is None:
            self.reference, self._reference_outputs = metric, out
            self._reference_scores = scores
        drop = self.probe.drop(self.reference, metric, self.relative)
        output_error = _output_error(out, self._reference_outputs)
        point = Point(label, dtype_map or {}, size, metric, drop, time.perf_counter() - t0, output_error)
        if scores is not None and self._reference_scores is not None:
            point.paired = paired_delta(self.probe.name, scores, self._reference_scores)
            if point.paired is not None:
                point.drop_ci = self.probe.drop_interval(point.paired["ci"], self.reference, self.relative)
        self.points.append(point)
        log.debug("%s: %s %.4f (drop %.4f), %d bytes", label, self.probe.name, metric, drop, size)
        return point

    def close(self) -> None:
        shutil.rmtree(self.scratch, ignore_errors=True)


def _output_error(out, reference) -> float:
    """Relative L2 to float32's outputs; with every output (a list), the worst of them."""
    if isinstance(out, list):
        return max(error_stats(o, r)["rel_l2"] for o, r in zip(out, reference, strict=True))
    return error_stats(out, reference)["rel_l2"]


def _one_worker(runtime: Runtime):
    from .evaluate import RuntimePool

    return RuntimePool(runtime)


def sensitivity(
    sweep: Sweep, layers: dict[str, list[str]], all_uint8: Point, sweeps: str = "a"
) -> list[dict]:
    """(a) only layer L in uint8; (b) everything uint8 except L in float32. Ranked by (b)'s gain
    (by (a)'s drop when only (a) ran); output errors are kept for the search's ranking. Every
    candidate goes to the pool in one batch."""
    items, keys = [], []
    all_names = [n for names in layers.values() for n in names]
    for layer in layers:
        if "a" in sweeps:
            items.append((f"only {layer} uint8", {"uint8": layer_patterns(layer, layers[layer], all_names)}))
            keys.append((layer, "a"))
        if "b" in sweeps:
            assignment = {other: "uint8" for other in layers if other != layer} | {layer: "float32"}
            items.append((f"all uint8 but {layer}", dtype_map_for(assignment, layers)))
            keys.append((layer, "b"))
    rows = {layer: {"layer": layer} for layer in layers}
    with progress() as bar:
        task = bar.add_task(f"per-layer sensitivity ({sweep.probe.n} examples)", total=len(items), info="")
        points = sweep.measure_many(
            items, on_point=lambda p: bar.update(task, advance=1, info=f"{p.label}: {p.metric:.4f}")
        )
    for (layer, kind), p in zip(keys, points, strict=True):
        row = rows[layer]
        if kind == "a":
            row["only_this_uint8"] = p.metric
            row["drop_only_this_uint8"] = p.drop
            row["output_error_only_this_uint8"] = p.output_error
        else:
            row["all_but_this_uint8"] = p.metric
            row["gain_keeping_this_float32"] = -sweep.probe.drop(all_uint8.metric, p.metric, sweep.relative)
            row["output_error_all_but_this"] = p.output_error
    out = list(rows.values())
    key = "gain_keeping_this_float32" if "b" in sweeps else "drop_only_this_uint8"
    out.sort(key=lambda r: -r[key])
    return out
