"""`quantlab analyze MODEL --litert` through the real CLI: the LiteRT variants land in the same
results as the tfjs ones (judged against the same float32 outputs, on the same examples, none of
which full int8 was calibrated on), with the recipe, the runtime and the sentence; and its refusals."""

from __future__ import annotations

import json

import pytest

from tests.conftest import invoke_cli, require_runtime

LITERT = ["litert-float32", "litert-float16", "litert-dynamic-int8", "litert-int8"]


@pytest.fixture(scope="module")
def analyzed(user_models, tmp_path_factory):
    """`analyze clf.h5 --litert` once for the module: (OUT, MODELS, the run's terminal output)."""
    from quantlab.infra.chromium import browser_unavailable_reason
    from quantlab.runtimes.litert import litert_missing

    require_runtime(browser_unavailable_reason("wasm") or litert_missing())
    tmp_path = tmp_path_factory.mktemp("litert_cli")
    out, models = tmp_path / "out", tmp_path / "m"
    r = invoke_cli(
        "analyze", str(user_models["clf.h5"]), "--inputs", str(user_models["clf.npz"]), "--litert",
        "--calibration", "60", "--variants", "uint8", "--out", str(out), "--models-dir", str(models),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    return out, models, r.stdout + r.stderr


def test_litert_rows_beside_the_tfjs_ones(analyzed):
    out, _, terminal = analyzed
    res = json.loads((out / "clf" / "results.json").read_text())
    rows = {v["name"]: v for v in res["variants"]}
    assert list(rows) == ["float32", "uint8", *LITERT]
    assert res["dataset"]["n_test"] == 300 - 60 and res["inputs"]["calibration_held_out"] == 60
    for name in LITERT:
        row = rows[name]
        assert row["runtime"]["name"] == "browser-litert-wasm" and row["runtime"]["n_examples"] == 240
        assert row["delivery"]["requests"] == 1 and row["weight_bytes"] > 0
        assert "accuracy" in row["metrics"] and row["deltas"]["accuracy"]["n"] == 240
    # float32 in LiteRT.js computes what tfjs float32 computes, to float32 rounding
    assert rows["litert-float32"]["outputs"]["probs"]["value"] > 0.99999
    parity = res["litert"]["float32_parity"]  # LiteRT.js float32 against Keras itself
    assert parity["reference"] == "keras" and parity["passed"] and parity["max_abs"] < 1e-5
    recipe = res["litert"]["variants"]["litert-int8"]
    assert recipe["calibration"].startswith("60 examples of --inputs") and recipe["batch"] == 1
    assert any("TFLITE_BUILTINS_INT8" in line for line in recipe["python"])
    assert (
        res["litert"]["sentence"].startswith("LiteRT.js int8: ")
        and "tfjs uint8: " in res["litert"]["sentence"]
    )
    assert "tfjs (node-wasm) or LiteRT.js (browser-litert-wasm)" in terminal


def test_two_inputs_and_two_outputs_meet_by_name(user_models, tmp_path):
    """LiteRT.js lists a Keras model's inputs by signature (b before a here) and names its outputs
    output_0, output_1: each input and output still meets its own (litert-float32 equals float32)."""
    from quantlab.infra.chromium import browser_unavailable_reason
    from quantlab.runtimes.litert import litert_missing

    require_runtime(browser_unavailable_reason("wasm") or litert_missing())
    out = tmp_path / "o"
    r = invoke_cli(
        "analyze", user_models["two_io.h5"], "--inputs", user_models["two_io.npz"], "--litert",
        "--calibration", "5", "--variants", "uint8", "--out", out, "--models-dir", tmp_path / "m",
    )  # fmt: skip
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    res = json.loads((out / "two_io" / "results.json").read_text())
    f32 = {v["name"]: v for v in res["variants"]}["litert-float32"]["outputs"]
    assert set(f32) == {"out1", "out2"}
    assert all(f32[o]["rel_l2"] < 1e-5 for o in ("out1", "out2")), f32
    assert "the worst output's score: LiteRT.js int8: " in r.stdout + r.stderr


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--calibration", "5000"], "--calibration 5000: needs 1 to 299 of the 300 input examples"),
        (["--litert-runtime", "node-litert"], "--litert-runtime node-litert: valid:"),
    ],
)
def test_litert_refusals_are_one_line(user_models, tmp_path, extra, message):
    r = invoke_cli(
        "analyze", user_models["clf.h5"], "--inputs", user_models["clf.npz"], "--litert", *extra,
        "--out", tmp_path / "o", "--models-dir", tmp_path / "m",
    )  # fmt: skip
    errors = [ln for ln in (r.stdout + r.stderr).splitlines() if ln.startswith("error:")]
    assert r.returncode == 2 and len(errors) == 1 and message in errors[0], r.stdout + r.stderr
    assert not (tmp_path / "o" / "clf").exists()


