"""The same jobs as quantlab.analysis.pool, as Ray actors: each actor owns one long-lived evaluator.

Install with `pip install 'quantlab[ray]'`. Without --ray-address a local Ray instance starts
(as many CPUs as workers); with it, the pool joins that cluster. Input shards travel through
Ray's object store (they are arguments of the actor calls); artifacts are read from their path,
so on a multi-machine cluster the models folder must be on a shared file system mounted at the
same path everywhere (the driver checks nothing remote: a missing folder fails the job with the
path named). Ray schedules; quantlab only hands it (artifact, shard) jobs and merges results."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from ..errors import EvaluatorError, QuantlabError
from ..infra.progress import log
from .jobs import Job, JobResult, PoolStats, active_workers, check_workers, default_workers, fewer_reason

INSTALL = "pip install 'quantlab[ray]'"
CONNECT_TIMEOUT_S = 10.0


def _import_ray():
    try:
        import ray
    except ImportError:
        raise QuantlabError(
            f"--executor ray needs Ray, which is not installed: {INSTALL}", exit_code=2
        ) from None
    return ray


def check_ray(address: str | None) -> None:
    """Ray importable and, for host:port addresses, answering within CONNECT_TIMEOUT_S (one line
    otherwise): ray.init itself may wait for minutes on an address where nothing listens."""
    _import_ray()
    if not address or address in ("auto", "local") or address.startswith("ray://"):
        return
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise QuantlabError(f"--ray-address {address!r}: expected HOST:PORT, auto or ray://HOST:PORT", 2)
    try:
        with socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError as e:
        raise QuantlabError(
            f"--ray-address {address}: no Ray cluster answers there ({e.strerror or type(e).__name__}, "
            f"checked for {CONNECT_TIMEOUT_S:.0f} s); start one with `ray start --head` or fix the address",
            exit_code=2,
        ) from None


class _Evaluator:
    """The actor: one quantlab.analysis.worker.Worker (one evaluator process) in a Ray worker process."""

    def __init__(self, runtime_name: str, timeout: float | None, index: int):
        from quantlab.analysis.worker import Worker

        self.worker = Worker(runtime_name, timeout, index)

    def describe(self) -> dict:
        return self.worker.runtime.describe()

    def run(self, job: Job) -> JobResult:
        return self.worker.run(job)

    def close(self) -> None:
        self.worker.close()


class RayPool:
    """`workers` Ray actors, each with one evaluator; same API as LocalPool (map_jobs, imap)."""

    executor = "ray"

    def __init__(
        self, runtime_name: str, workers: int | None = None, timeout: float | None = None, address=None
    ):
        ray = _import_ray()
        check_ray(address)
        self.ray = ray
        self.name = runtime_name
        self.timeout = timeout
        self.workers = check_workers(workers) or default_workers(runtime_name)
        self.explicit = workers is not None  # --workers given: every one of them runs
        self.address = address
        self.stats = PoolStats()
        self.ran = 0
        self._we_started = False
        if not ray.is_initialized():
            kwargs = {"address": address} if address else {"num_cpus": self.workers}
            ray.init(
                **kwargs,
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
                runtime_env={"env_vars": {"PYTHONPATH": str(Path(__file__).resolve().parents[2])}},
            )
            self._we_started = True
        self._actor_cls = ray.remote(num_cpus=1, max_restarts=0)(_Evaluator)
        self._actors: list = []
        self._describe: dict | None = None

    def _new_actor(self, index: int):
        self.stats.workers_started += 1
        return self._actor_cls.remote(self.name, self.timeout, index)

    def describe(self) -> dict:
        if self._describe is None:
            if not self._actors:
                self._actors.append(self._new_actor(0))
            self._describe = self.ray.get(self._actors[0].describe.remote())
        return {**self._describe, "workers": self.workers, "executor": self.executor}

    def peak_rss_mb(self) -> float | None:
        return None

    def inspect(self, folder: Path, variant: str = "model"):
        return self.map_jobs([Job(variant, Path(folder), None)], 1)[0].model

    def map_jobs(self, jobs: Iterable[Job], n_jobs: int | None = None) -> list[JobResult]:
        return list(self.imap(jobs, n_jobs))

    def imap(
        self, jobs: Iterable[Job], n_jobs: int | None = None, light: bool = False
    ) -> Iterator[JobResult]:
        """Each free actor takes the next job; results are yielded in job order. An actor that
        dies is replaced and its job retried once on the fresh one."""
        ray = self.ray
        if n_jobs is None and hasattr(jobs, "__len__"):
            n_jobs = len(jobs)
        active = active_workers(self.workers, self.explicit, n_jobs, light)
        if active < self.workers:
            log.info(
                "%d workers asked for %s: %d run",
                self.workers,
                fewer_reason(self.workers, n_jobs, active),
                active,
            )
        while len(self._actors) < active:
            self._actors.append(self._new_actor(len(self._actors)))
        self.ran = max(self.ran, len(self._actors))
        it = iter(jobs)
        free = list(range(len(self._actors)))
        running: dict = {}  # object ref -> (actor slot, index, job, attempt)
        results: dict[int, JobResult] = {}
        sent = nxt = 0
        exhausted = False
        ok = False
        try:
            while True:
                while free and not exhausted:
                    try:
                        job = next(it)
                    except StopIteration:
                        exhausted = True
                        break
                    slot = free.pop(0)
                    running[self._actors[slot].run.remote(job)] = (slot, sent, job, 1)
                    sent += 1
                while nxt in results:
                    r = results.pop(nxt)
                    nxt += 1
                    self.stats.jobs += 1
                    yield r
                if exhausted and not running and nxt == sent:
                    break
                ready, _ = ray.wait(list(running), num_returns=1, timeout=0.2)
                for ref in ready:
                    slot, idx, job, attempt = running.pop(ref)
                    try:
                        r = ray.get(ref)
                    except (ray.exceptions.ActorDiedError, ray.exceptions.RayActorError) as e:
                        r = self._retry_or_fail(slot, job, attempt, e, running, idx)
                        if r is None:
                            continue  # resubmitted
                    except ray.exceptions.RayTaskError as e:
                        cause = _unwrap(e)
                        if isinstance(cause, EvaluatorError) and "exited with code" in str(cause):
                            r = self._retry_or_fail(slot, job, attempt, cause, running, idx)
                            if r is None:
                                continue
                        else:
                            raise _unwrap(e) from None
                    r.worker = slot
                    results[idx] = r
                    free.append(slot)
            ok = True
        finally:
            if not ok:
                for ref in running:
                    ray.cancel(ref, force=True)
                self._kill_actors()

    def _retry_or_fail(self, slot, job, attempt, error, running, idx):
        ray = self.ray
        try:
            ray.kill(self._actors[slot])
        except Exception:  # noqa: BLE001 (already gone)
            pass
        self._actors[slot] = self._new_actor(slot)
        if attempt == 1:
            log.warning("worker %d died during job %s (%s); retrying it on a fresh worker",
                        slot, job.describe(), str(error)[:200])  # fmt: skip
            self.stats.retries += 1
            running[self._actors[slot].run.remote(job)] = (slot, idx, job, 2)
            return None
        raise EvaluatorError(f"job {job.describe()} failed twice: its worker died each time; last: {error}")

    def _kill_actors(self) -> None:
        for a in self._actors:
            try:
                self.ray.kill(a)
            except Exception:  # noqa: BLE001
                pass
        self._actors = []

    def abort(self, reason: str = "interrupted") -> None:
        self._kill_actors()

    def close(self) -> None:
        if self._actors:
            try:
                self.ray.get([a.close.remote() for a in self._actors], timeout=30)
            except Exception:  # noqa: BLE001 (then they are killed)
                pass
        self._kill_actors()
        if self._we_started:
            t0 = time.perf_counter()
            self.ray.shutdown()
            log.debug("ray shutdown in %.1f s", time.perf_counter() - t0)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc):
        if exc_type is not None:
            self.abort()
        self.close()


def _unwrap(e):
    """A job's own error (a broken artifact, a bad input), as quantlab raises it locally."""
    cause = getattr(e, "cause", None)
    return cause if isinstance(cause, BaseException) else e
