"""tfjs in a real browser: Debian's headless Chromium driven by Playwright (no browser
download), loading the same artifacts over HTTP from a loopback server. Any request that would
leave 127.0.0.1 is blocked and reported."""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

from ..errors import EvaluatorError, RuntimeUnavailable
from ..infra.chromium import (
    CHROMIUM_FLAGS,
    WEBGPU_FLAGS,
    browser_unavailable_reason,
    chromium_path,
    kill_marked,
    marked_pids,
    webgpu_dist,
)
from ..infra.npm_install import evaluator_dir, npm_root
from ..tfjs.artifacts import read_artifact
from .base import LoadedModel, PredictTimings, Runtime, n_examples, named_inputs
from .protocol import read_tensor, write_tensor

# browser-<name> -> (tfjs backend, tfjs flags set before the backend starts). webgl-f16 keeps every
# intermediate in 16-bit float textures, as many phone GPUs do (tensorflow/tfjs#1670):
# WEBGL_RENDER_FLOAT32_ENABLED is derived from WEBGL_FORCE_F16_TEXTURES in tfjs-backend-webgl 4.22's
# flags_webgl.js; both are set, and the page checks they took effect (precision probe).
BACKENDS = {
    "cpu": ("cpu", {}),
    "wasm": ("wasm", {}),
    "webgl": ("webgl", {}),
    "webgl-f16": ("webgl", {"WEBGL_FORCE_F16_TEXTURES": True, "WEBGL_RENDER_FLOAT32_ENABLED": False}),
    "webgpu": ("webgpu", {}),
}

_ENV_LOCK = threading.Lock()  # os.environ is changed for a moment while Playwright's driver starts


