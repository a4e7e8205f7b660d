"""Interrupting the real CLI while the real evaluator is certainly inside a predict job.

The evaluator's test hook (QUANTLAB_TEST_BLOCK_DIR, js/protocol.json "test_hooks") writes
<dir>/predict-started and then holds the job until <dir>/release exists, so each test signals
the CLI at a known point instead of hoping the work is still running."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import typer

from quantlab.infra.signals import Terminated, exit_code, interrupt_on_signals
from tests.conftest import ROOT, node_processes_of, processes_with_env


@pytest.fixture
def housing_models(housing_quick, tmp_path) -> Path:
    """The session's quick housing model and its four variants, copied: a run may write beside them."""
    shutil.copytree(housing_quick, tmp_path / "models")
    return tmp_path / "models"


_STARTED: list[tuple[subprocess.Popen, Path]] = []


@pytest.fixture(autouse=True)
def _no_held_cli_outlives_its_test():
    """A test that fails before it signals or releases its CLI: the CLI, and every process that
    carries its block folder in its environment (a held evaluator), are killed here."""
    yield
    while _STARTED:
        proc, block = _STARTED.pop()
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        for pid in processes_with_env(str(block)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def start_held(args: list[str], tmp_path: Path, point: str = "predict", preexec_fn=None):
    """The CLI running `args`, held at a test hook: the evaluator's predict job (point "predict")
    or a Python step (QUANTLAB_TEST_HOLD, quantlab.infra.test_hooks). Returns (proc, ctx)."""
    block = tmp_path / "block"
    tmpdir = tmp_path / "tmp"
    for d in (block, tmpdir):
        d.mkdir()
    env = {**os.environ, "QUANTLAB_TEST_BLOCK_DIR": str(block), "TMPDIR": str(tmpdir), "COLUMNS": "200"}
    if point != "predict":
        env["QUANTLAB_TEST_HOLD"] = point
    proc = subprocess.Popen(
        [sys.executable, "-m", "quantlab.cli", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=preexec_fn,
    )
    _STARTED.append((proc, block))
    started = block / f"{point}-started"
    deadline = time.monotonic() + 180
    while not started.exists():
        if proc.poll() is not None:
            _, err = proc.communicate()
            pytest.fail(f"the CLI ended (code {proc.returncode}) before {point}: {err[-2000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"the CLI did not reach {point} within 180 s")
        time.sleep(0.02)
    # the pid is in the file as soon as it exists: the evaluator and Python's hooks write it aside
    # and rename it
    pid = int(started.read_text().strip())
    assert pid in processes_with_env(str(block))  # the leak check below can see it
    return proc, {"block": block, "tmpdir": tmpdir, "node_pid": pid}


def start_blocked_evaluation(models: Path, tmp_path: Path, backend: str = "cpu", preexec_fn=None):
    """The CLI evaluating housing, held inside its first predict job. Returns (proc, ctx)."""
    out = tmp_path / "out"
    args = ["evaluate", "housing", "--backend", backend, "--models-dir", str(models), "--out", str(out)]
    proc, ctx = start_held(args, tmp_path, preexec_fn=preexec_fn)
    return proc, {**ctx, "out": out}


def assert_nothing_left(proc, ctx, models: Path, stderr: str) -> None:
    # the evaluator we held is gone, and nothing started by this CLI run is left
    assert_no_process_or_temp_left(ctx)
    ours = [line for line in node_processes_of("evaluator.mjs") if line.split()[0] == str(ctx["node_pid"])]
    assert ours == []
    assert list(ctx["out"].rglob("*.part")) == [] and list(models.rglob("*.part")) == []
    assert not (ctx["out"] / "housing" / "results.json").exists()
    lines = [line for line in stderr.splitlines() if line.startswith("interrupted")]
    assert len(lines) == 1, stderr[-2000:]


def assert_no_process_or_temp_left(ctx) -> None:
    """No process carrying this run's block folder in its environment (the CLI, Node, the
    converter), and no quantlab temp folder in its TMPDIR."""
    deadline = time.monotonic() + 60  # a generous bound: a loaded machine reaps slowly
    while processes_with_env(str(ctx["block"])) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert processes_with_env(str(ctx["block"])) == []
    assert sorted(p.name for p in ctx["tmpdir"].iterdir() if p.name.startswith("quantlab-")) == []


@pytest.mark.parametrize(
    ("sig", "code"),
    [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)],
    ids=["SIGINT", "SIGTERM", "SIGHUP"],
)
def test_signal_during_predict_exits_at_once_and_cleans_up(housing_models, tmp_path, sig, code):
    proc, ctx = start_blocked_evaluation(housing_models, tmp_path)
    t0 = time.monotonic()
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=60)
    elapsed = time.monotonic() - t0
    assert proc.returncode == code, stderr[-2000:]
    assert f"interrupted by {sig.name}: no partial results were written" in stderr
    assert "Traceback" not in stderr
    assert elapsed < 30, f"took {elapsed:.1f} s to stop"
    assert_nothing_left(proc, ctx, housing_models, stderr)


def test_sigint_with_a_stopped_evaluator_does_not_wait_for_it(housing_models, tmp_path):
    proc, ctx = start_blocked_evaluation(housing_models, tmp_path)
    os.kill(ctx["node_pid"], signal.SIGSTOP)  # Node can answer nothing now, not even `exit`
    try:
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
        elapsed = time.monotonic() - t0
    finally:
        if processes_with_env(str(ctx["block"])):
            os.kill(ctx["node_pid"], signal.SIGKILL)
    assert proc.returncode == 130, stderr[-2000:]
    assert "interrupted by SIGINT: no partial results were written" in stderr
    assert elapsed < 30, f"took {elapsed:.1f} s to stop"
    assert_nothing_left(proc, ctx, housing_models, stderr)


def test_released_job_completes_normally(housing_models, tmp_path):
    """The hook only holds the job: once released, the same run finishes and writes results."""
    proc, ctx = start_blocked_evaluation(housing_models, tmp_path)
    (ctx["block"] / "release").touch()
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr[-2000:]
    assert (ctx["out"] / "housing" / "results.json").is_file()
    assert processes_with_env(str(ctx["block"])) == []
    assert [p.name for p in ctx["tmpdir"].iterdir() if p.name.startswith("quantlab-")] == []


def test_a_hang_up_ignored_on_purpose_stays_ignored(housing_models, tmp_path):
    """Started as `nohup quantlab ...` starts it (SIGHUP ignored): a hang-up does not stop the
    run; released, it finishes and writes its results."""
    proc, ctx = start_blocked_evaluation(
        housing_models, tmp_path, preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN)
    )
    proc.send_signal(signal.SIGHUP)
    (ctx["block"] / "release").touch()
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr[-2000:]
    assert (ctx["out"] / "housing" / "results.json").is_file()


