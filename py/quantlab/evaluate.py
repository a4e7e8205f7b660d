"""The one load -> predict loop, for the demos and for users' models alike.

`Examples` is anything with `n` and `chunks(size)` yielding {input name: array}: an InputSet
(arrays, npz, synthetic) or a streamed image set. Outputs come back in the model's order."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from .artifacts import Artifact, read_artifact
from .errors import ArtifactError, EvaluatorError
from .progress import progress
from .runtimes.base import LoadedModel, PredictTimings, Runtime

CHUNK = 2048  # examples per request: bounds memory, gives the progress bar its steps


class Examples(Protocol):
    @property
    def n(self) -> int: ...

    def chunks(self, size: int) -> Iterator[dict[str, np.ndarray]]: ...


@dataclass
class Measured:
    """One variant run through one runtime."""

    name: str
    artifact: Artifact
    outputs: list[np.ndarray]
    load_ms: float
    timings: PredictTimings
    model: LoadedModel


def load_model(runtime: Runtime, folder: Path) -> LoadedModel:
    """Load; a model tfjs rejects is a broken artifact (exit 4), not an evaluator failure."""
    try:
        return runtime.load(folder)
    except EvaluatorError as e:
        msg = str(e)
        if "LOAD_FAILED" in msg:
            detail = msg.split("LOAD_FAILED: ", 1)[-1]
            raise ArtifactError(detail if len(detail) < 400 else detail[:300] + " ... " + detail[-80:]) from e
        raise


def predict_all(
    runtime: Runtime,
    model: LoadedModel,
    examples: Examples,
    label: str,
    batch_size: int = 256,
    chunk: int = CHUNK,
) -> tuple[list[np.ndarray], PredictTimings]:
    """Every example through the runtime in chunks; outputs concatenated in model order."""
    timings, parts = PredictTimings(), []
    with progress() as bar:
        task = bar.add_task(label, total=examples.n, info="")
        for named in examples.chunks(chunk):
            x = next(iter(named.values())) if len(named) == 1 else named
            outs, t = runtime.predict(model, x, batch_size=batch_size)
            parts.append(outs)
            timings.add(t)
            rate = 1000 * timings.examples / timings.predict_ms if timings.predict_ms else 0.0
            bar.update(task, advance=t.examples, info=f"{rate:,.1f} examples/s")
    return [np.concatenate([p[k] for p in parts]) for k in range(len(parts[0]))], timings


def measure_variants(
    runtime: Runtime,
    paths: dict[str, Path],
    examples: Examples,
    label: str,
    batch_size: int = 256,
    chunk: int = CHUNK,
    preloaded: dict[str, LoadedModel] | None = None,
) -> dict[str, Measured]:
    """Load, predict every example, unload, for each variant in turn."""
    measured = {}
    for name, folder in paths.items():
        art = read_artifact(folder)
        model = (preloaded or {}).get(name) or load_model(runtime, folder)
        try:
            outputs, t = predict_all(
                runtime, model, examples, f"{label} {name} ({runtime.name})", batch_size, chunk
            )
        finally:
            runtime.unload(model)
        measured[name] = Measured(name, art, outputs, model.load_ms, t, model)
    return measured


@dataclass
class ArrayExamples:
    """In-memory arrays as Examples (a demo's test set)."""

    arrays: dict[str, np.ndarray]

    @property
    def n(self) -> int:
        return len(next(iter(self.arrays.values())))

    def chunks(self, size: int) -> Iterator[dict[str, np.ndarray]]:
        for start in range(0, self.n, size):
            yield {k: v[start : start + size] for k, v in self.arrays.items()}
