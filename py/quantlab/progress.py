"""Progress bars and logs on stderr (stdout is kept for tables and --json)."""

from __future__ import annotations

import logging

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


def progress() -> Progress:
    return Progress(
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
