"""One evaluator and the models it keeps loaded: runs the pools' jobs one at a time (in a
LocalPool's thread, or in a Ray actor)."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

from ..errors import EvaluatorError
from ..runtimes.base import LoadedModel, PredictTimings
from .jobs import Job, JobResult, artifact_key


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
