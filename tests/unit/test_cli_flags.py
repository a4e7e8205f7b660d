"""Every command's option names are its own: no flag (short or long) given to two options of one
command (click would silently let the later one win: `diagnose -v` once meant both --variant and
--verbose)."""

from __future__ import annotations

import collections

import typer.main

from quantlab.cli.app import app


def test_no_command_gives_one_flag_to_two_options():
    group = typer.main.get_command(app)
    clashes = {}
    for name, command in group.commands.items():
        flags = collections.Counter(opt for p in command.params for opt in (*p.opts, *p.secondary_opts))
        twice = sorted(f for f, n in flags.items() if n > 1)
        if twice:
            clashes[name] = twice
    assert clashes == {}
