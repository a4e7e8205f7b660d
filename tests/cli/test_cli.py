"""End to end through the real CLI, the real converter and the real Node evaluator."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT, invoke_cli, node_processes_of


@pytest.fixture(scope="module")
def quick_housing(tmp_path_factory):
    work = tmp_path_factory.mktemp("run")
    proc = invoke_cli(
        "run",
        "housing",
        "--quick",
        "--out",
        str(work / "reports"),
        "--models-dir",
        str(work / "models"),
        "--json",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return work, proc


def test_run_quick_writes_results_for_every_variant(quick_housing):
    work, proc = quick_housing
    results = json.loads((work / "reports" / "housing" / "results.json").read_text())
    assert [v["name"] for v in results["variants"]] == ["float32", "float16", "uint16", "uint8"]
    for v in results["variants"]:
        assert set(v["metrics"]) == {"mae", "mae_dollars", "rmse"}
        assert v["metrics"]["rmse"] >= v["metrics"]["mae"]  # the root of the mean square
        assert 0.2 < v["metrics"]["mae"] < 1.5  # a 3-epoch model: worse than the full one
        assert v["runtime"]["backend"] == "wasm" and v["runtime"]["tfjs_version"] == "4.22.0"
        assert v["weight_bytes"] > 0 and v["gzip_ratio"] > 1
    sizes = {v["name"]: v["weight_bytes"] for v in results["variants"]}
    assert sizes["float32"] == 2 * sizes["uint16"] == 2 * sizes["float16"] == 4 * sizes["uint8"]
    assert results["dataset"]["n_test"] == 3000
    for v in results["variants"]:  # bootstrap intervals around MAE, paired deltas from float32
        for k in ("mae", "mae_dollars", "rmse"):
            assert v["intervals"][k][0] <= v["metrics"][k] <= v["intervals"][k][1]
        assert v["interval_method"]["methods"]["mae"] == "bootstrap" and v["interval_method"]["n"] == 3000
        d = (v.get("deltas") or {}).get("mae")
        assert (d is None) == (v["name"] == "float32")
        if d:
            assert d["test"] == "paired-bootstrap" and d["flips"] is None
            assert d["ci"][0] <= d["delta"] <= d["ci"][1]
            # the same float64 errors per example as the metric: equal to float64 rounding
            mae32 = results["variants"][0]["metrics"]["mae"]
            assert d["delta"] == pytest.approx(v["metrics"]["mae"] - mae32, abs=1e-12)
    assert json.loads(proc.stdout)[0]["demo"] == "housing"  # --json on stdout
    assert (work / "reports" / "index.html").is_file()
    assert (work / "models" / "housing" / "uint8" / "model.json").is_file()


def test_evaluate_reuses_artifacts_and_limit(quick_housing):
    work, _ = quick_housing
    out = work / "eval"
    proc = invoke_cli(
        "evaluate",
        "housing",
        "--variant",
        "uint8",
        "--limit",
        "100",
        "--models-dir",
        str(work / "models"),
        "--out",
        str(out),
        "--backend",
        "cpu",
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads((out / "housing" / "results.json").read_text())
    assert results["dataset"]["n_test"] == 100 and results["variants"][0]["name"] == "uint8"
    assert results["variants"][0]["runtime"]["backend"] == "cpu"


def test_unknown_demo_lists_valid_ones():
    proc = invoke_cli("train", "cifar")
    assert proc.returncode == 2
    assert "unknown demo 'cifar'; valid demos: housing, mnist, fashion-mnist, mobilenetv2" in proc.stderr


def test_evaluate_without_models_says_which_command(tmp_path):
    proc = invoke_cli("evaluate", "mnist", "--models-dir", str(tmp_path), "--out", str(tmp_path))
    assert proc.returncode == 4
    assert "run `quantlab train mnist`" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_missing_data_is_one_line_with_exit_3(tmp_path):
    models = tmp_path / "models"
    proc = invoke_cli(
        "train",
        "housing",
        "--data-dir",
        str(tmp_path / "data"),
        "--models-dir",
        str(models),
        env={"QUANTLAB_DATA": "", "QUANTLAB_OFFLINE": "1", "XDG_CACHE_HOME": str(tmp_path / "c")},
    )
    assert proc.returncode == 3
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "california_housing_train.csv not found" in errors[0]
    # nothing half-written: no temp folder (.keras.XXXX.part), no model, and no folder left
    # holding only its lock file
    assert not (models / "housing").exists()


def test_data_command_reports_found_files(data_dir):
    proc = invoke_cli("data", "--json", "--data-dir", str(data_dir))
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = json.loads(proc.stdout)
    assert {r["checksum"] for r in rows} == {"ok"} and len(rows) == 10


def test_ctrl_c_during_evaluation_leaves_nothing_behind(quick_housing, tmp_path):
    """Ctrl-C while the evaluator is certainly inside a predict job (its test hook holds the job;
    more signals and a stopped evaluator in tests/infra/test_signals.py)."""
    work, _ = quick_housing
    out, block, tmpdir = tmp_path / "out", tmp_path / "block", tmp_path / "tmp"
    block.mkdir()
    tmpdir.mkdir()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "quantlab.cli",
            "evaluate",
            "housing",
            "--backend",
            "cpu",
            "--models-dir",
            str(work / "models"),
            "--out",
            str(out),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200", "QUANTLAB_TEST_BLOCK_DIR": str(block), "TMPDIR": str(tmpdir)},
    )
    deadline = time.monotonic() + 180
    while not (block / "predict-started").exists():
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        assert time.monotonic() < deadline, "the evaluator never reached predict"
        time.sleep(0.02)
    node_pid = (block / "predict-started").read_text().strip()
    proc.send_signal(signal.SIGINT)  # the job is held inside predict: evaluation is running
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr[-2000:]
    assert "interrupted by SIGINT: no partial results were written" in stderr
    assert not (out / "housing" / "results.json").exists()
    assert list(out.rglob("*.part")) == [] and list((work / "models").rglob("*.part")) == []
    assert [p.name for p in tmpdir.iterdir() if p.name.startswith("quantlab-io-")] == []
    assert [line for line in node_processes_of("evaluator.mjs") if line.split()[0] == node_pid] == []


def test_parity_cli_fails_and_names_the_corrupted_layer(quick_housing, tmp_path):
    from tests.helpers import corrupt_weight

    work, _ = quick_housing
    models = tmp_path / "models"
    shutil.copytree(work / "models" / "housing", models / "housing")
    corrupt_weight(models / "housing" / "float32", "hidden3/kernel", delta=4.0)
    proc = invoke_cli("parity", "housing", "-r", "node-wasm", "--variant", "float32", "--limit", "200",
                   "--models-dir", str(models), "--out", str(tmp_path / "out"), "--json")  # fmt: skip
    assert proc.returncode == 6, proc.stderr[-2000:]
    record = json.loads(proc.stdout)
    (pair,) = [p for p in record["pairs"] if p["kind"] == "runtime"]
    assert pair["passed"] is False and pair["first_bad_layer"]["layer"] == "hidden3"
    assert (tmp_path / "out" / "housing" / "parity.json").is_file()


def test_tune_cli_artifact_is_what_the_printed_converter_command_makes(quick_housing, tmp_path):
    import filecmp

    from quantlab.convert.converter import run_converter_cli

    work, _ = quick_housing
    models = tmp_path / "models"
    shutil.copytree(work / "models" / "housing", models / "housing")
    proc = invoke_cli("tune", "housing", "--max-drop", "0.01", "--limit", "300", "--sweep", "b",
                   "--models-dir", str(models), "--out", str(tmp_path / "out"), "--json")  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    record = json.loads(proc.stdout)
    assert record["verified_within_budget"]
    assert record["holdout_size"] == 1500 and record["subset_size"] == 300
    # half of the 3000 test examples held out (seeded); the search saw 300 of the other half
    assert record["holdout"] == {"fraction": 0.5, "seed": 0, "n": 3000, "stratified_by": None,
                                               "search_n": 1500, "holdout_n": 1500}  # fmt: skip
    ci = record["verified"]["drop_ci"]
    assert ci[0] <= record["verified"]["drop"] <= ci[1] and record["verified_drop"]["n"] == 1500
    assert len(record["sensitivity"]) == 5 and record["n_evaluated"] >= 8
    # --backend auto: tfjs-node when built (make test builds it), else wasm, and it says which
    assert "tfjs backend:" in proc.stderr and record["runtime"] in ("node-tensorflow", "node-wasm")
    redo = tmp_path / "redo"
    run_converter_cli(models / "housing" / "float32" / "model.json", redo, record["chosen"]["dtype_map"])
    names = sorted(p.name for p in (models / "housing" / "tuned").iterdir())
    _, mismatch, errors = filecmp.cmpfiles(models / "housing" / "tuned", redo, names, shallow=False)
    assert mismatch == [] and errors == []
    assert record["converter_command"][:3] == [
        "tensorflowjs_converter",
        "--input_format",
        "tfjs_layers_model",
    ]


def test_tune_budget_nothing_meets_says_so(quick_housing, tmp_path, capsys):
    # The CLI refuses a negative --max-drop (exit 2, test_cli_options); the search under it does not.
    from quantlab.analysis.tune_run import TuneOptions, measure_tune
    from quantlab.cli.tables.tune import print_tune_result
    from quantlab.demos.subject import DemoSubject

    work, _ = quick_housing
    subject = DemoSubject("housing", work / "models", tmp_path)
    record = measure_tune(subject, TuneOptions(-1.0, limit=200, sweeps="", rank_limit=None))
    print_tune_result(record, -1.0, as_json=True)
    assert not record["verified_within_budget"] and record["chosen"] is None
    err = capsys.readouterr().err
    assert "no variant is within a drop of -1.0" in err and "best found" in err


def test_tune_cli_exits_7_when_nothing_meets_the_budget(monkeypatch, tmp_path):
    from typer.testing import CliRunner

    import quantlab.analysis.tune_run
    from quantlab.cli import app

    seen = {}

    def fake_measure_tune(subject, opts):
        seen.update(demo=subject.name, max_drop=opts.max_drop)
        return {"verified_within_budget": False, "chosen": None, "best_found": {"label": "float32"}}

    monkeypatch.setattr(quantlab.analysis.tune_run, "measure_tune", fake_measure_tune)
    args = [
        "tune",
        "housing",
        "--max-drop",
        "0",
        "--backend",
        "wasm",
        "--json",
        "--models-dir",
        str(tmp_path),
    ]
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path)])
    assert result.exit_code == 7 and seen == {"demo": "housing", "max_drop": 0.0}


def _one_error(proc) -> str:
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr[-3000:]
    return errors[0]


def test_evaluate_malformed_manifest_is_exit_4_not_5(quick_housing, tmp_path):
    """tfjs would fail on it (exit 5); quantlab names the file and the field first."""
    work, _ = quick_housing
    models = tmp_path / "models"
    shutil.copytree(work / "models" / "housing", models / "housing")
    model_json = models / "housing" / "uint8" / "model.json"
    mj = json.loads(model_json.read_text())
    mj["weightsManifest"][0]["weights"][0]["shape"] = ["8", 80]
    model_json.write_text(json.dumps(mj))
    proc = invoke_cli("evaluate", "housing", "--variant", "uint8", "--limit", "50", "--backend", "cpu",
                   "--models-dir", str(models), "--out", str(tmp_path / "out"))  # fmt: skip
    assert proc.returncode == 4, proc.stderr[-3000:]
    assert f"{model_json}: weightsManifest[0].weights[0]" in _one_error(proc) and ".shape:" in proc.stderr
    assert not (tmp_path / "out" / "housing" / "results.json").exists()


def test_broken_train_json_is_exit_4(quick_housing, tmp_path):
    work, _ = quick_housing
    models = tmp_path / "models"
    shutil.copytree(work / "models" / "housing", models / "housing")
    record = models / "housing" / "keras" / "train.json"
    record.write_text("[1, 2, 3]")
    proc = invoke_cli("evaluate", "housing", "--variant", "uint8", "--backend", "cpu",
                   "--models-dir", str(models), "--out", str(tmp_path / "out"))  # fmt: skip
    assert proc.returncode == 4, proc.stderr[-3000:]
    assert f"{record}: expected a JSON object, got list" in _one_error(proc)


def test_parity_beside_a_broken_results_json_leaves_it_and_the_report_names_it(quick_housing, tmp_path):
    """parity stores its section in its own file: a results.json of the wrong type beside it is
    neither read nor rewritten (a person's file), and `report` names it instead of rendering it."""
    work, _ = quick_housing
    out = tmp_path / "out"
    (out / "housing").mkdir(parents=True)
    broken = out / "housing" / "results.json"
    broken.write_text('["not", "a", "results", "record"]')
    proc = invoke_cli("parity", "housing", "-r", "node-wasm", "--models-dir", str(work / "models"),
                      "--out", str(out))  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert broken.read_text() == '["not", "a", "results", "record"]'
    assert json.loads((out / "housing" / "parity.json").read_text())["pairs"]
    proc = invoke_cli("report", "--out", str(out))
    assert proc.returncode == 1 and "results.json: skipped, expected a JSON object, got list" in proc.stderr


def test_evaluate_limit_0_is_all_and_a_limit_past_the_end_records_what_ran(quick_housing, tmp_path):
    work, _ = quick_housing
    for limit, n_test in (("0", 3000), ("100000", 3000)):
        out = tmp_path / limit
        proc = invoke_cli("evaluate", "housing", "--variant", "uint8", "--limit", limit, "--backend", "cpu",
                       "--models-dir", str(work / "models"), "--out", str(out))  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-3000:]
        results = json.loads((out / "housing" / "results.json").read_text())
        assert results["dataset"]["n_test"] == n_test == results["variants"][0]["runtime"]["n_examples"]


