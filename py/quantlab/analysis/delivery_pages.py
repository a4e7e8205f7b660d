"""The headless Chromium pages of `quantlab delivery`: each loads a variant from its own
compressing loopback server under DevTools network emulation and measures it (`_Page`); `PageRunner`
drives the loads on several pages at once, in threads, and stops every Chromium on an interrupt."""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from pathlib import Path

from ..errors import EvaluatorError
from ..infra.progress import log
from ..tfjs import MODEL_JSON
from .delivery import PROFILES
from .delivery_schedule import SHORT_TRANSFER_S, JobQueue, LoadJob


class _Page:
    """One Chromium page with the compressing loopback server and a CDP session; restarted after a
    crash or a timeout (the old browser is killed first, so no Chromium is left behind). LiteRT
    variants (a .tflite) load in a LiteRT.js page beside it, started at the first one, under the
    same network emulation."""

    def __init__(self, backend: str, timeout: float, extra_flags=(), litert: bool = False):
        self.args = (backend, timeout, tuple(extra_flags))
        self.litert = litert  # LiteRT variants to load: its page starts with this one, before any timed load
        self.rt = None  # the tfjs page
        self.lite = None  # the LiteRT.js page
        self.cdps: dict[int, object] = {}
        self.profile: str | None = None
        self.accept: list[str] = []  # the Accept-Encoding headers its servers saw, over restarts
        self.start()

    def start(self) -> None:
        from ..runtimes.browser import BrowserRuntime

        backend, timeout, flags = self.args
        self.rt = BrowserRuntime(backend, timeout=timeout, compress=True, extra_flags=flags)
        try:
            self._attach(self.rt)
            if self.litert:
                self._lite()
        except BaseException:
            self.close()  # the tfjs page too: nothing of a page that failed to start stays
            raise

    def _attach(self, rt) -> None:
        cdp = rt.page.context.new_cdp_session(rt.page)
        cdp.send("Network.enable")
        self.cdps[id(rt)] = cdp
        if self.profile:
            self._emulate(cdp, self.profile)

    @staticmethod
    def _emulate(cdp, profile: str) -> None:
        p = PROFILES[profile]
        cdp.send(
            "Network.emulateNetworkConditions",
            {
                "offline": False,
                "latency": p["latency_ms"],
                "downloadThroughput": p["download_bytes_per_s"],
                "uploadThroughput": p["upload_bytes_per_s"],
            },
        )

    def emulate(self, profile: str) -> None:
        for cdp in self.cdps.values():
            self._emulate(cdp, profile)
        self.profile = profile

    def _runtime_for(self, folder: Path):
        """(the page that loads `folder`, the file it requests)."""
        from ..convert.litert import MODEL_FILE

        if not (Path(folder) / MODEL_FILE).is_file():
            return self.rt, MODEL_JSON
        return self._lite(), MODEL_FILE

    def _lite(self):
        if self.lite is None:
            from ..runtimes.litert import LiteRTRuntime

            _, timeout, flags = self.args
            self.lite = LiteRTRuntime(
                "wasm", timeout=timeout, compress=True, extra_flags=flags, playwright=self.rt._pw
            )
            self._attach(self.lite)
        return self.lite

    @property
    def dead(self) -> bool:
        return any(rt is not None and rt.dead for rt in (self.rt, self.lite))

    def measure(self, folder: Path, mount: str) -> dict:
        rt, file = self._runtime_for(folder)
        url = rt.server.mount(mount, folder) + file
        try:
            r = rt._call("deliver", {"url": url})
            try:
                heap = self.cdps[id(rt)].send("Runtime.getHeapUsage")
                r["js_heap_used_bytes"] = int(heap["usedSize"])
            finally:
                rt._call("unload", r.pop("handle"))
        finally:
            rt.server.unmount(mount)
        return r

    def close(self) -> None:
        # The LiteRT page runs on the tfjs page's Playwright: it goes first; killed (by its own
        # marker) when the tfjs page was stopped, since that stopped the Playwright it ran on.
        for rt in (self.lite, self.rt):
            if rt is not None:
                self.accept += [a for a in rt.server.accept_encodings if a not in self.accept]
                if rt is self.lite and self.rt is not None and self.rt.dead:
                    rt.kill("the tfjs page beside it was stopped")
                else:
                    rt.close()
        self.lite = None
        self.cdps = {}


def _page_error(e: EvaluatorError) -> str:
    msg = str(e)
    if "allocation failed" in msg.lower() or "out of memory" in msg.lower() or "crashed" in msg.lower():
        return f"does not fit in the page's memory: {msg}"
    return msg


