"""LocalPool: the one load -> predict loop spread over many long-lived tfjs evaluators on this machine.

The unit of work is a `Job` (quantlab.analysis.jobs); a pool runs jobs on any of its workers and
hands results back in job order, so merged outputs are bit-identical to one process running the
same jobs.

  LocalPool(runtime_name, workers, timeout)   N evaluator processes on this machine (threads in
                                              this process each drive one long-lived evaluator)
  RayPool (quantlab.analysis.pool_ray)        the same jobs as Ray actors, one evaluator each
  make_pool (quantlab.analysis.executors)     the one or the other, as --executor says

A worker that dies during a job is replaced and the job retried once on the fresh worker; a
second death is one error naming the job. Ctrl-C (or any error) stops every worker at once."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from ..errors import EvaluatorError
from ..infra.progress import log
from ..runtimes.base import LoadedModel
from .jobs import Job, JobResult, PoolStats, active_workers, check_workers, default_workers, fewer_reason
from .worker import Worker, crashed


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
        self.explicit = workers is not None  # --workers given: every one of them runs
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

    def imap(
        self, jobs: Iterable[Job], n_jobs: int | None = None, light: bool = False
    ) -> Iterator[JobResult]:
        """Results in job order. `jobs` may be lazy (made while earlier ones run); at most two
        per worker are handed out ahead of their results. `light`: less work than starting
        another evaluator (jobs.light_work): one worker runs it, unless --workers was given."""
        if n_jobs is None and hasattr(jobs, "__len__"):
            n_jobs = len(jobs)
        active = active_workers(self.workers, self.explicit, n_jobs, light)
        if active < self.workers and not self._capped_said:
            log.info(
                "%d workers asked for %s: %d run",
                self.workers,
                fewer_reason(self.workers, n_jobs, active),
                active,
            )
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
