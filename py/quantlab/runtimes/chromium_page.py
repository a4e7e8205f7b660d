"""A quantlab page in Debian's headless Chromium, driven by Playwright (no browser download): the
page and what it loads come from a loopback server, any request that would leave 127.0.0.1 is
blocked and reported, a call that runs past the timeout or crashes the page stops Chromium, and
closing (or an interrupt) leaves no process and no temp folder. The tfjs runtimes (browser.py) and
LiteRT.js (litert.py) are such pages, each with its own window.<page_api> object."""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
import threading
from pathlib import Path

from ..errors import EvaluatorError
from ..infra.chromium import chromium_path, kill_marked, marked_pids
from .base import LoadedModel, Runtime

_ENV_LOCK = threading.Lock()  # os.environ is changed for a moment while Playwright's driver starts


# Chromium's <TMPDIR>/org.chromium.Chromium.XXXXXX/SingletonSocket must fit a Unix socket path
# (107 bytes): room for 46 after the folder made here, and some to spare.
_SOCKET_ROOM = 56


def short_temp_dir() -> Path:
    """A new temp folder whose path leaves Chromium room for its socket: under $TMPDIR, or under
    /tmp when $TMPDIR is too deep (Chromium would abort with "Socket path too long")."""
    base = tempfile.gettempdir()
    if len(base) + 12 + _SOCKET_ROOM > 107 and os.access("/tmp", os.W_OK):
        base = "/tmp"
    return Path(tempfile.mkdtemp(prefix="ql", dir=base))


class ChromiumPage(Runtime):
    page_api = "quantlab"  # the page's window.<page_api> object that _call drives

    def _start(
        self, timeout: float, compress: bool, mounts: dict[str, Path], page: str, flags: list[str],
        isolated: bool = False, playwright=None,
    ) -> None:  # fmt: skip
        """A loopback server with `mounts` (and io/ for tensors), Chromium on `page` of it; every
        request that would leave 127.0.0.1 blocked. Closes what it made when it fails. isolated:
        the page is cross-origin isolated (wasm threads allowed). playwright: another page's
        running Playwright to launch this Chromium with (one thread drives one Playwright at a
        time); that page stops it, after this one is closed."""
        from playwright.sync_api import sync_playwright

        from ..infra.loopback import LoopbackServer

        self.timeout_s = timeout
        self.timeout_ms = timeout * 1000
        self._timed_out: str | None = None
        self._crashed = False
        self.io_dir = Path(tempfile.mkdtemp(prefix="quantlab-browser-"))
        self.server = LoopbackServer(upload_dir=self.io_dir, compress=compress, isolated=isolated)
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
        self.tmp_dir = tmp = short_temp_dir()
        self._own_pw = playwright is None
        if playwright is not None:
            self._pw = playwright
        else:
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

    def unload(self, model: LoadedModel) -> None:
        if self.dead:
            return
        self._call("unload", model.handle[0])
        self.server.unmount(model.handle[1])

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
            lambda: self._pw.stop() if getattr(self, "_own_pw", True) else None,
            lambda: self.server.close(),
        ):
            try:
                step()
            except Exception:
                pass
        shutil.rmtree(self.io_dir, ignore_errors=True)
        shutil.rmtree(getattr(self, "tmp_dir", self.io_dir), ignore_errors=True)
