"""MobileNetV2 through the whole path: weights resolution, images, both modes, bad inputs."""

import json
import shutil

import numpy as np
import pytest

from quantlab.demos.mobilenet import resolve_weights, run_mobilenet, weights_file_name
from quantlab.errors import ArtifactError, DataError
from quantlab.runtimes.node import TfjsNodeRuntime
from tests.conftest import invoke_cli


@pytest.fixture(scope="module")
def wasm():
    rt = TfjsNodeRuntime("wasm", timeout=300)
    yield rt
    rt.close()


def _small_mobilenet(tmp_path_factory, include_top=True, alpha=0.35):
    """MobileNetV2 at width 0.35 and 32x32 input with random, non-trivial BatchNorm statistics
    (an untrained MobileNetV2 outputs a uniform softmax)."""
    from quantlab.infra.tfcompat import keras, seed_everything

    seed_everything(11)
    k = keras()
    model = k.applications.MobileNetV2(
        input_shape=(32, 32, 3),
        alpha=alpha,
        include_top=include_top,
        weights=None,
        pooling=None if include_top else "avg",
    )
    rng = np.random.default_rng(0)
    for layer in model.layers:
        if isinstance(layer, k.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights(
                [
                    rng.uniform(0.5, 1.5, gamma.shape),
                    rng.normal(0, 0.1, beta.shape),
                    rng.normal(0, 0.5, mean.shape),
                    rng.uniform(0.2, 2.0, var.shape),
                ]
            )
    path = tmp_path_factory.mktemp("weights") / weights_file_name(alpha, 32, include_top)
    model.save_weights(path)
    return path


@pytest.fixture(scope="module")
def small_full_weights(tmp_path_factory):
    return _small_mobilenet(tmp_path_factory)


@pytest.fixture(scope="module")
def image_dir(tmp_path_factory, data_dir):
    """A data folder with 12 real images plus a greyscale, a CMYK, a corrupt and a non-image file."""
    from PIL import Image

    root = tmp_path_factory.mktemp("data")
    src = data_dir / "imagenet-samples"
    dst = root / "imagenet-samples"
    dst.mkdir()
    for name in ("imagenet_classes.js", "imagenet_class_index.json"):
        shutil.copy(src / name, dst / name)
    real = sorted(src.glob("n0*.jpg"))[5:17]  # goldfish, ray, bird: classes with wnids in the index
    for p in real:
        shutil.copy(p, dst / p.name)
    with Image.open(real[0]) as im:
        im.convert("L").save(dst / "n01443537_900001_goldfish.jpg")
        im.convert("CMYK").save(dst / "n01443537_900002_goldfish.jpg")
    (dst / "n01443537_900003_goldfish.jpg").write_bytes(real[1].read_bytes()[:300])
    (dst / "n01443537_900004_goldfish.jpg").write_text("not an image at all")
    (dst / "README.txt").write_text("ignored")
    return root


def test_full_model_top1_top5_both_rules(wasm, small_full_weights, image_dir, tmp_path):
    res = run_mobilenet(
        wasm,
        tmp_path / "models",
        tmp_path / "out",
        image_dir,
        weights=small_full_weights,
        alpha=0.35,
        size=32,
        batch=8,
    )
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
    saved = json.loads((tmp_path / "out" / "mobilenetv2" / "results.json").read_text())
    assert saved["preprocessing"] == "keras" and saved["seed"]["float32"] == 0.618


def test_backbone_mode_with_the_shared_weights(wasm, data_dir, tmp_path):
    res = run_mobilenet(wasm, tmp_path / "models", tmp_path / "out", data_dir, limit=20, batch=10)
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
    wrong = _small_mobilenet(tmp_path_factory, alpha=0.5)
    with pytest.raises(ArtifactError, match=r"does not fit MobileNetV2\(alpha=0.35, input 32x32"):
        run_mobilenet(wasm, tmp_path, tmp_path, image_dir, weights=wrong, alpha=0.35, size=32)


def test_truncated_h5_is_refused(small_full_weights, tmp_path):
    bad = tmp_path / "w.h5"
    bad.write_bytes(small_full_weights.read_bytes()[:5000])
    with pytest.raises(ArtifactError, match=r"w\.h5: not a readable Keras HDF5 weights file"):
        resolve_weights(bad, None)


def test_empty_image_folder(tmp_path, wasm):
    (tmp_path / "imagenet-samples").mkdir()
    with pytest.raises(DataError, match="no <wnid>_<id>_<label>.jpg images"):
        run_mobilenet(wasm, tmp_path, tmp_path, tmp_path, alpha=0.35, size=32, weights=None)


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


def test_mobilenet_is_an_ordinary_demo_train_quantize_evaluate(small_full_weights, image_dir, tmp_path):
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
    run = invoke_cli(
        "run", "mobilenetv2", "--weights", str(small_full_weights), "--alpha", "0.35", "--image-size", "32",
        "--data-dir", str(image_dir), "--out", str(tmp_path / "r2"), "--models-dir", str(tmp_path / "m2"),
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    res2 = json.loads((tmp_path / "r2" / "mobilenetv2" / "results.json").read_text())
    by = {v["name"]: v["metrics"] for v in res2["variants"]}
    assert {v["name"]: v["metrics"] for v in res["variants"]} == {k: by[k] for k in ("float32", "uint8")}


def test_graph_demo_same_weights_as_a_graph_model_side_by_side(small_full_weights, image_dir, tmp_path):
    """mobilenetv2-graph: SavedModel -> stock converter graph model (BatchNorm folded); its float32
    reproduces Keras in tfjs; the page shows it beside the layers demo; --map works on it."""
    m, r = str(tmp_path / "m"), str(tmp_path / "r")
    proc = invoke_cli(
        "run", "mobilenetv2", "mobilenetv2-graph", "--weights", str(small_full_weights), "--alpha", "0.35",
        "--image-size", "32", "--data-dir", str(image_dir), "--out", r, "--models-dir", m,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    graph = json.loads((tmp_path / "r" / "mobilenetv2-graph" / "results.json").read_text())
    layers = json.loads((tmp_path / "r" / "mobilenetv2" / "results.json").read_text())
    assert graph["model_format"] == "graph" and layers["model_format"] == "layers"
    manifest = json.loads((tmp_path / "m" / "mobilenetv2-graph" / "float32" / "model.json").read_text())
    assert manifest["format"] == "graph-model"
    names = [w["name"] for g in manifest["weightsManifest"] for w in g["weights"]]
    assert not any("moving_variance" in n for n in names)  # BatchNorm folded by the converter
    f32 = {v["name"]: v for v in graph["variants"]}["float32"]["metrics"]
    assert f32["top1"] == graph["keras_reference"]["metrics"]["top1"]  # tfjs graph == Keras
    assert f32["top1"] == {v["name"]: v for v in layers["variants"]}["float32"]["metrics"]["top1"]
    by = {v["name"]: v for v in graph["variants"]}
    assert list(by) == [
        "float32", "float16", "uint16", "uint8", "equalized", "equalized-uint8", "equalized-bc-uint8"
    ]  # fmt: skip
    assert graph["equalization"]["n_pairs"] > 0
    bc = graph["equalization"]["bias_correction"]
    calibrated = sorted(p.name for p in (image_dir / "imagenet-samples").glob("n0*.jpg"))[:1]  # 1 in 16
    assert bc["target"] == "uint8" and bc["calibration_images"] == calibrated and bc["n_layers"] > 0
    # its weight errors are against the bias-corrected float32 weights, not the original's
    assert "equalized-bc-uint8" in graph["weight_error"]
    from quantlab.analysis.delivery_run import variant_folders

    shipped = list(variant_folders(tmp_path / "m" / "mobilenetv2-graph"))  # the float32 steps are not
    assert shipped == ["float32", "float16", "uint16", "uint8", "equalized-bc-uint8", "equalized-uint8"]
    # ReLU6 clips moved per channel: the equalized float32 model computes the same features
    assert by["equalized"]["metrics"] == by["float32"]["metrics"]
    page = (tmp_path / "r" / "mobilenetv2-graph" / "index.html").read_text()
    assert "side by side" in page and 'href="./../mobilenetv2/index.html"' in page
    custom = invoke_cli(
        "quantize", "mobilenetv2-graph", "--map", "uint8=*", "--name", "all8", "--models-dir", m
    )
    assert custom.returncode == 0, custom.stderr[-2000:]
    made = json.loads((tmp_path / "m" / "mobilenetv2-graph" / "all8" / "model.json").read_text())
    assert made["format"] == "graph-model"
    u8 = tmp_path / "m" / "mobilenetv2-graph" / "uint8"
    assert (tmp_path / "m" / "mobilenetv2-graph" / "all8" / "group1-shard1of1.bin").read_bytes() == (
        u8 / "group1-shard1of1.bin"
    ).read_bytes()


def test_graph_demo_tune_from_equalized_prints_a_command_that_reproduces_it(
    small_full_weights, image_dir, tmp_path
):
    m, r = str(tmp_path / "m"), str(tmp_path / "r")
    common = ["--models-dir", m]
    for step in (
        ["train", "mobilenetv2-graph", "--weights", str(small_full_weights), "--alpha", "0.35",
         "--image-size", "32", "--data-dir", str(image_dir)],
        ["quantize", "mobilenetv2-graph", "--data-dir", str(image_dir)],
    ):  # fmt: skip
        proc = invoke_cli(*step, *common)
        assert proc.returncode == 0, (step[0], proc.stderr[-3000:])
    bad = invoke_cli("tune", "mnist", "--max-drop", "0.1", "--equalized", *common)
    assert bad.returncode == 2 and "--equalized" in bad.stderr
    proc = invoke_cli(
        "tune", "mobilenetv2-graph", "--equalized", "--max-drop", "1.0", "--sweep", "", "--limit", "0",
        "--holdout", "0.5", "--data-dir", str(image_dir), "--out", r, "--json", *common,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    record = json.loads(proc.stdout)
    assert record["base"] == "equalized" and record["format"] == "graph"
    cmd = record["quantlab_command"]
    assert cmd[:3] == ["quantlab", "quantize", str(tmp_path / "m" / "mobilenetv2-graph" / "equalized")]
    again = invoke_cli(*cmd[1:], "--models-dir", str(tmp_path / "again"))
    assert again.returncode == 0, again.stderr[-3000:]
    tuned = tmp_path / "m" / "mobilenetv2-graph" / "tuned-equalized"
    made = tmp_path / "again" / "equalized" / "mixed"
    for shard in sorted(p.name for p in tuned.glob("*.bin")):
        assert (made / shard).read_bytes() == (tuned / shard).read_bytes()
    # the answer measured like any variant, on every image (not only the held-out half)
    ev = invoke_cli(
        "evaluate", "mobilenetv2-graph", "--variant", "float32", "--variant", "tuned-equalized",
        "--data-dir", str(image_dir), "--out", str(tmp_path / "all"), *common,
    )  # fmt: skip
    assert ev.returncode == 0, ev.stderr[-3000:]
    res = json.loads((tmp_path / "all" / "mobilenetv2-graph" / "results.json").read_text())
    assert [v["name"] for v in res["variants"]] == ["float32", "tuned-equalized"]
    assert res["dataset"]["n_test"] == record["holdout_size"] + record["subset_size"]


def test_graph_demo_quantize_names_a_float16_overflow_and_writes_no_float16(tmp_path):
    """A weight beyond 65504 in the model the graph demo converts: the float16 variant is refused
    naming the tensor (exit code 4's ArtifactError), and no float16 folder is left half-written."""
    from quantlab.demos.mobilenet import write_graph_variants
    from quantlab.errors import ArtifactError
    from quantlab.infra.tfcompat import import_tensorflow, keras

    import_tensorflow()
    k = keras()
    inp = k.Input((4, 4, 3), name="x")
    model = k.Model(inp, k.layers.Conv2D(2, 1, name="big")(inp))
    w, b = model.get_layer("big").get_weights()
    w[0, 0, 1, 0] = 1e5  # 100000 > 65504: Inf in float16 (tensorflow/tfjs#4870)
    model.get_layer("big").set_weights([w, b])
    root = tmp_path / "graph"
    with pytest.raises(ArtifactError) as e:
        write_graph_variants(model, root, ["float32", "uint8", "float16"])
    assert "float16 overflow" in str(e.value) and "100000" in str(e.value) and e.value.exit_code == 4
    assert "big/" in str(e.value)  # the folded conv weight, by its graph name
    assert (root / "float32" / "model.json").is_file() and (root / "uint8" / "model.json").is_file()
    assert not (root / "float16").exists() and not any(p.name.startswith(".") for p in root.iterdir())