def test_litert_needs_a_keras_or_savedmodel_source(clf_graph, tmp_path):
    r = invoke_cli("analyze", clf_graph, "--litert", "--out", tmp_path / "o", "--models-dir", tmp_path / "m")
    errors = [ln for ln in (r.stdout + r.stderr).splitlines() if ln.startswith("error:")]
    assert r.returncode == 2 and len(errors) == 1 and "cannot read tfjs models" in errors[0], errors


def test_bench_and_delivery_take_every_tfjs_and_litert_variant(user_models, analyzed, tmp_path):
    """After `analyze --litert`: `quantlab bench MODEL` times every tfjs and LiteRT variant and
    TensorFlow at each thread count (a cross-origin-isolated page gives LiteRT.js's threaded build
    the cores Chromium reports, navigator.hardwareConcurrency, the machine's here; one thread
    without it); `quantlab delivery MODEL` loads the LiteRT variants too, one request each."""
    import os
    import shutil

    out = tmp_path / "o"
    shutil.copytree(analyzed[0], out)  # delivery writes its delivery.json: the fixture's stays as made
    models = analyzed[1]
    r = invoke_cli(
        "bench", user_models["clf.h5"], "--inputs", user_models["clf.npz"], "--models-dir", models,
        "--threads", "1,2", "--examples", "3", "--rounds", "2", "--json",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    doc = json.loads(r.stdout)
    got = {(row["runtime"], row["variant"], row["threads_asked"]): row for row in doc["rows"]}
    cores = len(os.sched_getaffinity(0))
    for t in (1, 2):
        for v in ("float32", "uint8"):
            # tfjs-backend-wasm: min(asked, 8, cores / 2) threads (its init_with_threads_count)
            assert got[("browser-wasm", v, t)]["threads_used"] == max(1, min(t, 8, cores // 2))
        for v in LITERT:
            assert got[("browser-litert-wasm", v, t)]["threads_used"] == min(t, cores)
        assert ("tensorflow", "original", t) in got
    assert all(r["ms_per_example"] > 0 and r["rounds"] == 2 and r["examples"] == 3 for r in doc["rows"])
    assert doc["tensorflow_version"]  # the child process's TensorFlow, recorded
    assert doc["runtimes"]["browser-wasm/2"]["cross_origin_isolated"] is True
    assert doc["runtimes"]["browser-wasm/1"]["cross_origin_isolated"] is False
    r = invoke_cli(
        "delivery", user_models["clf.h5"], "--models-dir", models, "--out", out, "--runs", "1",
        "--profiles", "none", "--pages", "1", "--json",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    record = json.loads(r.stdout)
    assert list(record["variants"]) == ["float32", "uint8", *LITERT], record["errors"]
    for v in LITERT:
        got = record["variants"][v]["none"]
        on_disk = (models / "clf" / v / "model.tflite").stat().st_size
        assert got["requests"] == 1 and got["decoded_bytes"] == on_disk == record["sizes"][v]["total"]["raw"]
        assert 0 < got["load_ms"]["median"] <= got["first_prediction_ms"]["median"]
