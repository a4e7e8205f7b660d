"""`quantlab report` and `quantlab serve`: render and serve the HTML reports."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ...errors import QuantlabError
from ...infra.progress import console
from ..guard import cli_errors
from ..options import (
    OutDir,
    Verbose,
    check_dirs,
)


@cli_errors
def report(
    out: OutDir = Path("reports"),
    open_: Annotated[bool, typer.Option("--open", help="Open index.html in your browser")] = False,
    check: Annotated[
        bool, typer.Option("--check", help="Load every page in headless Chromium; fail on errors")
    ] = False,
    screenshots: Annotated[Path | None, typer.Option(help="With --check: save a PNG per page here")] = None,
    verbose: Verbose = False,
) -> None:
    """Re-render the HTML report from existing results.json files (runs nothing).

    Example: `quantlab report --check --screenshots /tmp/shots`
    """
    from ...report import render_reports

    check_dirs(out=out, screenshots=screenshots)
    index = render_reports(out)
    if check:
        from ...report.browser_check import check_report

        found = check_report(out, screenshots)
        console.print(f"checked {len(found['pages'])} pages in Chromium")
        if not found["ok"]:
            raise QuantlabError(
                f"report check failed: console errors {found['console_errors']}, page errors "
                f"{found['page_errors']}, requests outside {out}: {found['outside_requests']}"
            )
    if open_:
        import webbrowser

        webbrowser.open(index.resolve().as_uri())


@cli_errors
def serve(
    out: OutDir = Path("reports"),
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0 = any free port)")] = 8000,
    verbose: Verbose = False,
) -> None:
    """Serve the reports folder on http://127.0.0.1:PORT/ (Ctrl-C to stop)."""
    from ...report.server import serve as serve_folder

    check_dirs(out=out)
    if not Path(out).is_dir():
        raise QuantlabError(f"--out {out}: no such folder; run `quantlab run` or `quantlab report` first")

    serve_folder(out, port, announce=lambda line: console.print(line, markup=False, highlight=False))
