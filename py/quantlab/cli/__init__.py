"""The `quantlab` command line: the typer app and its commands (app), and checks of option values
(checks). `app` and `main` are the entry points (pyproject's `quantlab = "quantlab.cli:app"`;
`python -m quantlab.cli` runs `main`)."""

from .app import app, main

__all__ = ["app", "main"]