def _interrupt(proc, sig: signal.Signals) -> str:
    t0 = time.monotonic()
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 128 + int(sig), stderr[-2000:]
    assert f"interrupted by {sig.name}: no partial results were written" in stderr
    assert "Traceback" not in stderr
    assert time.monotonic() - t0 < 30, f"took {time.monotonic() - t0:.1f} s to stop"
    return stderr


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_during_training_saves_no_model(tmp_path, sig):
    """Held inside Keras fit (after the first epoch): no trained model, record or temp folder."""
    models = tmp_path / "models"
    args = ["train", "housing", "--quick", "--models-dir", str(models)]
    proc, ctx = start_held(args, tmp_path, "train-epoch")
    _interrupt(proc, sig)
    assert_no_process_or_temp_left(ctx)
    assert not list(models.rglob("train.json")) and not list(models.rglob("model.json"))
    assert list(models.rglob("*.part")) == []


def test_ctrl_c_during_conversion_keeps_the_old_variants(housing_models, tmp_path):
    """Held inside a variant's atomic folder (files written, not yet renamed): the variants from
    before the run are still there, byte for byte, and no temp folder is left."""
    models = housing_models  # this test's own copy
    before = _tree(models)
    proc, ctx = start_held(["quantize", "housing", "--models-dir", str(models)], tmp_path, "convert")
    assert list(models.rglob("*.part")), "the hook holds inside an atomic folder"
    _interrupt(proc, signal.SIGINT)
    assert_no_process_or_temp_left(ctx)
    assert _tree(models) == before


