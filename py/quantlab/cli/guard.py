"""Every command's wrapper: one-line errors with documented exit codes, signals unwound like Ctrl-C."""

from __future__ import annotations

import functools

import typer
from rich.markup import escape
from typer.exceptions import TyperException

from ..errors import CANNOT_WRITE_EXIT, EvaluatorError, QuantlabError, cannot_write
from ..infra.progress import console, setup_logging
from ..infra.signals import exit_code as interrupt_exit_code
from ..infra.signals import interrupt_on_signals, signal_name


def _said(e: QuantlabError) -> str:
    """The error's line; a runtime that lacks a kernel (outside analyze and diagnose, which check
    which runtime does run the model) gets what to do about it."""
    from ..runtimes.op_support import MissingOp, missing_op

    text = str(e)
    op = None if isinstance(e, MissingOp) else missing_op(text)
    if op is None or not isinstance(e, EvaluatorError):
        return text
    return (
        f"{text} (this tfjs runtime has no kernel for op {op}: `quantlab analyze MODEL` finds a runtime "
        "that runs the model here; pass it with --runtime/--backend)"
    )


def cli_errors(fn):
    """One-line errors and documented exit codes instead of tracebacks. SIGTERM and SIGHUP unwind
    like Ctrl-C (quantlab.infra.signals), so the same cleanup runs; exit code 128 + signal."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        verbose = bool(kwargs.get("verbose", False))
        setup_logging(verbose)
        try:
            with interrupt_on_signals():
                return fn(*args, **kwargs)
        except QuantlabError as e:
            console.print(f"[red]error:[/red] {escape(_said(e))}", markup=True, highlight=False,
                          soft_wrap=True)  # fmt: skip
            raise typer.Exit(e.exit_code) from None
        except KeyboardInterrupt as e:  # Ctrl-C, and SIGTERM/SIGHUP as signals.Terminated
            console.print(
                f"[red]interrupted by {signal_name(e)}[/red]: no partial results were written",
                markup=True,
                highlight=False,
                soft_wrap=True,
            )
            raise typer.Exit(interrupt_exit_code(e)) from None
        except (typer.Exit, typer.Abort, TyperException):
            raise  # typer.Exit, usage errors (click's exceptions): typer handles them
        except Exception as e:
            if verbose:
                raise  # the traceback
            unwritable = cannot_write(e)
            if unwritable:  # a full disk, a read-only folder: the file, what, and exit 8
                console.print(f"[red]error:[/red] {escape(unwritable)}", markup=True, highlight=False,
                              soft_wrap=True)  # fmt: skip
                raise typer.Exit(CANNOT_WRITE_EXIT) from None
            console.print(
                f"[red]error:[/red] {escape(type(e).__name__)}: {escape(str(e))} "
                "(rerun with --verbose for the traceback)",
                markup=True,
                highlight=False,
                soft_wrap=True,
            )
            raise typer.Exit(1) from None

    return wrapper
