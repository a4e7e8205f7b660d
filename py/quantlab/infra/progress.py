"""Progress bars and logs on stderr (stdout is kept for tables and --json)."""

from __future__ import annotations

import logging
import time

from rich.console import Console
from rich.logging import RichHandler
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

console = Console(stderr=True)
log = logging.getLogger("quantlab")


def setup_logging(verbose: bool = False) -> None:
    if not log.handlers:
        log.addHandler(RichHandler(console=console, show_path=False, show_time=False, markup=False))
    log.setLevel(logging.DEBUG if verbose else logging.INFO)
    log.propagate = False


class _Progress(Progress):
    """A live bar in a terminal. Piped (CI, log files) rich draws the bar only when it ends, which
    says nothing during a 20-minute sweep, so there a plain line is logged every 30 s instead."""

    LOG_EVERY_S = 30.0

    def __init__(self, *columns, **kwargs):
        super().__init__(*columns, **kwargs)
        self._last_line: dict = {}

    def update(self, task_id, **kwargs) -> None:
        super().update(task_id, **kwargs)
        self._maybe_log(task_id)

    def advance(self, task_id, advance: float = 1) -> None:
        super().advance(task_id, advance)
        self._maybe_log(task_id)

    def _maybe_log(self, task_id) -> None:
        if self.console.is_terminal:
            return
        now = time.monotonic()
        if now - self._last_line.setdefault(task_id, now) < self.LOG_EVERY_S:
            return
        self._last_line[task_id] = now
        task = self._tasks[task_id]
        info = task.fields.get("info", "")
        log.info("%s: %d/%d %s(%.0f s)", task.description, task.completed, task.total or 0,
                 f"{info} " if info else "", task.elapsed or 0)  # fmt: skip


def progress() -> Progress:
    return _Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )


def table_console() -> Console:
    """stdout console for tables: wide enough for them when stdout is a file or pipe."""
    out = Console()
    return out if out.is_terminal else Console(width=200)
