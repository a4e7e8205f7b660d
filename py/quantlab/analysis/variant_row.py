"""One variant's entry in results.json, the same for every producer: its sizes (artifact summary
and bytes over the wire), its metrics, and how the runtime did."""

from __future__ import annotations

from ..runtimes.base import PredictTimings, Runtime
from ..tfjs.artifacts import Artifact, artifact_summary
from .delivery import delivery_sizes


def artifact_sizes(art: Artifact) -> dict:
    """A variant's byte figures (artifact summary and bytes over the wire): compressing a large
    float32 model takes seconds, so callers may compute these early, beside the predictions."""
    return {**artifact_summary(art), "delivery": delivery_sizes(art.folder)}


def variant_row(
    name: str,
    art: Artifact,
    metrics: dict,
    runtime: Runtime,
    load_ms: float,
    t: PredictTimings,
    sizes: dict | None = None,
) -> dict:
    """One variant's entry: sizes (`sizes`: artifact_sizes(art) computed already), metrics, and
    how the runtime did."""
    info = runtime.describe()
    return {
        "name": name,
        **(sizes or artifact_sizes(art)),
        "metrics": metrics,
        "runtime": runtime_entry(runtime.name, info["backend"], info.get("tfjs_version"), load_ms, t),
    }


def runtime_entry(
    name: str, backend: str, tfjs_version: str | None, load_ms: float, t: PredictTimings
) -> dict:
    """How a runtime did with one variant (a row's `runtime`; LiteRT.js rows have no tfjs version)."""
    return {
        "name": name,
        "backend": backend,
        "tfjs_version": tfjs_version,
        "load_ms": round(load_ms, 2),
        "predict_ms_per_example": round(t.predict_ms / max(1, t.examples), 4),
        "examples_per_second": round(1000 * t.examples / t.predict_ms, 2) if t.predict_ms else None,
        "transfer_ms": round(t.transfer_ms, 2),
        "n_examples": t.examples,
    }
