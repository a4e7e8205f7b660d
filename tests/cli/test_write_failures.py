"""An output that cannot be written (a full disk, a read-only folder): one line naming the file,
exit 8, and nothing half-written. NaN/Inf weights: said in the terminal."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from quantlab.errors import CANNOT_WRITE_EXIT, cannot_write
from tests.conftest import invoke_cli

MODEL = Path(__file__).parents[1] / "fixtures" / "js" / "seq_batchnorm"


@pytest.mark.parametrize(
    "error,words",
    [
        (OSError(errno.ENOSPC, "No space left on device", "/out/x/results.json"), "/out/x/results.json: "),
        (OSError(errno.EROFS, "Read-only file system", "/ro/m"), "/ro/m: cannot write: read-only"),
        (OSError(errno.EDQUOT, "Disk quota exceeded"), "an output file: cannot write: the disk quota"),
        (
            RuntimeError("ResourceExhaustedError: ... No space left on device\nmore"),
            "the disk is full (Resource",
        ),
    ],
)
def test_unwritable_outputs_are_named(error, words):
    line = cannot_write(error)
    assert line is not None and words in line and "\n" not in line
    assert line.endswith("free space or choose another --out/--models-dir")


@pytest.mark.parametrize("error", [OSError(errno.ENOENT, "No such file"), ValueError("x"), KeyError("k")])
def test_other_failures_are_not_called_unwritable(error):
    assert cannot_write(error) is None


def test_a_full_disk_while_writing_results_is_one_line_exit_8(tmp_path, monkeypatch):
    """The disk fills up when analyze writes its results: exit 8, the file named, no traceback,
    no temp file or folder left, and no results.json."""
    import quantlab.infra.fsutil as fsutil

    real = fsutil.write_text_atomic

    def full(path, text):
        if Path(path).name == "results.json":
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(path, text)

    monkeypatch.setattr(fsutil, "write_text_atomic", full)
    out, models = tmp_path / "out", tmp_path / "models"
    proc = invoke_cli("analyze", MODEL, "--samples", "8", "--variants", "float32", "--out", out,
                      "--models-dir", models)  # fmt: skip
    assert proc.returncode == CANNOT_WRITE_EXIT, proc.stderr[-2000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "results.json: cannot write: the disk is full" in errors[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert not list(out.rglob("results.json")) and not list(tmp_path.rglob("*.part"))
    assert [p for p in tmp_path.rglob("*") if p.is_dir() and not any(p.iterdir())] == []


def test_nan_weights_in_a_demo_are_warned_in_the_terminal(housing_quick, tmp_path):
    """`evaluate` on a demo whose float32 weights hold a NaN: it runs (exit 0: the figures are what
    tfjs computed) and says so in the terminal, naming the weight, not only on the page."""
    import shutil

    from tests.helpers import corrupt_weight

    models = tmp_path / "models"
    shutil.copytree(housing_quick, models)
    corrupt_weight(models / "housing" / "float32", "hidden1/kernel", delta=float("nan"))
    proc = invoke_cli("evaluate", "housing", "--variant", "float32", "--variant", "uint8", "--limit", "50",
                      "--models-dir", models, "--out", tmp_path / "out")  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    text = " ".join(proc.stderr.split())  # rich wraps long log lines
    assert "housing: its float32 weights hold NaN/Inf (hidden1/kernel)" in text, proc.stderr
    # tfjs' ReLU turns the NaN into 0 (max(0, NaN) is 0 there): every figure is finite, and only
    # this warning tells the user that the model is broken
    assert "NaN/Inf figures" not in text
