"""The README's opening `quantlab analyze` command, run exactly as written (from a folder that
looks like the repository root, so nothing lands in the checkout)."""

from __future__ import annotations

import json
import re
import subprocess

from tests.conftest import ROOT


def readme_analyze_commands() -> list[str]:
    """The README's runnable commands on committed fixtures: `analyze` first, then `diagnose`."""
    text = (ROOT / "README.md").read_text()
    return re.findall(r"^(\.venv/bin/quantlab (?:analyze|diagnose) tests/\S+.*)$", text, re.M)


def test_readme_opening_command_runs_as_written(tmp_path):
    commands = readme_analyze_commands()
    assert commands, "the README no longer opens with a runnable `quantlab analyze` example"
    for name in (".venv", "tests", "js", "node_modules"):
        (tmp_path / name).symlink_to(ROOT / name)
    for command in commands:
        proc = subprocess.run(
            ["bash", "-c", command], cwd=tmp_path, capture_output=True, text=True, timeout=600
        )
        assert proc.returncode == 0, (command, proc.stderr[-2000:])
    out = re.search(r"--out (\S+)", commands[0]).group(1)
    results = list((tmp_path / out).glob("*/results.json"))
    assert results and json.loads(results[0].read_text())["inputs"]["kind"] == "synthetic"
    diagnosed = list((tmp_path / out).glob("*/diagnose/uint8.json"))
    assert any("diagnose" in c for c in commands) and diagnosed, "the README's diagnose example wrote nothing"
