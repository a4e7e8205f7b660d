"""The one load -> predict loop, for the demos and for users' models alike.

Variants and input shards are jobs for an evaluator pool (quantlab.analysis.pool): every core, or a Ray
cluster, works on them; the outputs come back merged in order, bit-identical to one process.
`Examples` is anything with `n` and `chunks(size)` yielding {input name: array}: an InputSet
(arrays, npz, synthetic) or a streamed image set. Outputs come back in the model's order."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from ..infra.progress import progress
from ..runtimes.base import Inputs, LoadedModel, PredictTimings, Runtime, n_examples
from ..tfjs.artifacts import Artifact, read_artifact
from .jobs import active_workers, light_work, shard_bounds, values_per_example

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


def pad_to(x: Inputs, multiple: int) -> Inputs:
    """x with its last example repeated until its length is a multiple of `multiple` (a model
    with a fixed batch takes nothing else; the padded outputs are dropped)."""
    short = -n_examples(x) % multiple
    if not short:
        return x

    def pad(a: np.ndarray) -> np.ndarray:
        return np.concatenate([a, np.repeat(a[-1:], short, axis=0)])

    return {k: pad(v) for k, v in x.items()} if isinstance(x, dict) else pad(x)


def _shards(
    examples: Examples, batch_size: int, chunk: int, workers: int, fixed_batch: int | None = None
) -> Iterator[tuple[int, Inputs]]:
    """(start, inputs) shards cut at multiples of batch_size: every tfjs batch holds the same
    examples whatever the number of workers, so merged outputs are bit-identical. With a
    fixed batch the last shard is padded to a whole batch."""
    bounds = shard_bounds(examples.n, batch_size, chunk, workers)
    size = bounds[0][1] - bounds[0][0] if bounds else chunk
    start = 0
    for named in examples.chunks(size):
        x = next(iter(named.values())) if len(named) == 1 else named
        n = n_examples(x)
        yield start, pad_to(x, fixed_batch) if fixed_batch else x
        start += n


def measure_variants(
    pool,
    paths: dict[str, Path],
    examples: Examples,
    label: str,
    batch_size: int = 256,
    chunk: int = CHUNK,
    fixed_batch: int | None = None,
) -> dict[str, Measured]:
    """Every (variant, shard) as one job on the pool's workers; outputs reassembled in order.

    `pool`: a LocalPool / RayPool (quantlab.analysis.pool), or a plain Runtime (one process, in turn).
    `fixed_batch`: the model takes exactly that many examples per call: tfjs batches of that
    size, the last one padded, the padding's outputs dropped."""
    from .jobs import Job

    if fixed_batch:
        batch_size = fixed_batch

    if not hasattr(pool, "imap"):  # a bare runtime: the same jobs, one evaluator
        pool = RuntimePool(pool)
    n = examples.n
    n_shards = len(shard_bounds(n, batch_size, chunk, pool.workers))
    arts = {name: read_artifact(folder) for name, folder in paths.items()}  # a broken one is named first
    arrays = getattr(examples, "arrays", None)  # in memory (a streamed image set is never light)
    light = arrays is not None and light_work(
        max(a.weight_bytes for a in arts.values()), values_per_example(arrays) * n * len(paths)
    )

    def jobs() -> Iterator[Job]:
        for name, folder in paths.items():
            for k, (start, x) in enumerate(_shards(examples, batch_size, chunk, pool.workers, fixed_batch)):
                yield Job(name, Path(folder), x, batch_size, k, n_shards, start)

    parts: dict[str, list] = {name: [] for name in paths}
    timings = {name: PredictTimings() for name in paths}
    load_ms: dict[str, float] = {}
    models: dict[str, LoadedModel] = {}
    n_jobs = n_shards * len(paths)
    workers = active_workers(getattr(pool, "workers", 1), getattr(pool, "explicit", True), n_jobs, light)
    with progress() as bar:
        task = bar.add_task(f"{label} ({pool.name}, {workers} workers)", total=n * len(paths), info="")
        for r in pool.imap(jobs(), n_jobs=n_jobs, light=light):
            name = r.job.variant
            parts[name].append(r.outputs)
            timings[name].add(r.timings)
            if r.load_ms is not None:
                load_ms[name] = max(load_ms.get(name, 0.0), r.load_ms)
            models.setdefault(name, r.model)
            bar.update(task, advance=min(r.timings.examples, n - r.job.start), info=name)
    measured = {}
    for name in paths:
        p = parts[name]
        outputs = [np.concatenate([q[k] for q in p])[:n] for k in range(len(p[0]))] if p else []
        m = models.get(name)
        measured[name] = Measured(name, arts[name], outputs, load_ms.get(name, m.load_ms if m else 0.0),
                                  timings[name], m)  # fmt: skip
    return measured


class RuntimePool:
    """A plain Runtime as a one-worker pool (jobs run here, in turn)."""

    executor = "local"
    workers = ran = 1

    def __init__(self, runtime: Runtime):
        from .worker import Worker

        self.name = runtime.name
        self.worker = Worker.__new__(Worker)
        self.worker.index, self.worker.runtime = 0, runtime
        self.worker._models = __import__("collections").OrderedDict()

    def inspect(self, folder: Path, variant: str = "model") -> LoadedModel:
        from .jobs import Job

        return self.worker.run(Job(variant, Path(folder), None)).model

    def imap(self, jobs, n_jobs=None, light=False):
        try:
            for job in jobs:
                yield self.worker.run(job)
        finally:
            self.worker.unload_all()


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
