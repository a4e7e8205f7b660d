"""The evaluator pool: many evaluators, outputs bit-identical to one, and its faults."""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from quantlab.analysis.evaluate import ArrayExamples, measure_variants
from quantlab.analysis.jobs import check_workers, default_workers, shard_bounds
from quantlab.analysis.pool import LocalPool
from quantlab.errors import ArtifactError, EvaluatorError, QuantlabError
from quantlab.runtimes.node import TfjsNodeRuntime
from tests.infra.test_signals import processes_with_env

VARIANTS = ("float32", "float16", "uint16", "uint8")


def _paths(folder: Path) -> dict[str, Path]:
    return {v: folder / v for v in VARIANTS}


def _examples(n: int = 700) -> ArrayExamples:
    x = np.random.default_rng(7).random((n, 12, 12, 1), dtype=np.float32)
    return ArrayExamples({"x": x})


def test_default_workers_rule():
    assert default_workers("node-wasm", cores=2) == 2
    assert default_workers("node-cpu", cores=64) == 16  # capped: each evaluator holds its models
    assert default_workers("node-tensorflow", cores=8) == 1  # tfjs-node threads on its own
    assert default_workers("browser-webgl", cores=8) == 1
    assert check_workers(None) is None and check_workers(3) == 3
    for bad in (0, -1, True, 1.5):
        with pytest.raises(QuantlabError) as info:
            check_workers(bad)
        assert info.value.exit_code == 2


def test_shards_are_cut_at_batch_multiples():
    assert shard_bounds(700, 256, 2048, 1) == [(0, 700)]
    assert shard_bounds(700, 256, 2048, 2) == [(0, 512), (512, 700)]
    assert shard_bounds(700, 100, 2048, 3) == [(0, 300), (300, 600), (600, 700)]
    assert shard_bounds(10_000, 256, 2048, 2)[0] == (0, 2048)  # at most a chunk
    assert all(s % 64 == 0 for s, _ in shard_bounds(1000, 64, 2048, 4))


def test_two_workers_give_bit_identical_outputs_to_one_process(small_convnet_dir):
    ex = _examples()
    with TfjsNodeRuntime("wasm") as rt:  # the old way: one process, variant after variant
        one = measure_variants(rt, _paths(small_convnet_dir), ex, "one", batch_size=100)
    with LocalPool("node-wasm", workers=2) as pool:
        two = measure_variants(pool, _paths(small_convnet_dir), ex, "two", batch_size=100)
        assert pool.ran == 2 and pool.stats.jobs == 4 * 2  # 4 variants x shards of 400 and 300
        assert len(pool.stats.busy_s) == 8
    for v in VARIANTS:
        assert len(two[v].outputs) == len(one[v].outputs) == 1
        assert two[v].outputs[0].shape == (700, 5)
        assert np.array_equal(two[v].outputs[0], one[v].outputs[0]), v  # bit-identical, in order
        assert two[v].timings.examples == 700
    assert not np.array_equal(two["uint8"].outputs[0], two["float32"].outputs[0])


def test_more_workers_than_jobs_are_capped_and_said(small_convnet_dir):
    import logging

    from quantlab.infra.progress import log

    records: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda r: records.append(r.getMessage())
    log.addHandler(handler)
    level = log.level
    log.setLevel(logging.INFO)
    try:
        with LocalPool("node-wasm", workers=5) as pool:
            out = measure_variants(pool, {"float32": small_convnet_dir / "float32"}, _examples(100), "x")
            assert pool.ran == 1
    finally:
        log.removeHandler(handler)
        log.setLevel(level)
    assert out["float32"].outputs[0].shape == (100, 5)
    assert "5 workers asked for 1 jobs: 1 run" in records


def test_a_worker_killed_mid_job_is_replaced_and_the_job_retried(small_convnet_dir, tmp_path, monkeypatch):
    """The evaluator's test hook holds predict jobs; the test kills the worker certainly inside
    one, then releases the rest: the killed job reruns on a fresh evaluator, results unchanged."""
    ex = _examples()
    with TfjsNodeRuntime("wasm") as rt:
        ref = measure_variants(rt, _paths(small_convnet_dir), ex, "ref", batch_size=100)
    block = tmp_path / "block"
    block.mkdir()
    monkeypatch.setenv("QUANTLAB_TEST_BLOCK_DIR", str(block))
    pool = LocalPool("node-wasm", workers=2)

    def kill_then_release():
        started = block / "predict-started"
        deadline = time.monotonic() + 120
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(int(started.read_text().strip()), signal.SIGKILL)
        (block / "release").touch()

    killer = threading.Thread(target=kill_then_release)
    killer.start()
    try:
        got = measure_variants(pool, _paths(small_convnet_dir), ex, "faulty", batch_size=100)
    finally:
        killer.join()
        pool.close()
    assert pool.stats.retries == 1 and pool.stats.workers_started == 3
    for v in VARIANTS:
        assert np.array_equal(got[v].outputs[0], ref[v].outputs[0])
    assert processes_with_env(str(block)) == []


def test_a_job_whose_worker_dies_twice_is_one_error_naming_it(small_convnet_dir, monkeypatch):
    monkeypatch.setenv("QUANTLAB_TEST_CRASH_MODEL", "uint16")  # the evaluator exits on predict
    with LocalPool("node-wasm", workers=2) as pool:
        with pytest.raises(EvaluatorError) as info:
            measure_variants(pool, _paths(small_convnet_dir), _examples(), "crash", batch_size=100)
        assert pool.stats.retries >= 1
    msg = str(info.value)
    assert msg.startswith("job uint16 shard ") and "failed twice" in msg and "exited with code 70" in msg