def test_tune_cli_conservative_judges_the_interval_and_bad_holdout_is_usage(quick_housing, tmp_path):
    work, _ = quick_housing
    models = tmp_path / "models"
    shutil.copytree(work / "models" / "housing", models / "housing")
    proc = invoke_cli("tune", "housing", "--max-drop", "0.01", "--limit", "200", "--sweep", "",
                      "--conservative", "--holdout", "0.4", "--models-dir", models, "--out", tmp_path / "out",
                      "--json")  # fmt: skip
    assert proc.returncode in (0, 7), proc.stderr[-2000:]
    record = json.loads(proc.stdout)
    assert record["conservative"] and record["holdout_size"] == 1200
    for check in record["holdout_checks"][1:]:
        assert check["drop_ci"] is not None and check["paired"]["test"] == "paired-bootstrap"
    if record["verified"]:
        assert record["verified"]["drop_ci"][1] <= 0.01 + 1e-9
        assert record["verified_drop"]["judged_on"] == "upper end of the interval"
    proc = invoke_cli(
        "tune", "housing", "--max-drop", "0.01", "--holdout", "1.5", "--models-dir", str(models)
    )
    assert proc.returncode == 2 and "--holdout 1.5" in proc.stderr


def test_tune_without_trained_artifacts_says_which_command(tmp_path):
    proc = invoke_cli("tune", "fashion-mnist", "--max-drop", "0.01", "--models-dir", str(tmp_path))
    assert proc.returncode == 4
    assert "run `quantlab train fashion-mnist`" in proc.stderr and "Traceback" not in proc.stderr
