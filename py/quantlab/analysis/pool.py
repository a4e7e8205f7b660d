"""Evaluator pools: the one load -> predict loop spread over many long-lived tfjs evaluators.

The unit of work is a `Job`: (artifact folder, input shard, runtime) -> outputs, a pure function
(a worker keeps the last models it loaded, keyed by the artifact's identity, which changes no
output). A pool runs jobs on any of its workers and hands results back in job order, so merged
outputs are bit-identical to one process running the same jobs (shards are cut at multiples of
the predict batch, so every tfjs batch holds the same examples whatever the worker count).

  LocalPool(runtime_name, workers, timeout)   N evaluator processes on this machine (threads in
                                              this process each drive one long-lived evaluator)
  RayPool (quantlab.analysis.pool_ray)        the same jobs as Ray actors, one evaluator each

A worker that dies during a job is replaced and the job retried once on the fresh worker; a
second death is one error naming the job. Ctrl-C (or any error) stops every worker at once."""

from __future__ import annotations

import os
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import EvaluatorError, QuantlabError
from ..infra.progress import log
from ..runtimes.base import Inputs, LoadedModel, PredictTimings, n_examples

MAX_DEFAULT_WORKERS = 16  # each evaluator holds its models: MobileNetV2 costs ~0.5 GB per worker
EXECUTORS = ("local", "ray")


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
    if runtime_name in ("node-wasm", "node-cpu"):
        return max(1, min(cores, MAX_DEFAULT_WORKERS))
    return 1


def check_workers(workers: int | None) -> int | None:
    """--workers: None (the default rule) or a positive integer (exit 2 otherwise)."""
    if workers is None:
        return None
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise QuantlabError(f"--workers {workers!r}: must be a positive integer (or omitted)", exit_code=2)
    return workers


def parse_worker_list(text: str) -> list[int]:
    """bench --workers 1,2,4."""
    try:
        counts = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise QuantlabError(f"--workers {text!r}: comma-separated positive integers", exit_code=2) from None
    if not counts or any(c < 1 for c in counts):
        raise QuantlabError(f"--workers {text!r}: comma-separated positive integers", exit_code=2)
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


def artifact_key(folder: Path) -> tuple:
    """The artifact's identity: its path and its model.json as written (a rewrite changes it)."""
    folder = Path(folder).resolve()
    try:
        st = (folder / "model.json").stat()
        return (str(folder), st.st_mtime_ns, st.st_size, st.st_ino)
    except OSError:
        return (str(folder),)


def load_model(runtime, folder: Path) -> LoadedModel:
    """Load; a model tfjs rejects is a broken artifact (exit 4), not an evaluator failure (the
    Node runtime says so itself; this covers the browser's too)."""
    from ..runtimes.node import load_failure

    try:
        return runtime.load(folder)
    except EvaluatorError as e:
        err = load_failure(e, folder)
        if err is e:
            raise
        raise err from e


class Worker:
    """One runtime (one evaluator process) and the models it has loaded: runs jobs one at a time."""

    KEEP = 2  # models kept loaded: jobs come variant after variant

    def __init__(self, runtime_name: str, timeout: float | None = None, index: int = 0):
        from ..runtimes import make_runtime

        self.index = index
        self.runtime = make_runtime(runtime_name, timeout=timeout)
        self._models: OrderedDict[tuple, LoadedModel] = OrderedDict()

    def model(self, folder: Path) -> tuple[LoadedModel, float | None]:
        key = artifact_key(folder)
        if key in self._models:
            self._models.move_to_end(key)
            return self._models[key], None
        while len(self._models) >= self.KEEP:
            _, old = self._models.popitem(last=False)
            self.runtime.unload(old)
        loaded = load_model(self.runtime, folder)
        self._models[key] = loaded
        return loaded, loaded.load_ms

    def run(self, job: Job) -> JobResult:
        loaded, load_ms = self.model(job.model_dir)
        if job.inputs is None:  # load only: the model's signature (it stays loaded for what follows)
            outputs, t = [], PredictTimings()
        else:
            outputs, t = self.runtime.predict(loaded, job.inputs, batch_size=job.batch_size)
        desc = LoadedModel(None, loaded.model_dir, loaded.load_ms, loaded.inputs, loaded.layers,
                           loaded.outputs, loaded.format)  # fmt: skip
        return JobResult(job, outputs, t, load_ms, desc, self.index)

    def alive(self) -> bool:
        ev = getattr(self.runtime, "evaluator", None)
        return ev.alive() if ev is not None else True

    def unload_all(self) -> None:
        while self._models:
            _, m = self._models.popitem(last=False)
            if self.alive():
                self.runtime.unload(m)

    def kill(self, reason: str) -> None:
        ev = getattr(self.runtime, "evaluator", None)
        if ev is not None:
            ev.kill(reason)
        else:
            self.runtime.close()

    def close(self) -> None:
        self.runtime.close()


