"""The client of one long-lived js/evaluator.mjs process: started with the chosen backend, jobs
over JSON lines on stdin/stdout, Node's stderr kept for errors, a crash or a hang reported in one
line, and the process always cleaned up (Ctrl-C, SIGTERM, exit)."""

from __future__ import annotations

import atexit
import collections
import itertools
import json
import os
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from ..errors import EvaluatorError
from ..infra.node import find_node
from ..infra.npm_install import evaluator_dir, npm_root
from ..infra.progress import log
from .protocol import protocol

START_TIMEOUT_S = 120.0
DEFAULT_TIMEOUT_S = 600.0


class NodeEvaluator:
    """One Node process serving many jobs over JSON lines; always cleaned up, even on Ctrl-C."""

    def __init__(
        self,
        backend: str = "wasm",
        script: Path | None = None,
        start_timeout: float = START_TIMEOUT_S,
        timeout: float = DEFAULT_TIMEOUT_S,
    ):
        if backend not in protocol()["backends"]:
            raise EvaluatorError(
                f"unknown tfjs backend {backend!r}; valid: {', '.join(protocol()['backends'])}", exit_code=2
            )
        from ..infra.setup_tfjs_node import ENV as TFJS_NODE_ENV
        from ..infra.setup_tfjs_node import tfjs_node_dir

        self.backend = backend
        # An installed quantlab installs its npm packages here on first use (node_packages); a
        # given `script` (tests' fake evaluators) installs nothing.
        self.script = Path(script or evaluator_dir() / "evaluator.mjs")
        root = npm_root(install=script is None)
        env = {**os.environ, TFJS_NODE_ENV: str(tfjs_node_dir())}
        self.timeout = timeout
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=40)
        self._ids = itertools.count(1)
        self._lines: queue.Queue[str | None] = queue.Queue()
        self.dead: str | None = None  # why the process was stopped (then every request fails fast)
        self.io_dir = Path(tempfile.mkdtemp(prefix="quantlab-io-"))
        t0 = time.perf_counter()
        try:
            self.proc = subprocess.Popen(
                [find_node(), str(self.script), "--backend", backend],
                cwd=root if root.is_dir() else None,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                bufsize=1,
                start_new_session=True,
            )
        except BaseException:
            shutil.rmtree(self.io_dir, ignore_errors=True)
            raise
        atexit.register(self.close)
        threading.Thread(target=self._pump_stdout, daemon=True).start()
        self._stderr_pump = threading.Thread(target=self._pump_stderr, daemon=True)
        self._stderr_pump.start()
        try:
            self.info = self._receive(None, start_timeout, "start-up")
        except BaseException as e:
            self.kill(f"start-up failed ({type(e).__name__})")
            raise
        self.start_ms = (time.perf_counter() - t0) * 1000

    def _pump_stdout(self) -> None:
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)  # EOF: the process ended

    def _pump_stderr(self) -> None:
        for line in self.proc.stderr:
            self.stderr_tail.append(line.rstrip())
            log.debug("node: %s", line.rstrip())

    def _died(self, what: str) -> EvaluatorError:
        code = self.proc.poll()
        if code is not None:  # its last words: the stderr pump reads them until EOF (bounded wait)
            self._stderr_pump.join(timeout=5)
        tail = " | ".join(line for line in list(self.stderr_tail)[-3:] if line) or "no stderr"
        self.close()
        return EvaluatorError(
            f"tfjs evaluator ({self.script.name}) exited with code {code} during {what}: {tail}"
        )

    def _receive(self, request_id: int | None, timeout: float, what: str) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                line = self._lines.get(timeout=max(0.0, left))
            except queue.Empty:
                self.kill(f"no answer to {what} within {timeout:.0f} s")
                raise EvaluatorError(
                    f"tfjs evaluator did not answer {what} within {timeout:.0f} s;"
                    f" it was stopped (raise the timeout with --timeout)"
                ) from None
            if line is None:
                self.proc.wait(timeout=10)
                raise self._died(what)
            try:
                msg = json.loads(line)
            except json.JSONDecodeError:
                log.debug("node stdout (not protocol): %s", line.rstrip())
                continue
            if msg.get("event") == "fatal" or (not msg.get("ok") and msg.get("id") in (None, request_id)):
                err = msg.get("error", {})
                if msg.get("event") == "fatal":
                    self.close()
                raise EvaluatorError(f"tfjs evaluator {err.get('code', 'ERROR')}: {err.get('message', msg)}")
            if msg.get("id") == request_id or (request_id is None and msg.get("event") == "ready"):
                return msg

    def request(self, op: str, timeout: float | None = None, **fields) -> dict:
        if self.dead:
            raise EvaluatorError(f"tfjs evaluator was stopped earlier ({self.dead}); cannot {op}")
        if self.proc.poll() is not None:
            raise self._died(op)
        request_id = next(self._ids)
        try:
            try:
                self.proc.stdin.write(json.dumps({"id": request_id, "op": op, **fields}) + "\n")
                self.proc.stdin.flush()
            except (BrokenPipeError, OSError):
                self.proc.wait(timeout=10)
                raise self._died(op) from None
            return self._receive(request_id, timeout or self.timeout, op)
        except (KeyboardInterrupt, SystemExit, GeneratorExit) as e:
            # Interrupted while Node works on the job (Ctrl-C, SIGTERM, sys.exit): Node may be
            # busy or stopped, so nothing it could answer is worth waiting for. Kill it now so
            # the cleanup that runs next (unload, close) returns at once.
            self.kill(f"interrupted by {type(e).__name__} during {op}")
            raise

    def alive(self) -> bool:
        return not self.dead and self.proc.poll() is None

    def kill(self, reason: str = "killed") -> None:
        """Stop the Node process group at once (SIGKILL also ends a SIGSTOPped process), mark
        the evaluator dead and remove its temp folder. Safe to call more than once."""
        self.dead = self.dead or reason
        proc = getattr(self, "proc", None)
        if proc is not None and proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        shutil.rmtree(self.io_dir, ignore_errors=True)
        atexit.unregister(self.close)

    def close(self) -> None:
        proc = getattr(self, "proc", None)
        try:
            if proc is not None and proc.poll() is None and not self.dead:
                try:
                    proc.stdin.write(json.dumps({"op": "exit"}) + "\n")
                    proc.stdin.flush()
                    proc.wait(timeout=5)
                except (OSError, ValueError, subprocess.TimeoutExpired):
                    pass
        finally:
            # Also on Ctrl-C during the graceful exit: never leave the process behind.
            self.kill(self.dead or "closed")