def test_ctrl_c_during_a_tune_sweep_stops_its_evaluators(housing_models, tmp_path):
    """Held while the sweep measures its first candidate (in the evaluator's predict job): exit
    130, no evaluator, no scratch folder (quantlab-tune-*), no tune record."""
    out = tmp_path / "out"
    args = ["tune", "housing", "--models-dir", str(housing_models), "--out", str(out)]
    args += ["--backend", "cpu", "--max-drop", "0.05"]
    proc, ctx = start_held(args, tmp_path)
    assert [p.name for p in ctx["tmpdir"].iterdir() if p.name.startswith("quantlab-tune-")]
    _interrupt(proc, signal.SIGINT)
    assert_no_process_or_temp_left(ctx)  # the evaluator (ctx["node_pid"]) included
    assert not list(out.rglob("*.json")) and list(out.rglob("*.part")) == []


# cli_errors itself, in-process


def _wrapped(body):
    from quantlab.cli.guard import cli_errors

    @cli_errors
    def command(verbose: bool = False):
        return body()

    return command


def test_unexpected_exception_is_one_line_with_exit_1(capsys):
    def body():
        raise ValueError("bad [thing]")

    with pytest.raises(typer.Exit) as info:
        _wrapped(body)(verbose=False)
    assert info.value.exit_code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: ValueError: bad [thing] (rerun with --verbose for the traceback)"]


def test_unexpected_exception_with_verbose_reraises():
    def body():
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        _wrapped(body)(verbose=True)


def test_typer_exit_passes_through_untouched(capsys):
    def body():
        raise typer.Exit(3)

    with pytest.raises(typer.Exit) as info:
        _wrapped(body)()
    assert info.value.exit_code == 3 and capsys.readouterr().err == ""


def test_sigterm_unwinds_like_ctrl_c(capsys):
    cleaned = []

    def body():
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler raises before this ends
        finally:
            cleaned.append(True)

    previous = signal.getsignal(signal.SIGTERM)
    with pytest.raises(typer.Exit) as info:
        _wrapped(body)()
    assert info.value.exit_code == 143 and cleaned == [True]
    assert "interrupted by SIGTERM: no partial results were written" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGTERM) is previous  # handlers are the CLI's only while it runs


def test_terminated_is_a_keyboard_interrupt():
    e = Terminated(signal.SIGHUP)
    assert isinstance(e, KeyboardInterrupt) and exit_code(e) == 129 and exit_code(KeyboardInterrupt()) == 130
    with interrupt_on_signals():
        assert signal.getsignal(signal.SIGHUP) is not signal.SIG_DFL


def test_a_swallowed_sigterm_is_raised_at_the_next_check():
    """A library's bare `except:` (TensorFlow's import takes seconds) must not lose a SIGTERM."""
    import os
    import signal as sg

    from quantlab.infra.signals import Terminated, check_pending, interrupt_on_signals

    with interrupt_on_signals():
        try:
            os.kill(os.getpid(), sg.SIGTERM)
            for _ in range(10**6):  # the handler runs between bytecodes
                pass
        except BaseException:  # noqa: BLE001 (what a careless library does)
            pass
        sg.signal(sg.SIGTERM, sg.SIG_DFL)  # and an import that replaced the handler
        with pytest.raises(Terminated) as e:
            check_pending()
        assert e.value.signum == sg.SIGTERM
        assert sg.getsignal(sg.SIGTERM) is not sg.SIG_DFL  # ours again
    check_pending()  # outside: nothing pending, nothing raised
