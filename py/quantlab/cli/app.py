"""The `quantlab` command line: the typer app, its global options, and the commands (one module
each under cli/commands/) registered in the order `--help` lists them."""

from __future__ import annotations

from typing import Annotated

import typer

from .commands import (
    analyze,
    bench,
    data,
    delivery,
    diagnose,
    equalize,
    evaluate,
    parity,
    quantize,
    report,
    run,
    setup,
    tune,
)

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode="markdown",
    help="""Measure what float16, uint16 and uint8 weights cost a model **once it runs in
TensorFlow.js**.

Typical use:

* `quantlab data` - check which data files are found (set QUANTLAB_DATA or --data-dir)
* `quantlab run --quick` - a few-minute smoke run of every demo
* `quantlab run mnist` - train, convert, quantize and evaluate one demo at full size
* `quantlab report --open` - re-render reports/ from existing results.json files

Exit codes: 0 ok, 1 error, 2 bad usage, 3 data problem, 4 broken model artifact,
5 tfjs evaluator failure, 6 parity out of tolerance, 7 no variant within the tune budget,
8 cannot write the output (disk full, read-only), 130 interrupted.""",
)

for command in (
    analyze.analyze,
    equalize.equalize,
    run.run,
    run.train,
    quantize.quantize,
    evaluate.evaluate,
    report.report,
    report.serve,
    data.data,
    bench.bench,
    parity.parity,
    diagnose.diagnose,
    delivery.delivery,
    setup.setup,
    tune.tune,
):
    app.command()(command)


def _version_callback(value: bool) -> None:
    if value:
        from .. import __version__
        from ..infra.node_packages import tfjs_version

        typer.echo(f"quantlab {__version__} (tfjs {tfjs_version() or 'unknown'})")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version_callback, is_eager=True, help="Print quantlab's and tfjs' versions"
        ),
    ] = False,
) -> None:
    pass


def main() -> None:
    app()


if __name__ == "__main__":
    main()
