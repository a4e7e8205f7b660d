"""tfjs in Node: the runtime on top of the evaluator process (node_evaluator.py), loading tfjs
artifacts and predicting named tensors, and what a model tfjs refuses to load is."""

from __future__ import annotations

import itertools
import re
import time
from pathlib import Path

from ..errors import ArtifactError, EvaluatorError
from ..infra.progress import log
from ..tfjs.artifacts import read_artifact
from .base import LoadedModel, PredictTimings, Runtime, n_examples, named_inputs
from .node_evaluator import DEFAULT_TIMEOUT_S, NodeEvaluator
from .protocol import read_tensor, write_tensor


class TfjsNodeRuntime(Runtime):
    """tfjs in Node on the given backend; models load over HTTP from a loopback server."""

    def __init__(
        self,
        backend: str = "wasm",
        timeout: float = DEFAULT_TIMEOUT_S,
        evaluator: NodeEvaluator | None = None,
    ):
        self.evaluator = evaluator or NodeEvaluator(backend, timeout=timeout)
        self.name = f"node-{self.evaluator.backend}"
        self.leaks: list[dict] = []
        self.execute_async: dict[str, bool] = {}  # graph model handle -> needed executeAsync
        self._files = itertools.count()

    def load(self, model_dir: Path) -> LoadedModel:
        read_artifact(model_dir)  # names a broken file before tfjs gives a fetch error
        try:
            r = self.evaluator.request("load", model_dir=str(Path(model_dir).resolve()))
        except EvaluatorError as e:
            err = load_failure(e, model_dir)
            if err is e:
                raise
            raise err from e
        return LoadedModel(
            r["handle"],
            Path(model_dir),
            r["load_ms"],
            r["inputs"],
            r.get("layers", []),
            outputs=r.get("outputs", []),
            format=r.get("format", "layers"),
        )

    def predict(self, model, x, batch_size=256, layers=None, feeds=None):
        t0 = time.perf_counter()
        n = next(self._files)
        named = named_inputs(model, x)
        io_dir = self.evaluator.io_dir
        n_out = len(layers) if layers else max(1, len(model.outputs))
        out_paths = [str(io_dir / f"out{n}_{k}.bin") for k in range(n_out)]
        headers: list[dict] = []
        fed: list[dict] = []
        try:
            for k, (name, arr) in enumerate(named.items()):
                headers.append(write_tensor(io_dir / f"in{n}_{k}.bin", arr, name))
            for k, (name, arr) in enumerate((feeds or {}).items()):
                fed.append(write_tensor(io_dir / f"feed{n}_{k}.bin", arr, name))
            t1 = time.perf_counter()
            r = self.evaluator.request(
                "predict",
                handle=model.handle,
                inputs=headers,
                output_paths=out_paths,
                batch_size=batch_size,
                layers=layers,
                **({"feeds": fed} if fed else {}),
            )
            t2 = time.perf_counter()
            outputs = [read_tensor(h) for h in r["outputs"]]
        finally:
            for p in [*(h["path"] for h in [*headers, *fed]), *out_paths]:
                Path(p).unlink(missing_ok=True)
        t3 = time.perf_counter()
        self.execute_async[model.handle] = bool(r.get("execute_async"))
        if r["tensors_after"] != r["tensors_before"]:
            self.leaks.append(
                {"model": str(model.model_dir), "before": r["tensors_before"], "after": r["tensors_after"]}
            )
            log.warning(
                "tfjs tensor leak in %s: %d -> %d tensors",
                model.model_dir,
                r["tensors_before"],
                r["tensors_after"],
            )
        python_io_ms = ((t1 - t0) + (t3 - t2)) * 1000
        timings = PredictTimings(
            predict_ms=r["predict_ms"],
            transfer_ms=python_io_ms + r["read_ms"] + r["write_ms"],
            total_ms=(t3 - t0) * 1000,
            examples=n_examples(named),
        )
        return outputs, timings

    def compare(self, reference, model, x, nodes, fetch, groups):
        n = next(self._files)
        headers: list[dict] = []
        try:
            for k, (name, arr) in enumerate(named_inputs(model, x).items()):
                headers.append(write_tensor(self.evaluator.io_dir / f"cmp{n}_{k}.bin", arr, name))
            return self.evaluator.request(
                "compare", reference=reference.handle, handle=model.handle, inputs=headers, nodes=nodes,
                fetch=fetch, groups=groups,
            )  # fmt: skip
        finally:
            for h in headers:
                Path(h["path"]).unlink(missing_ok=True)

    def unload(self, model: LoadedModel) -> None:
        if self.evaluator.alive():
            self.evaluator.request("unload", handle=model.handle)

    def describe(self) -> dict:
        info = self.evaluator.info
        return {
            "runtime": self.name,
            "backend": info["backend"],
            "tfjs_version": info["versions"].get("tfjs-core"),
            "versions": info["versions"],
            "node": info["node"],
            "start_ms": round(self.evaluator.start_ms, 1),
        }

    def peak_rss_mb(self) -> float | None:
        if not self.evaluator.alive():
            return None
        return round(self.evaluator.request("info")["max_rss_kb"] / 1024, 1)

    def num_tensors(self) -> int:
        return self.evaluator.request("info")["num_tensors"]

    def close(self) -> None:
        self.evaluator.close()


def load_failure(e: EvaluatorError, model_dir: Path) -> Exception:
    """A model tfjs rejects (LOAD_FAILED: an unknown layer class, a bad topology) is a broken
    artifact (exit 4), named by its folder, in one line (tfjs's first; its numbered hints dropped);
    any other evaluator failure stays what it is."""
    msg = str(e)
    if "LOAD_FAILED" not in msg:
        return e
    detail = msg.split("LOAD_FAILED: ", 1)[-1].strip().splitlines()[0].strip()
    detail = re.sub(r"^loading \S+ failed: ", "", detail)  # the path is named below, once
    if len(detail) > 300:
        detail = detail[:300] + " ..."
    return ArtifactError(f"{Path(model_dir) / 'model.json'}: tfjs cannot load it: {detail}")
