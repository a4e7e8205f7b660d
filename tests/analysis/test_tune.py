"""Sensitivity and mixed-precision search on a model that uint8 really breaks."""

import numpy as np
import pytest

from quantlab.analysis.search import Ladder, lowest_passing, lowest_passing_at_or_below, search_order
from quantlab.analysis.sweep import Probe, dtype_map_for
from quantlab.analysis.tune import run_tune
from quantlab.convert.converter import check_dtype_map, save_tfjs
from quantlab.errors import QuantlabError
from quantlab.runtimes.node import TfjsNodeRuntime


@pytest.fixture(scope="module")
def fragile_bn_model(tmp_path_factory):
    """A dead BatchNorm channel (variance ~0), a small variance (0.1) and large ones: per-tensor uint8
    rounds it to 0 and the channel's multiplier grows 100x (the MobileNetV2 failure, in small)."""
    from quantlab.infra.tfcompat import keras, seed_everything

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


def _cosine_probe(model, x, strictness: float = 1.0):
    """Mean cosine to Keras float32; `strictness` scales the distance (a stricter "full set")."""
    ref = model.predict(x, verbose=0)

    def score(out):
        cos = np.sum(out * ref, 1) / (np.linalg.norm(out, axis=1) * np.linalg.norm(ref, axis=1))
        return float(1.0 - strictness * np.mean(1.0 - cos))

    return Probe("cosine", True, lambda: [x], score, len(x))


def test_search_finds_the_batchnorm_fix_and_verifies_it(fragile_bn_model):
    model, root, x = fragile_bn_model
    probe = _cosine_probe(model, x)
    with TfjsNodeRuntime("wasm") as rt:
        record = run_tune(root, rt, probe, probe, max_drop=0.001, sweeps="ab")
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
        record = run_tune(root, rt, probe, probe, max_drop=-0.5, sweeps="")
    assert record["chosen"] is None and not record["verified_within_budget"]
    assert record["best_found"]["label"] != "float32"
    quantized = [p for p in record["points"] if p["label"] != "float32"]
    assert record["best_found"]["drop"] == min(p["drop"] for p in quantized)
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


def test_search_goes_on_when_the_full_set_disagrees_with_the_subset(fragile_bn_model):
    model, root, x = fragile_bn_model
    subset, full = _cosine_probe(model, x), _cosine_probe(model, x, strictness=1000.0)
    with TfjsNodeRuntime("wasm") as rt:
        record = run_tune(root, rt, subset, full, max_drop=0.001, sweeps="a")
    search = record["search"]
    assert search["start"] == "uint8, BatchNorm float16" and search["subset_rung"] == 0
    checks = record["holdout_checks"]
    assert checks[0]["label"] == "float32" and checks[1]["drop"] > 0.001  # the subset's pick failed
    assert search["rung"] in (1, 2) and record["verified"]["drop"] <= 0.001
    assert record["chosen"]["extra"]["rung"] == search["rung"]  # also measured on the subset
    assert {o["layer"] for o in search["order"]} == {"conv", "dense"}
    assert (root / "tuned" / "model.json").is_file()


def test_search_goes_down_when_the_full_set_is_kinder_than_the_subset(fragile_bn_model):
    model, root, x = fragile_bn_model
    subset, full = _cosine_probe(model, x, strictness=1000.0), _cosine_probe(model, x)
    with TfjsNodeRuntime("wasm") as rt:
        record = run_tune(root, rt, subset, full, max_drop=0.001, sweeps="a")
    search = record["search"]
    assert search["subset_rung"] > 0 and search["rung"] == 0  # the BatchNorm fix is enough
    assert record["verified"]["label"] == "uint8, BatchNorm float16"
    assert record["verified_within_budget"]


def test_lowest_passing_gallops_then_bisects():
    for answer in range(1, 40):
        asked = []

        def passes(k, answer=answer, asked=asked):
            asked.append(k)
            return k >= answer

        assert lowest_passing(passes, 0, 39) == answer
        assert len(set(asked)) <= 2 * answer.bit_length() + 1
    assert lowest_passing(lambda k: False, 0, 10) is None
    assert lowest_passing(lambda k: k >= 9, 7, 10) == 9
    assert lowest_passing_at_or_below(lambda k: k >= 3, 20) == 3
    assert lowest_passing_at_or_below(lambda k: True, 20) == 0


def test_search_order_ranks_noise_per_promoted_byte():
    rows = [
        {"layer": "big", "output_error_only_this_uint8": 0.2},  # noisy but large
        {"layer": "small", "output_error_only_this_uint8": 0.1},  # less noisy, 100x smaller
        {"layer": "quiet", "output_error_only_this_uint8": 0.0},
    ]
    sizes = {"big": 10_000, "small": 100, "quiet": 10}
    assert search_order(["big", "small", "quiet"], rows, sizes, None) == ["small", "big", "quiet"]
    rows_b = [
        {"layer": "big", "output_error_all_but_this": 0.1},  # keeping it float32 removes more noise
        {"layer": "small", "output_error_all_but_this": 0.29},
    ]
    assert search_order(["small", "big"], rows_b, {"big": 1, "small": 1}, 0.3) == ["big", "small"]
    assert search_order(["b", "a"], [], {}, None) == ["b", "a"]  # no sweep: model order


def test_ladder_rungs_promote_in_order():
    layers = {"bn": ["bn/gamma"], "conv": ["conv/kernel"], "dense": ["dense/kernel"]}
    start = {"bn": "float16", "conv": "uint8", "dense": "uint8"}
    ladder = Ladder(start, ["dense", "conv"], {"dense": "uint16", "conv": "float16"}, layers, "fix")
    assert ladder.top == 2 and ladder.label(0) == "fix"
    assert ladder.assignment(1) == {"bn": "float16", "conv": "uint8", "dense": "uint16"}
    assert ladder.dtype_map(2) == {"float16": ["bn/*", "conv/*"], "uint16": ["dense/*"]}
    assert "dense uint16" in ladder.label(1)
