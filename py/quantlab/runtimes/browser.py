"""tfjs in a real browser: Debian's headless Chromium driven by Playwright (no browser
download), loading the same artifacts over HTTP from a loopback server. Any request that would
leave 127.0.0.1 is blocked and reported."""

from __future__ import annotations

import time
from pathlib import Path

from ..errors import EvaluatorError, RuntimeUnavailable
from ..infra.chromium import (
    CHROMIUM_FLAGS,
    WEBGPU_FLAGS,
    browser_unavailable_reason,
    webgpu_dist,
)
from ..infra.npm_install import evaluator_dir, npm_root
from ..tfjs import MODEL_JSON
from ..tfjs.artifacts import read_artifact
from .base import LoadedModel, PredictTimings, n_examples, named_inputs
from .chromium_page import ChromiumPage
from .protocol import read_tensor, write_tensor
from .registry import PAGE_BACKENDS as BACKENDS


class BrowserRuntime(ChromiumPage):
    def __init__(
        self, backend: str = "wasm", timeout: float = 600.0, compress: bool = False, extra_flags=(),
        threads: int = 1,
    ):  # fmt: skip
        """`compress`: the loopback server answers Accept-Encoding (gzip, br) as a CDN does.
        `extra_flags`: more Chromium switches (e.g. a page memory limit). `threads` (wasm only):
        more than 1 serves the page cross-origin isolated and asks tfjs-backend-wasm for that many
        threads (tfjs caps them itself: `info["threads"]` is what it really uses)."""
        if backend not in BACKENDS:
            raise EvaluatorError(f"unknown browser backend {backend!r}; valid: {', '.join(BACKENDS)}")
        if threads != 1 and backend != "wasm":
            raise EvaluatorError(f"browser-{backend}: threads apply to the wasm backend only")
        reason = browser_unavailable_reason(backend)
        if reason:
            raise RuntimeUnavailable(f"browser-{backend} unavailable: {reason}")
        self.name = f"browser-{backend}"
        tfjs = npm_root() / "node_modules" / "@tensorflow"
        mounts = {
            "app": evaluator_dir() / "browser",
            "tfjs": tfjs / "tfjs" / "dist",
            "tfjs-wasm": tfjs / "tfjs-backend-wasm" / "dist",
        }
        if webgpu_dist().is_dir():
            mounts["tfjs-webgpu"] = webgpu_dist()
        tf_backend, tf_flags = BACKENDS[backend]
        flags = [f for f in CHROMIUM_FLAGS if not (backend == "webgpu" and f == "--disable-gpu")]
        flags += WEBGPU_FLAGS if backend == "webgpu" else []
        t0 = time.perf_counter()
        self._start(timeout, compress, mounts, "/app/index.html", [*flags, *extra_flags], threads > 1)
        try:
            scripts = ["/tfjs-webgpu/tf-backend-webgpu.min.js"] if backend == "webgpu" else []
            try:
                self.info = self._call(
                    "init", {"backend": tf_backend, "flags": tf_flags, "scripts": scripts, "threads": threads}
                )
            except EvaluatorError as e:
                if backend == "webgpu" and "unavailable" in str(e):
                    raise RuntimeUnavailable(
                        f"browser-webgpu unavailable: this Chromium gives no WebGPU adapter with "
                        f"{' '.join(WEBGPU_FLAGS)} ({e}); needs Chromium >= 113 with Vulkan/SwiftShader"
                    ) from None
                raise
            self._check_precision(backend)
        except BaseException:
            self.close()
            raise
        self.start_ms = (time.perf_counter() - t0) * 1000

    def _check_precision(self, backend: str) -> None:
        """webgl-f16 must really compute in float16: the flags read back as set, and 1 + 2^-11 (exact
        in float32, halfway to the next float16) comes back as 1."""
        probe = self.info.get("precision_probe")
        self.info["precision"] = "float16" if probe == 1.0 else "float32"
        if backend != "webgl-f16":
            return
        flags = self.info.get("flags", {})
        if flags != BACKENDS[backend][1] or probe != 1.0:
            raise EvaluatorError(
                f"{self.name}: float16 textures did not take effect (flags {flags}, 1 + 2^-11 -> {probe})"
            )

    def load(self, model_dir: Path) -> LoadedModel:
        read_artifact(model_dir)
        mount = f"m{next(self._ids)}"
        url = self.server.mount(mount, Path(model_dir)) + MODEL_JSON
        r = self._call("load", url)
        return LoadedModel(
            (r["handle"], mount),
            Path(model_dir),
            r["load_ms"],
            r["inputs"],
            r.get("layers", []),
            outputs=r.get("outputs", []),
            format=r.get("format", "layers"),
        )

    def predict(self, model, x, batch_size=256, layers=None, feeds=None):
        t0 = time.perf_counter()
        n = next(self._ids)
        named = named_inputs(model, x)
        n_out = len(layers) if layers else max(1, len(model.outputs))
        out_names = [f"out{n}_{k}.bin" for k in range(n_out)]
        in_names: list[str] = []
        try:
            inputs = []
            for k, (name, arr) in enumerate(named.items()):
                in_names.append(f"in{n}_{k}.bin")
                header = write_tensor(self.io_dir / in_names[-1], arr, name)
                inputs.append({**header, "url": f"{self.server.origin}/io/{in_names[-1]}"})
            fed = []
            for k, (name, arr) in enumerate((feeds or {}).items()):
                in_names.append(f"feed{n}_{k}.bin")
                header = write_tensor(self.io_dir / in_names[-1], arr, name)
                fed.append({**header, "url": f"{self.server.origin}/io/{in_names[-1]}"})
            r = self._call(
                "predict",
                {
                    "handle": model.handle[0],
                    "inputs": inputs,
                    "output_urls": [f"{self.server.origin}/upload/{name}" for name in out_names],
                    "batch_size": batch_size,
                    "layers": layers,
                    **({"feeds": fed} if fed else {}),
                },
            )
            outputs = [
                read_tensor({**o, "path": str(self.io_dir / name)})
                for name, o in zip(out_names, r["outputs"], strict=True)
            ]
        finally:
            for name in [*in_names, *out_names]:
                (self.io_dir / name).unlink(missing_ok=True)
        total = (time.perf_counter() - t0) * 1000
        return outputs, PredictTimings(
            predict_ms=r["predict_ms"],
            transfer_ms=total - r["predict_ms"],
            total_ms=total,
            examples=n_examples(named),
        )

    def compare(self, reference, model, x, nodes, fetch, groups):
        n = next(self._ids)
        names: list[str] = []
        try:
            inputs = []
            for k, (name, arr) in enumerate(named_inputs(model, x).items()):
                names.append(f"cmp{n}_{k}.bin")
                header = write_tensor(self.io_dir / names[-1], arr, name)
                inputs.append({**header, "url": f"{self.server.origin}/io/{names[-1]}"})
            args = {"reference": reference.handle[0], "handle": model.handle[0], "inputs": inputs}
            return self._call("compare", {**args, "nodes": nodes, "fetch": fetch, "groups": groups})
        finally:
            for name in names:
                (self.io_dir / name).unlink(missing_ok=True)

    def describe(self) -> dict:
        return {
            "runtime": self.name,
            "backend": self.info["backend"],
            "tfjs_version": self.info["tfjs_version"],
            "user_agent": self.info["user_agent"],
            "precision": self.info.get("precision"),
            "tf_flags": self.info.get("flags", {}),
            "start_ms": round(self.start_ms, 1),
            "blocked_requests": list(self.blocked),
            "console_errors": list(self.console_errors),
        }