class BrowserRuntime(Runtime):
    page_api = "quantlab"  # the page's window.<page_api> object that _call drives

    def __init__(self, backend: str = "wasm", timeout: float = 600.0, compress: bool = False, extra_flags=()):
        """`compress`: the loopback server answers Accept-Encoding (gzip, br) as a CDN does.
        `extra_flags`: more Chromium switches (e.g. a page memory limit)."""
        if backend not in BACKENDS:
            raise EvaluatorError(f"unknown browser backend {backend!r}; valid: {', '.join(BACKENDS)}")
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
        self._start(timeout, compress, mounts, "/app/index.html", [*flags, *extra_flags])
        try:
            scripts = ["/tfjs-webgpu/tf-backend-webgpu.min.js"] if backend == "webgpu" else []
            try:
                self.info = self._call("init", {"backend": tf_backend, "flags": tf_flags, "scripts": scripts})
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

    def _start(
        self, timeout: float, compress: bool, mounts: dict[str, Path], page: str, flags: list[str]
    ) -> None:
        """A loopback server with `mounts` (and io/ for tensors), Chromium on `page` of it; every
        request that would leave 127.0.0.1 blocked. Closes what it made when it fails."""
        from playwright.sync_api import sync_playwright

        from ..infra.loopback import LoopbackServer

        self.timeout_s = timeout
        self.timeout_ms = timeout * 1000
        self._timed_out: str | None = None
        self._crashed = False
        self.io_dir = Path(tempfile.mkdtemp(prefix="quantlab-browser-"))
        self.server = LoopbackServer(upload_dir=self.io_dir, compress=compress)
        for name, folder in mounts.items():
            self.server.mount(name, folder)
        self.server.mount("io", self.io_dir)
        self.blocked: list[str] = []
        self.dead: str | None = None  # why the browser was stopped (then every call fails fast)
        self.console_errors: list[str] = []
        self._ids = itertools.count(1)
        # Playwright's driver (its profile and artifacts folders) and Chromium (its
        # org.chromium.Chromium.* folders) write temp folders that an interrupted run never removes:
        # both get a TMPDIR of their own, which close() and kill() remove whole. Short: Chromium's
        # SingletonSocket path under it must fit a Unix socket's 108 bytes.
        self.tmp_dir = tmp = Path(tempfile.mkdtemp(prefix="ql"))
        with _ENV_LOCK:
            before = os.environ.get("TMPDIR")
            os.environ["TMPDIR"] = str(tmp)
            try:
                self._pw = sync_playwright().start()
            finally:
                if before is None:
                    os.environ.pop("TMPDIR", None)
                else:
                    os.environ["TMPDIR"] = before
        try:
            self.browser = self._pw.chromium.launch(
                executable_path=chromium_path(),
                headless=True,
                # an unknown switch Chromium ignores: marks our browser so kill() can find it
                args=[*flags, f"--quantlab-io-dir={self.io_dir}"],
                env={**os.environ, "TMPDIR": str(tmp)},
            )
            self.page = self.browser.new_page()
            self.page.route("**/*", self._guard)
            self.page.on("console", self._console)
            self.page.on("pageerror", lambda e: self.console_errors.append(f"pageerror: {e}"))
            self.page.on("crash", self._on_crash)
            self.page.goto(f"{self.server.origin}{page}", timeout=self.timeout_ms)
        except BaseException:
            self.close()
            raise

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

    def _on_crash(self, *_):
        self._crashed = True

    def _on_timeout(self, fn: str) -> None:
        """From the watchdog thread: SIGKILL our Chromium so the waiting call returns now (Playwright
        itself is closed by the caller's thread)."""
        self._timed_out = fn
        kill_marked(f"--quantlab-io-dir={self.io_dir}")

    def _guard(self, route) -> None:
        if route.request.url.startswith(self.server.origin + "/"):
            route.continue_()
        else:
            self.blocked.append(route.request.url)
            route.abort()

    def _console(self, msg) -> None:
        if msg.type == "error":
            self.console_errors.append(msg.text)

    def _call(self, fn: str, arg):
        from playwright.sync_api import Error as PlaywrightError

        if self.dead:
            raise EvaluatorError(f"{self.name}: the browser was stopped earlier ({self.dead}); cannot {fn}")
        watchdog = threading.Timer(self.timeout_s, self._on_timeout, args=(fn,))
        watchdog.daemon = True
        watchdog.start()
        try:
            return self.page.evaluate(f"(arg) => window.{self.page_api}.{fn}(arg)", arg)
        except (KeyboardInterrupt, SystemExit) as e:
            # Interrupted while the page works (Ctrl-C, SIGTERM): do not wait for the page or
            # for Playwright; kill Chromium now so the cleanup that follows returns at once.
            self.kill(f"interrupted by {type(e).__name__} during {fn}")
            raise
        except PlaywrightError as e:
            msg = str(e).splitlines()[0].removeprefix("Page.evaluate: ").removeprefix("Error: ")
            if self._timed_out:
                self.kill(f"{fn} timed out")
                raise EvaluatorError(
                    f"{self.name}: {fn} timed out after {self.timeout_s:g} s (--timeout); "
                    "the browser was stopped"
                ) from None
            if self._crashed or "crash" in msg.lower():
                self.kill(f"the page crashed during {fn}")
                raise EvaluatorError(
                    f"{self.name}: the page crashed during {fn} (out of memory?); the browser was stopped"
                ) from None
            raise EvaluatorError(f"{self.name}: {fn} failed in the page: {msg}") from e
        finally:
            watchdog.cancel()

    def load(self, model_dir: Path) -> LoadedModel:
        read_artifact(model_dir)
        mount = f"m{next(self._ids)}"
        url = self.server.mount(mount, Path(model_dir)) + "model.json"
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

    def unload(self, model: LoadedModel) -> None:
        if self.dead:
            return
        self._call("unload", model.handle[0])
        self.server.unmount(model.handle[1])

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

    def _chromium_pids(self) -> list[int]:
        """Our Chromium (the process launched with our --quantlab-io-dir) and its descendants."""
        return marked_pids(f"--quantlab-io-dir={self.io_dir}")

    def kill(self, reason: str = "killed") -> None:
        """Stop Chromium at once (SIGKILL to our browser and its children), then close the rest
        without waiting on the page; marks the runtime dead. Safe to call more than once."""
        self.dead = self.dead or reason
        kill_marked(f"--quantlab-io-dir={self.io_dir}")
        self.close()

    def close(self) -> None:
        for step in (
            lambda: self.browser.close(),
            lambda: self._pw.stop(),
            lambda: self.server.close(),
        ):
            try:
                step()
            except Exception:
                pass
        shutil.rmtree(self.io_dir, ignore_errors=True)
        shutil.rmtree(getattr(self, "tmp_dir", self.io_dir), ignore_errors=True)