class PageRunner:
    """Runs the loads: the throttled ones on up to `pages` pages at once (the calling thread drives
    one, a thread each drives the others), then the unthrottled ones in the calling thread's page.
    Every Chromium it starts carries one run marker, so an interrupt or a failure anywhere kills
    them all (even one still starting) before the threads close their Playwright."""

    def __init__(self, backend: str, timeout: float, extra_flags, pages: int, litert: bool = False):
        self.backend, self.timeout, self.pages, self.litert = backend, timeout, pages, litert
        self.marker = f"--quantlab-delivery-run={uuid.uuid4().hex}"
        self.flags = (*extra_flags, self.marker)
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.samples: dict = {}
        self.errors: dict = {}
        self.seconds: dict = {}
        self.intervals: list[tuple[float, float]] = []  # the throttled loads, for peak_overlap
        self.fatal: BaseException | None = None
        self.info: dict | None = None
        self.accept: list[str] = []
        self._mounts = itertools.count(1)

    def _open(self) -> _Page:
        page = _Page(self.backend, self.timeout, self.flags, self.litert)
        with self.lock:
            if self.info is None:
                self.info = page.rt.describe()
        return page

    def _close(self, page: _Page | None) -> None:
        if page is None:
            return
        page.close()
        with self.lock:
            self.accept += [a for a in page.accept if a not in self.accept]

    def _loads(self, page: _Page, queue: JobQueue, concurrent: bool) -> None:
        while not self.stop.is_set():
            job = queue.take()
            if job is None:
                return
            try:
                self._load(page, job, concurrent)
            finally:
                queue.done(job)

    def _load(self, page: _Page, job: LoadJob, concurrent: bool) -> None:
        with self.lock:
            if job.key in self.errors:
                return
            mount = f"d{next(self._mounts)}"
        if page.profile != job.profile:
            page.emulate(job.profile)
        t0 = time.perf_counter()
        try:
            r = page.measure(job.folder, mount)
        except EvaluatorError as e:
            if self.stop.is_set():
                return  # the run is being stopped: not this variant's fault
            with self.lock:
                self.errors[job.key] = _page_error(e)
                self.samples.pop(job.key, None)
                self.seconds[job.key] += time.perf_counter() - t0
            log.warning("%s: %s", "/".join(k for k in job.key if k), self.errors[job.key])
            if page.dead:
                page.close()
                page.start()
            return
        t1 = time.perf_counter()
        with self.lock:
            self.seconds[job.key] += t1 - t0
            if job.key in self.samples:
                self.samples[job.key][job.profile].append(r)
            if concurrent:
                self.intervals.append((t0, t1))

    def _worker(self, queue: JobQueue, barrier: threading.Barrier) -> None:
        page = None
        try:
            page = self._open()
            barrier.wait()
            self._loads(page, queue, concurrent=True)
        except threading.BrokenBarrierError:
            pass  # another page failed to start, or the run is being stopped
        except BaseException as e:
            with self.lock:
                if self.fatal is None and not self.stop.is_set():
                    self.fatal = e
            self.stop.set()
            barrier.abort()
        finally:
            self._close(page)

    def _join(self, threads: list[threading.Thread], patience: float | None = None) -> None:
        deadline = None if patience is None else time.monotonic() + patience
        for t in threads:
            while t.is_alive() and (deadline is None or time.monotonic() < deadline):
                t.join(0.2)  # short waits: Ctrl-C reaches this (main) thread between them

    def run(self, concurrent_jobs: list[LoadJob], sequential_jobs: list[LoadJob], cpu_slots: int) -> None:
        from ..infra.chromium import kill_marked

        n = max(1, min(self.pages, len(concurrent_jobs)))
        self.queue = queue = JobQueue(concurrent_jobs, cpu_slots, SHORT_TRANSFER_S, self.stop)
        barrier = threading.Barrier(n)
        threads = [
            threading.Thread(
                target=self._worker, args=(queue, barrier), name=f"delivery-page-{i}", daemon=True
            )
            for i in range(1, n)
        ]
        page = None
        try:
            for t in threads:
                t.start()
            page = self._open()
            if n > 1:
                barrier.wait()  # every page up before the first timed load: no Chromium start-up under it
            self._loads(page, queue, concurrent=n > 1)
            self._join(threads)
            if self.fatal is not None:
                raise self.fatal
            self._loads(page, JobQueue(sequential_jobs, 1, 0.0, self.stop, lpt=False), concurrent=False)
        except BaseException as e:
            # Ctrl-C, SIGTERM (signals.Terminated), a page that failed: stop every page now. The
            # threads then see their calls fail, close their own Playwright and Chromium, and end.
            self.stop.set()
            barrier.abort()
            kill_marked(self.marker)
            self._join(threads, patience=30.0)
            kill_marked(self.marker)  # one that was still starting when the first kill ran
            if isinstance(e, threading.BrokenBarrierError) and self.fatal is not None:
                raise self.fatal from None  # a page that failed to start: its error, not the barrier's
            raise
        finally:
            self._close(page)