def crashed(worker: Worker | None, error: BaseException) -> bool:
    """A worker death worth one retry: the process ended (not a timeout, not a bad request)."""
    if not isinstance(error, EvaluatorError) or worker is None:
        return False
    return "exited with code" in str(error) or "was stopped earlier" in str(error)


@dataclass
class PoolStats:
    jobs: int = 0
    retries: int = 0
    workers_started: int = 0
    busy_s: list[float] = field(default_factory=list)


class LocalPool:
    """`workers` long-lived evaluators of `runtime_name` on this machine. `map_jobs(jobs)` runs
    every job on whichever worker is free and returns the results in job order; `imap` yields
    them in order as they complete. Workers start on first use (as many as there are jobs, at
    most `workers`) and live until `close()`."""

    executor = "local"

    def __init__(self, runtime_name: str, workers: int | None = None, timeout: float | None = None):
        self.name = runtime_name
        self.timeout = timeout
        self.workers = check_workers(workers) or default_workers(runtime_name)
        self.stats = PoolStats()
        self._todo: queue.Queue = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._live: dict[int, Worker] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._describe: dict | None = None
        self._capped_said = False
        self._generation = 0  # results of an aborted imap are dropped
        self.ran = 0  # the most workers that ran at once (what results.json records)

    # -- the Runtime-like surface results.py and the demos use
    def describe(self) -> dict:
        if self._describe is None:
            w = Worker(self.name, self.timeout, -1)
            try:
                self._describe = w.runtime.describe()
            finally:
                w.close()
        return {**self._describe, "workers": self.workers, "executor": self.executor}

    def peak_rss_mb(self) -> float | None:
        vals = []
        for w in list(self._live.values()):
            f = getattr(w.runtime, "peak_rss_mb", None)
            if f is not None and w.alive():
                try:
                    vals.append(f())
                except EvaluatorError:
                    pass
        vals = [v for v in vals if v is not None]
        return max(vals) if vals else None

    def inspect(self, folder: Path, variant: str = "model") -> LoadedModel:
        """Load `folder` on a worker (it stays loaded there) and return its signature."""
        return self.map_jobs([Job(variant, Path(folder), None)], 1)[0].model

    @property
    def started(self) -> int:
        return len(self._threads)

    # -- jobs
    def map_jobs(self, jobs: Iterable[Job], n_jobs: int | None = None) -> list[JobResult]:
        return list(self.imap(jobs, n_jobs))

    def imap(self, jobs: Iterable[Job], n_jobs: int | None = None) -> Iterator[JobResult]:
        """Results in job order. `jobs` may be lazy (made while earlier ones run); at most two
        per worker are handed out ahead of their results."""
        if n_jobs is None and hasattr(jobs, "__len__"):
            n_jobs = len(jobs)
        active = self.workers if n_jobs is None else max(1, min(self.workers, n_jobs))
        if n_jobs is not None and n_jobs < self.workers and not self._capped_said:
            log.info("%d workers asked for %d jobs: %d run", self.workers, n_jobs, active)
            self._capped_said = True
        self._stopping.clear()
        while len(self._threads) < active:
            t = threading.Thread(target=self._serve, args=(len(self._threads),), daemon=True)
            self._threads.append(t)
            t.start()
        self.ran = max(self.ran, len(self._threads))
        self._generation += 1
        gen = self._generation
        done: queue.Queue = queue.Queue()
        it = iter(jobs)
        ahead = 2 * len(self._threads)
        pending: dict[int, object] = {}
        sent = nxt = 0
        exhausted = False
        ok = False
        try:
            while True:
                while not exhausted and sent - nxt < ahead:
                    try:
                        job = next(it)
                    except StopIteration:
                        exhausted = True
                        break
                    self._todo.put((gen, sent, job, done))
                    sent += 1
                if exhausted and nxt == sent:
                    break
                while nxt not in pending:
                    try:
                        idx, res = done.get(timeout=0.1)
                    except queue.Empty:
                        continue
                    pending[idx] = res
                res = pending.pop(nxt)
                nxt += 1
                if isinstance(res, BaseException):
                    raise res
                self.stats.jobs += 1
                yield res
            ok = True
        finally:
            if not ok:  # interrupted, an error, or the consumer stopped early: stop everything now
                self.abort("interrupted" if sent != nxt else "stopped")

    def _serve(self, slot: int) -> None:
        """One worker thread: takes jobs, owns one Worker at a time, replaces it when it dies."""
        worker: Worker | None = None
        try:
            while True:
                item = self._todo.get()
                if item is None:
                    return
                gen, idx, job, done = item
                if gen != self._generation or self._stopping.is_set():
                    continue
                result: object
                for attempt in (1, 2):
                    try:
                        if worker is None or not worker.alive():
                            worker = self._start(slot, worker)
                        t0 = time.perf_counter()
                        result = worker.run(job)
                        result.worker = slot
                        break
                    except BaseException as e:  # noqa: BLE001 (handed to the consumer)
                        if self._stopping.is_set():
                            result = e
                            break
                        if attempt == 1 and crashed(worker, e):
                            log.warning("worker %d died during job %s (%s); retrying it on a fresh worker",
                                        slot, job.describe(), str(e)[:200])  # fmt: skip
                            self.stats.retries += 1
                            continue
                        if crashed(worker, e):
                            result = EvaluatorError(
                                f"job {job.describe()} failed twice: its worker died each time; last: {e}"
                            )
                        else:
                            result = e
                        break
                if not isinstance(result, BaseException):
                    with self._lock:
                        self.stats.busy_s.append(time.perf_counter() - t0)
                done.put((idx, result))
        finally:
            if worker is not None:
                with self._lock:
                    self._live.pop(slot, None)
                worker.kill("pool stopped") if self._stopping.is_set() else worker.close()

    def _start(self, slot: int, old: Worker | None) -> Worker:
        if old is not None:
            old.kill("replaced")
        w = Worker(self.name, self.timeout, slot)
        with self._lock:
            self._live[slot] = w
            self.stats.workers_started += 1
            if self._stopping.is_set():  # stopped while this one started
                w.kill("pool stopped")
                raise EvaluatorError("pool stopped")
        if self._describe is None:
            self._describe = w.runtime.describe()
        return w

    def abort(self, reason: str = "interrupted") -> None:
        """Kill every worker at once (Ctrl-C, an error): Node may be busy; nothing is waited for."""
        self._stopping.set()
        self._generation += 1
        while True:
            try:
                self._todo.get_nowait()
            except queue.Empty:
                break
        with self._lock:
            live = list(self._live.values())
        for w in live:
            w.kill(reason)
        self._shutdown_threads(wait=5.0)

    def _shutdown_threads(self, wait: float) -> None:
        for _ in self._threads:
            self._todo.put(None)
        deadline = time.monotonic() + wait
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        self._threads = []

    def close(self) -> None:
        if self._stopping.is_set():
            self._shutdown_threads(wait=5.0)
            return
        self._shutdown_threads(wait=30.0)
        with self._lock:  # threads that did not end in time
            live = list(self._live.values())
        for w in live:
            w.kill("closed")

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc):
        if exc_type is not None:
            self.abort("interrupted" if issubclass(exc_type, KeyboardInterrupt) else "error")
        self.close()


def make_pool(
    runtime_name: str,
    workers: int | None = None,
    timeout: float | None = None,
    executor: str = "local",
    ray_address: str | None = None,
):
    """A LocalPool, or (executor "ray") a RayPool on a local or existing Ray cluster."""
    if executor == "local":
        if ray_address:
            raise QuantlabError("--ray-address needs --executor ray", exit_code=2)
        return LocalPool(runtime_name, workers, timeout)
    if executor == "ray":
        from .pool_ray import RayPool

        return RayPool(runtime_name, workers, timeout, ray_address)
    raise QuantlabError(f"--executor {executor!r}: valid: {', '.join(EXECUTORS)}", exit_code=2)


def shard_bounds(n: int, batch_size: int, chunk: int, workers: int) -> list[tuple[int, int]]:
    """[start, end) shards of n examples: at most `chunk` each, at least `workers` of them when
    there are enough batches, every boundary a multiple of `batch_size`."""
    if n <= 0:
        return []
    batches = -(-n // batch_size)
    per = max(1, min(max(1, chunk // batch_size), -(-batches // max(1, workers))))
    size = per * batch_size
    return [(s, min(n, s + size)) for s in range(0, n, size)]