def test_a_broken_artifact_is_not_retried(small_convnet_dir, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "model.json").write_text("{not json")
    with LocalPool("node-wasm", workers=2) as pool:
        with pytest.raises(ArtifactError):
            measure_variants(pool, {"float32": small_convnet_dir / "float32", "b": broken}, _examples(), "b")
        assert pool.stats.retries == 0


# the CLI: bad options, Ctrl-C with many workers, Ray absent or unreachable


def test_workers_0_is_exit_2(tmp_path):
    from tests.conftest import invoke_cli

    proc = invoke_cli("evaluate", "housing", "--workers", "0", "--models-dir", str(tmp_path))
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "--workers 0: must be a positive integer" in proc.stderr


def test_ray_address_that_does_not_answer_is_one_line_within_bounded_time(tmp_path):
    import socket

    from tests.conftest import run_cli

    with socket.socket() as s:  # a port where nothing listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.monotonic()
    proc = run_cli("evaluate", "housing", "--executor", "ray", "--ray-address", f"127.0.0.1:{port}",
                   "--models-dir", str(tmp_path))  # fmt: skip
    assert time.monotonic() - t0 < 60
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and f"127.0.0.1:{port}: no Ray cluster answers there" in lines[0], lines


def test_ray_not_installed_is_one_line_with_the_install_command(tmp_path):
    """Ray hidden from the CLI (a `ray` module that fails to import, first on the path)."""
    from tests.conftest import run_cli

    fake = tmp_path / "noray"
    (fake / "ray").mkdir(parents=True)
    (fake / "ray" / "__init__.py").write_text("raise ImportError('hidden by the test')\n")
    env = {"PYTHONPATH": f"{fake}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = run_cli("evaluate", "housing", "--executor", "ray", "--models-dir", str(tmp_path), env=env)
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines == ["error: --executor ray needs Ray, which is not installed: pip install 'quantlab[ray]'"]


def test_sigint_with_two_workers_stops_every_worker(housing_quick, tmp_path):
    """Both evaluators held inside predict jobs; Ctrl-C: exit 130, no process, no temp folder."""
    from tests.infra.test_signals import assert_nothing_left

    models = tmp_path / "models"
    shutil.copytree(housing_quick, models)
    block, tmpdir, out = tmp_path / "block", tmp_path / "tmp", tmp_path / "out"
    block.mkdir()
    tmpdir.mkdir()
    env = {**os.environ, "QUANTLAB_TEST_BLOCK_DIR": str(block), "TMPDIR": str(tmpdir), "COLUMNS": "200"}
    import subprocess
    import sys

    from tests.conftest import ROOT

    proc = subprocess.Popen(
        [sys.executable, "-m", "quantlab.cli", "evaluate", "housing", "--backend", "wasm", "--workers", "2",
         "--models-dir", str(models), "--out", str(out)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    deadline = time.monotonic() + 180
    while len(list(block.glob("predict-started-*"))) < 2:  # both evaluators held inside a job
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        assert time.monotonic() < deadline, "two evaluators did not reach a predict job within 180 s"
        time.sleep(0.05)
    node_pid = int(sorted(block.glob("predict-started-*"))[0].name.rsplit("-", 1)[1])
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr[-2000:]
    assert "interrupted by SIGINT: no partial results were written" in stderr
    ctx = {"block": block, "tmpdir": tmpdir, "out": out, "node_pid": node_pid}
    assert_nothing_left(proc, ctx, models, stderr)


def test_a_sweep_measures_float32_once_when_asked_first():
    """measure_many([float32, uint8]) makes float32 the reference instead of measuring it twice."""
    from quantlab.analysis.sweep import Point, Sweep

    class FakePool:
        name, workers, ran = "fake", 1, 1

        def imap(self, jobs, n_jobs=None, light=False):
            from quantlab.analysis.jobs import JobResult
            from quantlab.runtimes.base import PredictTimings

            for job in jobs:
                scale = 1.0 if "float32" in job.variant else 1.1
                yield JobResult(
                    job, [job.inputs * scale], PredictTimings(examples=len(job.inputs)), 0.0, None
                )

    x = np.ones((4, 3), np.float32)
    probe = __import__("quantlab.analysis.sweep", fromlist=["Probe"]).Probe(
        "m", True, lambda: [x], lambda o: float(o.mean()), 4
    )
    sweep = Sweep(None, FakePool(), probe, relative=False)
    sweep.scratch.rmdir()
    import quantlab.analysis.sweep as sw

    saved = sw.save_tfjs, sw.read_artifact
    sw.save_tfjs = lambda model, folder, dtype_map: folder.mkdir(parents=True)
    sw.read_artifact = lambda folder: type("A", (), {"weight_bytes": 1})()
    try:
        points = sweep.measure_many([("float32", None), ("uint8", {"uint8": True})])
    finally:
        sw.save_tfjs, sw.read_artifact = saved
        sweep.close()
    assert [p.label for p in sweep.points] == ["float32", "uint8"] and all(
        isinstance(p, Point) for p in points
    )
    assert points[0].output_error == 0.0 and points[1].output_error > 0
