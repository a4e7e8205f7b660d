"""The unit of work of the evaluator pools, and how many workers run it.

A `Job` is (artifact folder, input shard, runtime) -> outputs, a pure function (a worker keeps
the last models it loaded, keyed by the artifact's identity, which changes no output). Shards are
cut at multiples of the predict batch (`shard_bounds`), so every tfjs batch holds the same
examples whatever the worker count, and merged outputs are bit-identical to one process."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import QuantlabError
from ..runtimes.base import Inputs, LoadedModel, PredictTimings, n_examples
from ..runtimes.registry import ONE_THREAD
from ..tfjs import MODEL_JSON

MAX_DEFAULT_WORKERS = 16  # each evaluator holds its models: MobileNetV2 costs ~0.5 GB per worker


def usable_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover (not Linux)
        return max(1, os.cpu_count() or 1)


def default_workers(runtime_name: str, cores: int | None = None) -> int:
    """tfjs wasm and cpu run on one thread in Node (tfjs#3830): one evaluator per core (at most
    16). tfjs-node (node-tensorflow) already spreads one job over every core with TensorFlow's
    own thread pool, and browsers are one Chromium each: one."""
    cores = cores or usable_cores()
    if runtime_name in ONE_THREAD:
        return max(1, min(cores, MAX_DEFAULT_WORKERS))
    return 1


# A second evaluator costs ~0.3 s of CPU to start (Node, tfjs, its wasm backend), and as long
# before it takes a job. Float32 weights of at most 1 MiB on at most 2^20 input values (4 MiB), every
# variant together, are less work than that: one worker runs them unless --workers asks for more.
LIGHT_WEIGHT_BYTES = 1 << 20
LIGHT_INPUT_VALUES = 1 << 20


def light_work(weight_bytes: int, input_values: int) -> bool:
    """True for a load one evaluator finishes before a second one could start (see above)."""
    return weight_bytes <= LIGHT_WEIGHT_BYTES and input_values <= LIGHT_INPUT_VALUES


def active_workers(workers: int, explicit: bool, n_jobs: int | None, light: bool = False) -> int:
    """How many of a pool's `workers` run `n_jobs` jobs: no more than there are jobs, and one for
    a light load, unless the user asked for the count (`explicit`)."""
    active = workers if n_jobs is None else max(1, min(workers, n_jobs))
    return 1 if light and not explicit else active


def fewer_reason(workers: int, n_jobs: int | None, active: int) -> str:
    """Why `active` of `workers` run (for the pools' log line): a light load, or too few jobs."""
    return "a light load" if active < active_workers(workers, True, n_jobs) else f"{n_jobs} jobs"


def check_workers(workers: int | None) -> int | None:
    """--workers: None (the default rule) or a positive integer (exit 2 otherwise)."""
    if workers is None:
        return None
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise QuantlabError(f"--workers {workers!r}: must be a positive integer (or omitted)", exit_code=2)
    return workers


def parse_worker_list(text: str) -> list[int]:
    """bench --workers 1,2,4."""
    return parse_counts(text, "--workers")


def parse_counts(text: str, option: str) -> list[int]:
    """A comma-separated list of positive integers (worker or thread counts), as given."""
    try:
        counts = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise QuantlabError(f"{option} {text!r}: comma-separated positive integers", exit_code=2) from None
    if not counts or any(c < 1 for c in counts):
        raise QuantlabError(f"{option} {text!r}: comma-separated positive integers", exit_code=2)
    return counts


@dataclass
class Job:
    """Predict `inputs` (one shard of a variant's examples) with the artifact in `model_dir`."""

    variant: str
    model_dir: Path
    inputs: Inputs
    batch_size: int = 256
    shard: int = 0
    n_shards: int = 1
    start: int = 0  # index of the shard's first example

    def describe(self) -> str:
        if self.inputs is None:
            return f"{self.variant} (load only, {self.model_dir})"
        n = n_examples(self.inputs)
        return (
            f"{self.variant} shard {self.shard + 1}/{self.n_shards} "
            f"(examples {self.start}-{self.start + n - 1}, {self.model_dir})"
        )


@dataclass
class JobResult:
    job: Job
    outputs: list[np.ndarray]
    timings: PredictTimings
    load_ms: float | None  # None: the worker had this artifact loaded already
    model: LoadedModel  # the model's description (its handle belongs to the worker)
    worker: int = 0


@dataclass
class PoolStats:
    jobs: int = 0
    retries: int = 0
    workers_started: int = 0
    busy_s: list[float] = field(default_factory=list)


def artifact_key(folder: Path) -> tuple:
    """The artifact's identity: its path and its model.json as written (a rewrite changes it)."""
    folder = Path(folder).resolve()
    try:
        st = (folder / MODEL_JSON).stat()
        return (str(folder), st.st_mtime_ns, st.st_size, st.st_ino)
    except OSError:
        return (str(folder),)


# What one tfjs batch and one request may hold, in float32 input bytes: a batch of 256 MobileNetV2
# images (224x224x3) made a 1.2 GB activation and tfjs-backend-wasm failed ("memory access out of
# bounds"); 32 MiB is 55 such images (a 265 MB activation) and leaves small inputs at 256.
BATCH_BYTES = 32 << 20
REQUEST_BYTES = 128 << 20


def sized(asked: int, values_per_example: int, budget: int) -> int:
    """`asked` examples, or fewer when they would hold more than `budget` bytes as float32."""
    return max(1, min(asked, budget // max(1, 4 * values_per_example)))


def values_per_example(x) -> int:
    """Input values per example of an array [N, ...] or a dict of them (named inputs)."""
    arrays = x.values() if isinstance(x, dict) else [x]
    return sum(math.prod(a.shape[1:]) for a in arrays)


def shard_bounds(n: int, batch_size: int, chunk: int, workers: int) -> list[tuple[int, int]]:
    """[start, end) shards of n examples: at most `chunk` each, at least `workers` of them when
    there are enough batches, every boundary a multiple of `batch_size`."""
    if n <= 0:
        return []
    batches = -(-n // batch_size)
    per = max(1, min(max(1, chunk // batch_size), -(-batches // max(1, workers))))
    size = per * batch_size
    return [(s, min(n, s + size)) for s in range(0, n, size)]
