"""MobileNetV2 through the whole path: weights resolution, images, both modes, bad inputs; and
mobilenetv2-graph, the same weights as a graph model beside it (one `run` of both serves both)."""

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
def graph_run(small_full_weights, image_dir, tmp_path_factory):
    """`quantlab run mobilenetv2 mobilenetv2-graph` once for this file, on the small full weights
    and the image folder: both demos trained (the given weights), every variant incl. the graph
    demo's equalized and bias-corrected ones, evaluated. Tests copy what they change."""
    root = tmp_path_factory.mktemp("graph_run")
    proc = invoke_cli(
        "run", "mobilenetv2", "mobilenetv2-graph", "--weights", small_full_weights, "--alpha", "0.35",
        "--image-size", "32", "--data-dir", image_dir, "--out", root / "r", "--models-dir", root / "m",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return root


@pytest.fixture(scope="module")
def full_run(graph_run) -> dict:
    """The layers demo's results.json of that run (what `quantlab run mobilenetv2` with the same
    options writes): the run every layers test here compares with."""
    return json.loads((graph_run / "r" / "mobilenetv2" / "results.json").read_text())


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


# -- mobilenetv2-graph: the same weights through the stock converter's graph model, beside the
# layers demo; equalization, bias correction, tune from the equalized model; float16 overflow.
def test_graph_demo_same_weights_as_a_graph_model_side_by_side(graph_run, image_dir, tmp_path):
    """mobilenetv2-graph: SavedModel -> stock converter graph model (BatchNorm folded); its float32
    reproduces Keras in tfjs; the page shows it beside the layers demo; --map works on it."""
    shutil.copytree(graph_run / "r", tmp_path / "r")
    shutil.copytree(graph_run / "m" / "mobilenetv2-graph", tmp_path / "m" / "mobilenetv2-graph")
    m = str(tmp_path / "m")
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


def test_graph_demo_tune_from_equalized_prints_a_command_that_reproduces_it(graph_run, image_dir, tmp_path):
    """Tune from the equalized model that `run` (train, then quantize with the images) wrote."""
    shutil.copytree(graph_run / "m" / "mobilenetv2-graph", tmp_path / "m" / "mobilenetv2-graph")
    m, r = str(tmp_path / "m"), str(tmp_path / "r")
    common = ["--models-dir", m]
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
    from quantlab.demos.mobilenet.variants import write_graph_variants
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
