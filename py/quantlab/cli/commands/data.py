"""`quantlab data`: where each demo's data files were found, and test-set export."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ...demos.registry import check_demo_name
from ...errors import QuantlabError
from ...infra.progress import console, table_console
from ..guard import cli_errors
from ..options import (
    DataDir,
    Verbose,
    check_dirs,
)
from ..tables import print_json


@cli_errors
def data(
    data_dir: DataDir = None,
    export: Annotated[str | None, typer.Option(help="Write this demo's test set as an .npz")] = None,
    export_to: Annotated[Path | None, typer.Option(help="With --export: the .npz file to write")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON")] = False,
    verbose: Verbose = False,
) -> None:
    """List the data files each demo needs, where they were found, and whether checksums match.

    With `--export DEMO --export-to FILE.npz`: write that demo's test set (inputs `x`, labels `y`),
    e.g. to try `quantlab analyze` on a trained demo model with real data."""
    if export:
        from ...demos.datasets.export import export_test_set

        if export_to is None:
            raise QuantlabError("--export needs --export-to FILE.npz", exit_code=2)
        done = export_test_set(check_demo_name(export), data_dir, export_to)
        console.print(f"wrote {done['file']}: x {done['x']}, y {done['y']}")
        return
    from ...demos.datasets.catalog import data_status

    check_dirs(data_dir=data_dir)
    rows = data_status(data_dir)
    if as_json:
        print_json(rows)
    else:
        from rich.table import Table

        table = Table(title="quantlab data files")
        for col in ("data set", "file", "found in", "path", "checksum"):
            table.add_column(col)
        for r in rows:
            table.add_row(
                r["dataset"],
                r["file"],
                r["found_in"] or "[red]missing[/red]",
                r["path"] or "–",
                {"ok": "[green]ok[/green]", None: "–"}.get(r["checksum"], f"[red]{r['checksum']}[/red]"),
            )
        table_console().print(table)
    if any(r["checksum"] != "ok" for r in rows):
        raise typer.Exit(3)
