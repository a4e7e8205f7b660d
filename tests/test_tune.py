"""Sensitivity and mixed-precision search on a model that uint8 really breaks."""

import numpy as np
import pytest

from quantlab.convert import check_dtype_map, save_tfjs
from quantlab.errors import QuantlabError
from quantlab.runtimes.node import TfjsNodeRuntime
from quantlab.tune import Probe, dtype_map_for, run_tune


@pytest.fixture(scope="module")
def fragile_bn_model(tmp_path_factory):
    """A dead BatchNorm channel (variance ~0), a small variance (0.1) and large ones: per-tensor uint8
    rounds it to 0 and the channel's multiplier grows 100x (the MobileNetV2 failure, in small)."""
    from quantlab.tfcompat import keras, seed_everything

    k = keras()
    seed_everything(5)
    model = k.Sequential(
        [
            k.layers.InputLayer(input_shape=(8, 8, 1)),
            k.layers.Conv2D(4, 3, name="conv"),
            k.layers.BatchNormalization(epsilon=1e-5, name="bn"),
            k.layers.Flatten(name="flat"),
            k.layers.Dense(6, name="dense"),
        ]
    )
    bn = model.get_layer("bn")
    gamma, beta, mean, var = bn.get_weights()
    bn.set_weights([gamma, beta, mean, np.array([1e-30, 0.1, 40.0, 60.0], np.float32)])
    root = tmp_path_factory.mktemp("fragile")
    save_tfjs(model, root / "float32")
    x = np.random.default_rng(1).normal(0, 0.05, (128, 8, 8, 1)).astype(np.float32)
    return model, root, x


def _cosine_probe(model, x):
    ref = model.predict(x, verbose=0)

    def score(out):
        return float(
            np.mean(np.sum(out * ref, 1) / (np.linalg.norm(out, axis=1) * np.linalg.norm(ref, axis=1)))
        )

    return Probe("cosine", True, lambda: [x], score, len(x))


def test_search_finds_the_batchnorm_fix_and_verifies_it(fragile_bn_model):
    model, root, x = fragile_bn_model
    probe = _cosine_probe(model, x)
    with TfjsNodeRuntime("wasm") as rt:
        record = run_tune(model, root, rt, probe, probe, max_drop=0.001, sweeps="ab")
    points = {p["label"]: p for p in record["points"]}
    assert points["uint8"]["drop"] > 0.001  # uint8 everywhere breaks it
    assert points["uint8, BatchNorm float16"]["drop"] <= 0.001
    sens = {r["layer"]: r for r in record["sensitivity"]}
    assert record["sensitivity"][0]["layer"] == "bn"  # restoring bn helps most
    assert sens["bn"]["drop_only_this_uint8"] > sens["dense"]["drop_only_this_uint8"]
    assert record["verified_within_budget"]
    assert record["chosen"]["weight_bytes"] < points["float32"]["weight_bytes"]
    assert record["chosen"]["dtype_map"].get("float16") == ["bn/*"]
    assert (root / "tuned" / "model.json").is_file()
    cmd = record["converter_command"]
    assert cmd[cmd.index("--quantize_float16") + 1] == "bn/*" and "--quantize_uint8" in cmd


def test_budget_nothing_meets_says_so_with_best_found(fragile_bn_model):
    model, root, x = fragile_bn_model
    probe = _cosine_probe(model, x)
    with TfjsNodeRuntime("wasm") as rt:
        record = run_tune(model, root, rt, probe, probe, max_drop=-0.5, sweeps="")
    assert record["chosen"] is None and not record["verified_within_budget"]
    assert record["best_found"]["drop"] == min(p["drop"] for p in record["points"])
    assert record["converter_command"] is None and record["artifact"] is None


def test_dtype_map_for_keeps_float32_layers_out_of_the_fallthrough():
    layers = {"a": ["a/kernel"], "b": ["b/kernel"], "c": ["c/kernel"]}
    assert dtype_map_for({"a": "uint8", "b": "uint8", "c": "float16"}, layers) == {
        "uint8": True,
        "float16": ["c/*"],
    }
    assert dtype_map_for({"a": "uint8", "b": "float32", "c": "uint8"}, layers) == {"uint8": ["a/*", "c/*"]}


def test_pattern_matching_nothing_or_two_dtypes_is_an_error():
    names = ["conv/kernel", "conv/bias", "dense/kernel"]
    with pytest.raises(QuantlabError, match="pattern 'bn/\\*' matches no weight"):
        check_dtype_map({"uint8": ["bn/*"]}, names)
    with pytest.raises(QuantlabError, match="Two quantization values"):
        check_dtype_map({"uint8": ["conv/*"], "float16": ["conv/kernel"]}, names)
    assert check_dtype_map({"uint8": ["conv/*"], "float16": True}, names)["dense/kernel"] == "float16"


def test_greedy_goes_on_from_a_given_start(fragile_bn_model):
    from quantlab.tune import Sweep, greedy_search, layers_with_weights

    model, root, x = fragile_bn_model
    layers = layers_with_weights(root / "float32")
    start = {la: "float16" if la == "bn" else "uint8" for la in layers}
    with TfjsNodeRuntime("wasm") as rt:
        sweep = Sweep(model, root / "float32", rt, _cosine_probe(model, x), relative=False)
        try:
            sweep.measure("float32", None)
            found = greedy_search(sweep, layers, ["bn", "dense", "conv"], max_drop=-1.0, start=start)
        finally:
            sweep.close()
    assert found is None  # an impossible budget
    labels = [p.label for p in sweep.points[1:]]
    assert labels == ["greedy +dense uint16", "greedy +conv uint16"] or all("bn" not in la for la in labels)
    assert sweep.points[-1].extra["promoted"] == ["bn", "dense", "conv"]
