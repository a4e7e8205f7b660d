"""LiteRT.js (`@litertjs/core`, Google's runtime for `.tflite` models on the web) in the same
headless Chromium as the tfjs browser runtimes: the page js/litert/index.html, served with the
LiteRT.js files from the loopback server, every other request blocked. `browser-litert-wasm` runs
XNNPack in WebAssembly (the plain single-thread build); `browser-litert-webgpu` WebGPU through
SwiftShader here (the JSPI build, so ops WebGPU lacks fall back to wasm one by one).

A LiteRT model has a fixed batch (a -1 batch fails at run): inputs are padded to whole batches
with repeats of the last example, whose outputs are dropped. LiteRT.js prints its INFO/WARNING
lines as console errors: they are not failures, and are filtered out."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ..convert.litert import MODEL_FILE
from ..errors import ArtifactError, EvaluatorError, RuntimeUnavailable
from ..infra.chromium import CHROMIUM_FLAGS, WEBGPU_FLAGS, browser_unavailable_reason
from ..infra.npm_install import evaluator_dir, npm_root
from .base import LoadedModel, PredictTimings
from .chromium_page import ChromiumPage
from .protocol import read_tensor, write_tensor

ACCELERATORS = ("wasm", "webgpu")
_NOISE = ("INFO: ", "WARNING: ", "VERBOSE: ")


def litert_dir() -> Path:
    return npm_root() / "node_modules" / "@litertjs"


def litert_missing() -> str | None:
    if not (litert_dir() / "core" / "dist" / "index.js").is_file():
        return (
            f"LiteRT.js is not installed in {npm_root()}: run `npm ci` there (@litertjs/core in package.json)"
        )
    return None


class LiteRTRuntime(ChromiumPage):
    page_api = "quantlabLiteRt"

    def __init__(
        self, accelerator: str = "wasm", timeout: float = 600.0, threads: int = 1, compress: bool = False,
        extra_flags=(), playwright=None,
    ):  # fmt: skip
        """threads > 1 (wasm): the threaded build in a cross-origin-isolated page, XNNPack's pool
        capped by what the build offers (`info["threads"]` is what it got). compress and
        extra_flags as for the tfjs page (`quantlab delivery`); playwright: a tfjs page's, to run
        beside it in the same thread (ChromiumPage._start)."""
        if accelerator not in ACCELERATORS:
            raise EvaluatorError(
                f"unknown LiteRT.js accelerator {accelerator!r}; valid: {', '.join(ACCELERATORS)}"
            )
        self.name = f"browser-litert-{accelerator}"
        reason = (
            browser_unavailable_reason("webgpu" if accelerator == "webgpu" else "wasm") or litert_missing()
        )
        if reason:
            raise RuntimeUnavailable(f"{self.name} unavailable: {reason}")
        self.accelerator = accelerator
        mounts = {
            "litert-app": evaluator_dir() / "litert",
            "litert": litert_dir() / "core",
            "litert-utils": litert_dir() / "wasm-utils" / "dist",
        }
        webgpu = accelerator == "webgpu"
        flags = [f for f in CHROMIUM_FLAGS if not (webgpu and f == "--disable-gpu")] + (
            WEBGPU_FLAGS if webgpu else []
        )
        t0 = time.perf_counter()
        flags = [*flags, *extra_flags]
        self._start(timeout, compress, mounts, "/litert-app/index.html", flags, threads > 1, playwright)
        try:
            self.page.wait_for_function(f"window.{self.page_api} !== undefined", timeout=self.timeout_ms)
            try:
                self.info = self._call("init", {"accelerator": accelerator, "threads": threads})
            except EvaluatorError as e:
                if webgpu and "unavailable" in str(e):
                    raise RuntimeUnavailable(
                        f"{self.name} unavailable: no WebGPU adapter here ({e})"
                    ) from None
                raise
        except BaseException:
            self.close()
            raise
        self.start_ms = (time.perf_counter() - t0) * 1000

    def _console(self, msg) -> None:
        if msg.type == "error" and not msg.text.startswith(_NOISE):
            self.console_errors.append(msg.text)

    def load(self, model_dir: Path) -> LoadedModel:
        model_dir = Path(model_dir)
        if not (model_dir / MODEL_FILE).is_file():
            raise ArtifactError(f"{model_dir / MODEL_FILE}: missing (a LiteRT variant is one .tflite file)")
        mount = f"m{next(self._ids)}"
        url = self.server.mount(mount, model_dir) + MODEL_FILE
        r = self._call("load", {"url": url, "accelerator": self.accelerator})
        return LoadedModel(
            (r["handle"], mount), model_dir, r["load_ms"], r["inputs"], [], r["outputs"], "tflite"
        )

    def predict(self, model, x, batch_size=256, layers=None, feeds=None):
        if layers or feeds:
            raise EvaluatorError(f"{self.name}: runs whole models only (no layer outputs, no feeds)")
        t0 = time.perf_counter()
        arrays = _in_model_order(x, [s["name"] for s in model.inputs])
        if len(arrays) != len(model.inputs):
            raise EvaluatorError(
                f"{self.name}: the model takes {len(model.inputs)} inputs, got {len(arrays)}"
            )
        n = len(arrays[0])
        batch = int(model.inputs[0]["shape"][0]) or 1
        padded = -n % batch
        n_call = next(self._ids)
        names: list[str] = []
        try:
            inputs = []
            for k, (arr, spec) in enumerate(zip(arrays, model.inputs, strict=True)):
                arr = np.asarray(arr, dtype=np.float32 if spec["dtype"] == "float32" else np.int32)
                if padded:
                    arr = np.concatenate([arr, np.repeat(arr[-1:], padded, axis=0)])
                names.append(f"lin{n_call}_{k}.bin")
                header = write_tensor(self.io_dir / names[-1], arr, spec["name"])
                inputs.append(
                    {**header, "dtype": spec["dtype"], "url": f"{self.server.origin}/io/{names[-1]}"}
                )
            outs = [f"lout{n_call}_{k}.bin" for k in range(len(model.outputs))]
            names += outs
            urls = [f"{self.server.origin}/upload/{o}" for o in outs]
            r = self._call("predict", {"handle": model.handle[0], "inputs": inputs, "output_urls": urls})
            outputs = [
                read_tensor({**o, "path": str(self.io_dir / name)})[:n]
                for name, o in zip(outs, r["outputs"], strict=True)
            ]
        finally:
            for name in names:
                (self.io_dir / name).unlink(missing_ok=True)
        total = (time.perf_counter() - t0) * 1000
        return outputs, PredictTimings(r["predict_ms"], total - r["predict_ms"], total, n)

    def describe(self) -> dict:
        return {
            "runtime": self.name,
            "backend": f"litert-{self.accelerator}",
            "litert_version": _version(),
            "threads": self.info.get("threads"),
            "start_ms": round(self.start_ms, 1),
        }


def signature_name(name: str) -> str:
    """A tensor's name as the model's signature has it ("serving_default_a:0" -> "a")."""
    return name.split(":")[0].removeprefix("serving_default_")


def _in_model_order(x, names: list[str]) -> list:
    """The input arrays in the order LiteRT.js lists the model's inputs (it names them by the
    signature, not always in the Keras model's order): by name where every name matches, else as
    given."""
    if not isinstance(x, Mapping):
        return [x]
    given = {signature_name(k): v for k, v in x.items()}
    if len(given) == len(x) and all(signature_name(n) in given for n in names):
        return [given[signature_name(n)] for n in names]
    return list(x.values())


def _version() -> str | None:
    import json

    try:
        return json.loads((litert_dir() / "core" / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return None
