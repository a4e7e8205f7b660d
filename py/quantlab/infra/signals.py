"""SIGTERM and SIGHUP unwind like Ctrl-C. The CLI installs handlers that raise `Terminated`, a
KeyboardInterrupt subclass, so every `finally`, context manager and atomic writer that cleans up
after Ctrl-C also cleans up after `kill` or a closed terminal; the exit code is 128 + signal."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

HANDLED = (signal.SIGTERM, signal.SIGHUP)


class Terminated(KeyboardInterrupt):
    """Raised in the main thread when SIGTERM or SIGHUP arrives; unwinds like KeyboardInterrupt."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def signal_of(exc: BaseException) -> int:
    """The signal behind an interrupt: Terminated's own, else SIGINT (plain KeyboardInterrupt)."""
    return getattr(exc, "signum", signal.SIGINT)


def signal_name(exc: BaseException) -> str:
    return signal.Signals(signal_of(exc)).name


def exit_code(exc: BaseException) -> int:
    """128 + signal number: 130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP."""
    return 128 + int(signal_of(exc))


_pending: list[int] = []  # signals raised as Terminated: a library may swallow the exception
_active: dict[int, object] = {}  # the signals interrupt_on_signals handles now, and their handlers


def _raise_terminated(signum, frame) -> None:
    _pending.append(signum)
    raise Terminated(signum)


def check_pending() -> None:
    """Re-raise a signal whose Terminated was swallowed on its way up (a bare `except:` in a
    library being imported when SIGTERM came: TensorFlow's import takes seconds), and put back
    our handlers if an import replaced them. Called after each long library step: a signal is
    never lost, whenever it arrives."""
    if threading.current_thread() is not threading.main_thread() or not _active:
        return
    for sig in _active:
        if signal.getsignal(sig) is not _raise_terminated:
            signal.signal(sig, _raise_terminated)
    if _pending:
        raise Terminated(_pending[-1])


@contextlib.contextmanager
def interrupt_on_signals(signals=HANDLED) -> Iterator[None]:
    """While active, `signals` raise Terminated in the main thread; the previous handlers are
    restored afterwards. A signal the process was started ignoring stays ignored (nohup). A no-op
    outside the main thread (Python only handles signals there)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}
    try:
        for sig in signals:
            if signal.getsignal(sig) is signal.SIG_IGN:
                continue  # ignored on purpose (`nohup quantlab run ...`): a closed terminal is no stop
            previous[sig] = signal.signal(sig, _raise_terminated)
            _active[sig] = _raise_terminated
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
            _active.pop(sig, None)
        _pending.clear()
