"""MobileNetV2 through the whole path: weights resolution, images, both modes, bad inputs."""

import json
import shutil

import pytest

from quantlab.demos.mobilenet.model import resolve_weights
from quantlab.demos.registry import DemoOptions, get_demo
from quantlab.errors import ArtifactError, DataError
from tests.conftest import invoke_cli
from tests.demos.conftest import small_mobilenet


def run_demo(runtime, models_dir, out_dir, opts: DemoOptions, name: str = "mobilenetv2") -> dict:
    """prepare -> quantize -> evaluate: the road `quantlab run` takes (cli/commands/run.py), in
    this process and on `runtime`; the demo's results.json as a dict."""
    demo = get_demo(name)
    demo.prepare(models_dir, opts)
    demo.quantize(models_dir, data_dir=opts.data_dir)
    return demo.evaluate(runtime, models_dir, out_dir, opts)


@pytest.fixture(scope="module")
def full_run(small_full_weights, image_dir, tmp_path_factory) -> dict:
    """`quantlab run mobilenetv2` on the small full weights and the image folder, once: its
    results.json (the run every test here compares with)."""
    root = tmp_path_factory.mktemp("full_run")
    proc = invoke_cli(
        "run", "mobilenetv2", "--weights", small_full_weights, "--alpha", "0.35", "--image-size", "32",
        "--data-dir", image_dir, "--out", root / "r", "--models-dir", root / "m",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((root / "r" / "mobilenetv2" / "results.json").read_text())


def test_full_model_top1_top5_both_rules(full_run):
    res = full_run
    assert res["mode"] == "full" and "--weights" in res["mode_reason"]
    # 12 real + greyscale + CMYK decoded; the truncated and the text file skipped and counted.
    assert res["dataset"]["n_test"] == 14 and res["dataset"]["n_skipped"] == 2
    assert sorted(res["dataset"]["skipped"]) == [
        "n01443537_900003_goldfish.jpg",
        "n01443537_900004_goldfish.jpg",
    ]
    for v in res["variants"]:
        m = v["metrics"]
        assert set(m) == {"top1", "top5", "top1_wnid", "top5_wnid", "n_scored_wnid"}
        assert 0 <= m["top1"] <= m["top5"] <= 1
        assert m["n_scored_wnid"] == 7  # goldfish (5 + grey + CMYK); ray and bird are not classes
    # Outputs really differ between images (non-uniform softmax), and the tfjs float32 matches
    # Keras float32 on the same images.
    assert res["keras_reference"]["metrics"]["top5"] == res["variants"][0]["metrics"]["top5"]
    assert res["preprocessing"] == "keras" and res["seed"]["float32"] == 0.618


def test_backbone_mode_with_the_shared_weights(wasm, data_dir, tmp_path):
    res = run_demo(wasm, tmp_path / "models", tmp_path / "out", DemoOptions(data_dir, limit=20))
    assert res["mode"] == "backbone" and "no-top" in res["mode_reason"]
    by = {v["name"]: v["metrics"] for v in res["variants"]}
    assert set(by["uint8"]) == {"loo_1nn", "cosine_mean", "cosine_min"}
    assert by["float32"]["cosine_min"] > 0.99999
    assert by["float16"]["cosine_mean"] > 0.999 and by["uint16"]["cosine_mean"] > 0.995
    assert by["uint8"]["cosine_mean"] < 0.9  # the BatchNorm variance collapse (DESIGN 2.6)
    assert by["float32"]["loo_1nn"] == res["keras_reference"]["metrics"]["loo_1nn"]
    assert res["memory"]["node_peak_rss_mb"] > 0
    # intervals on the per-image figures; uint8 vs float32 on the same 20 images
    rows = {v["name"]: v for v in res["variants"]}
    lo, hi = rows["uint8"]["intervals"]["loo_1nn"]
    assert lo <= by["uint8"]["loo_1nn"] <= hi
    assert rows["uint8"]["interval_method"]["methods"] == {"loo_1nn": "wilson", "cosine_mean": "bootstrap"}
    assert "deltas" not in rows["float32"]
    d = rows["uint8"]["deltas"]["loo_1nn"]
    assert d["test"] == "mcnemar-exact" and d["n"] == 20
    assert d["delta"] == pytest.approx(by["uint8"]["loo_1nn"] - by["float32"]["loo_1nn"])
    assert rows["uint8"]["deltas"]["cosine_mean"]["ci"][1] < 0  # measurably below float32's 1.0


def test_weights_of_the_wrong_width_are_refused(tmp_path_factory, image_dir, tmp_path, wasm):
    wrong = small_mobilenet(tmp_path_factory, alpha=0.5)
    with pytest.raises(ArtifactError, match=r"does not fit MobileNetV2\(alpha=0.35, input 32x32"):
        run_demo(wasm, tmp_path, tmp_path, DemoOptions(image_dir, weights=wrong, alpha=0.35, image_size=32))


def test_truncated_h5_is_refused(small_full_weights, tmp_path):
    bad = tmp_path / "w.h5"
    bad.write_bytes(small_full_weights.read_bytes()[:5000])
    with pytest.raises(ArtifactError, match=r"w\.h5: not a readable Keras HDF5 weights file"):
        resolve_weights(bad, None)


def test_empty_image_folder(tmp_path, wasm):
    (tmp_path / "imagenet-samples").mkdir()
    with pytest.raises(DataError, match="no <wnid>_<id>_<label>.jpg images"):
        run_demo(wasm, tmp_path, tmp_path, DemoOptions(tmp_path, weights=None, alpha=0.35, image_size=32))


def test_weights_found_by_keras_file_name_in_the_data_folder(tmp_path, small_full_weights):
    (tmp_path / "mobilenet_v2").mkdir()
    shutil.copy(small_full_weights, tmp_path / "mobilenet_v2" / small_full_weights.name)
    choice = resolve_weights(None, tmp_path, alpha=0.35, size=32)
    assert choice.mode == "full" and choice.path.parent == tmp_path / "mobilenet_v2"


def test_cli_run_mobilenet_quick_seed_preprocessing(small_full_weights, image_dir, tmp_path):
    proc = invoke_cli(
        "run", "mobilenetv2", "--weights", str(small_full_weights), "--alpha", "0.35",
        "--image-size", "32", "--preprocessing", "seed", "--data-dir", str(image_dir),
        "--out", str(tmp_path / "r"), "--models-dir", str(tmp_path / "m"),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads((tmp_path / "r" / "mobilenetv2" / "results.json").read_text())
    assert res["preprocessing"] == "seed" and len(res["variants"]) == 4
    assert (tmp_path / "r" / "mobilenetv2" / "index.html").is_file()


def test_mobilenet_is_an_ordinary_demo_train_quantize_evaluate(
    full_run, small_full_weights, image_dir, tmp_path
):
    """The building blocks take mobilenetv2 like any demo, and give what `run` gives."""
    common = ["--models-dir", str(tmp_path / "m")]
    steps = [
        ["train", "mobilenetv2", "--weights", str(small_full_weights), "--alpha", "0.35",
         "--image-size", "32", "--data-dir", str(image_dir)],
        ["quantize", "mobilenetv2"],
        ["evaluate", "mobilenetv2", "--variant", "float32", "--variant", "uint8",
         "--data-dir", str(image_dir), "--out", str(tmp_path / "r")],
    ]  # fmt: skip
    for step in steps:
        proc = invoke_cli(*step, *common)
        assert proc.returncode == 0, (step[0], proc.stderr[-3000:])
    res = json.loads((tmp_path / "r" / "mobilenetv2" / "results.json").read_text())
    assert res["mode"] == "full" and [v["name"] for v in res["variants"]] == ["float32", "uint8"]
    assert res["kind"] == "demo" and res["schema"] == 2
    by = {v["name"]: v["metrics"] for v in full_run["variants"]}  # what `run` gave
    assert {v["name"]: v["metrics"] for v in res["variants"]} == {k: by[k] for k in ("float32", "uint8")}
