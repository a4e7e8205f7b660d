"""`quantlab setup`: what is ready, what is missing, and installing it."""

from __future__ import annotations

from typing import Annotated

import typer

from ...errors import QuantlabError
from ...infra.progress import console
from ..guard import cli_errors
from ..options import (
    Verbose,
)


@cli_errors
def setup(
    npm: Annotated[
        bool,
        typer.Option(
            "--npm",
            help="Install the evaluator's npm packages now (`npm ci` from quantlab's package-lock.json; "
            "an installed quantlab otherwise does it on first need, into $QUANTLAB_NODE_CACHE or "
            "~/.cache/quantlab/node)",
        ),
    ] = False,
    tfjs_node: Annotated[
        bool, typer.Option("--tfjs-node", help="Build @tensorflow/tfjs-node against the pip TensorFlow")
    ] = False,
    verbose: Verbose = False,
) -> None:
    """What is ready and what is missing (Python packages, Node, the npm packages, Chromium,
    tfjs-node), one line each with the command that installs it. `--npm`: install the npm packages;
    `--tfjs-node`: build the node-tensorflow runtime without any download."""
    if npm:
        from ...infra import node_packages, npm_install

        where = node_packages.layout()
        if where.kind == "packaged":
            done = npm_install.ensure_installed(where)
            what = "installed" if done.installed else "already installed, nothing to do"
            console.print(f"npm packages {what}: {done.entry}", highlight=False, soft_wrap=True)
        elif node_packages.npm_packages_missing():
            raise QuantlabError(
                f"{node_packages.npm_packages_missing()} (this quantlab runs from {where.source}: "
                "its npm packages are that folder's node_modules/)",
                exit_code=5,
            )
        else:
            console.print(
                f"npm packages already installed, nothing to do: {where.source / 'node_modules'}",
                highlight=False,
                soft_wrap=True,
            )
    if tfjs_node:
        from ...infra.setup_tfjs_node import setup_tfjs_node

        setup_tfjs_node()
    if npm or tfjs_node:
        return
    from ...infra.readiness import checks

    for check in checks():
        typer.echo(check.line())
