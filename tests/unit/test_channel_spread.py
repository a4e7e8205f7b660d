"""Per-output-channel range spread in the weight-error table, on hand-made arrays (no TF)."""

import json
import math

import numpy as np
import pytest

from quantlab.analysis.weight_error import channel_ranges, channel_spread, diagnosis, tensor_errors


def test_dense_kernel_channels_are_the_last_axis():
    # [in=2, out=3]: channel ranges (max - min down each column) 2, 0.5, 0.02
    k = np.array([[1.0, 0.5, 0.01], [-1.0, 0.0, -0.01]], np.float32)
    np.testing.assert_allclose(channel_ranges("d/kernel", k), [2.0, 0.5, 0.02], rtol=1e-6)
    s = channel_spread("d/kernel", k)
    assert s["n_channels"] == 3
    assert s["channel_spread"] == pytest.approx(2.0 / 0.02, rel=1e-5)  # 100x
    assert s["median_channel_share"] == pytest.approx(0.5 / 2.0, rel=1e-6)  # tensor range 2


def test_depthwise_kernel_has_in_times_mult_channels():
    # [h=1, w=2, in=2, mult=2]: 4 channels, laid out in*mult as tfjs/TF flatten them
    k = np.zeros((1, 2, 2, 2), np.float32)
    k[0, :, 0, 0] = [0.0, 8.0]  # range 8
    k[0, :, 0, 1] = [0.0, 4.0]  # range 4
    k[0, :, 1, 0] = [-1.0, 1.0]  # range 2
    k[0, :, 1, 1] = [0.0, 0.08]  # range 0.08
    np.testing.assert_allclose(channel_ranges("blk/depthwise_kernel", k), [8, 4, 2, 0.08], rtol=1e-6)
    s = channel_spread("blk/depthwise_kernel", k)
    assert s["n_channels"] == 4
    assert s["channel_spread"] == pytest.approx(100.0, rel=1e-5)
    # median of (8, 4, 2, 0.08) = 3; tensor range 8 - (-1) = 9
    assert s["median_channel_share"] == pytest.approx(3 / 9, rel=1e-6)
    # the same array named as an ordinary conv kernel: 2 channels (last axis)
    assert channel_spread("blk/kernel", k)["n_channels"] == 2


def test_vectors_and_zero_channels():
    assert channel_spread("bn/gamma", np.ones(5, np.float32))["channel_spread"] is None
    k = np.array([[0.0, 1.0, 0.0], [0.0, -1.0, 0.5]], np.float32)  # a dead channel (range 0)
    s = channel_spread("d/kernel", k)
    assert s["channel_spread"] == pytest.approx(4.0)  # 2 / 0.5, the dead channel left out
    # and left out of the median too: median of the live (2, 0.5) = 1.25; tensor range 1 - (-1) = 2
    assert s["median_channel_share"] == pytest.approx(1.25 / 2.0)
    assert (s["n_channels"], s["n_dead_channels"]) == (3, 1)


def test_dead_channels_leave_spread_and_median():
    # [in=2, out=4]: column ranges 2, 4, 0 (constant), 1e-9 (under 1e-6 of the widest 4: dead)
    k = np.array([[1.0, 3.0, 0.5, 0.0], [-1.0, -1.0, 0.5, 1e-9]], np.float32)
    s = channel_spread("d/kernel", k)
    assert (s["n_channels"], s["n_dead_channels"]) == (4, 2)
    assert s["channel_spread"] == pytest.approx(2.0, rel=1e-6)  # 4 / 2
    # median of the live (2, 4) = 3; tensor range 3 - (-1) = 4
    assert s["median_channel_share"] == pytest.approx(0.75, rel=1e-6)
    # a narrow channel above the cut stays: ranges 4 and 4e-5 (1e-5 of the widest) -> 1e5x
    narrow = np.array([[2.0, 4e-5], [-2.0, 0.0]], np.float32)
    t = channel_spread("d/kernel", narrow)
    assert t["n_dead_channels"] == 0 and t["channel_spread"] == pytest.approx(1e5, rel=1e-4)
    # all channels dead: nothing to share out
    u = channel_spread("d/kernel", np.zeros((3, 2), np.float32))
    assert (u["n_dead_channels"], u["channel_spread"], u["median_channel_share"]) == (2, None, None)


def test_non_kernels_get_no_channel_fields():
    alpha = np.array([[[1e-8, 0.25, 3.0, -7.0, 0.0, 100.0, 0.5, 2.0]]], np.float32)  # PReLU [1, 1, 8]
    assert channel_spread("p/alpha", alpha, kernel=False) == {
        "n_channels": None,
        "n_dead_channels": None,
        "channel_spread": None,
        "median_channel_share": None,
    }
    # a 2-D non-kernel that would otherwise get channels: [2, 3], column ranges 1, 1, 1
    vec = np.array([[0.0, 1.0, 2.0], [1.0, 2.0, 3.0]], np.float32)
    assert channel_spread("c/bias2d", vec)["n_channels"] == 3
    assert channel_spread("c/bias2d", vec, kernel=False)["n_channels"] is None


def test_depthwise_flag_overrides_the_name():
    # [h=1, w=2, in=2, mult=1] named freely ("unknown_1", as graph converters do): 1 channel by the
    # name, 2 (ranges 4 and 1) when the topology says it is depthwise
    k = np.array([[[[0.0], [0.0]], [[4.0], [1.0]]]], np.float32)
    assert channel_ranges("unknown_1", k) is None
    np.testing.assert_allclose(channel_ranges("unknown_1", k, depthwise=True), [4.0, 1.0])
    assert channel_spread("unknown_1", k, depthwise=True)["channel_spread"] == pytest.approx(4.0)


def test_diagnosis_names_the_narrowest_tensors():
    rows = [
        {
            "name": "m/block_3_depthwise/w",
            "dtype": "uint8",
            "median_channel_share": 0.03,
            "channel_spread": 180.0,
        },
        {"name": "m/conv/w", "dtype": "uint8", "median_channel_share": 0.5, "channel_spread": 3.0},
        {"name": "m/b", "dtype": "uint8", "median_channel_share": None, "channel_spread": None},
    ]
    line = diagnosis("uint8", rows)
    assert line == (
        "uint8 breaks m/block_3_depthwise/w (median channel uses 3.0% of the 256 levels; "
        "channel ranges differ 180x)"
    )
    assert diagnosis("uint8", rows[1:]) is None
    assert diagnosis("float16", [dict(rows[0], dtype="float16")]) is None


def _artifact(folder, tensors, uint8, nodes=()):
    from quantlab.tfjs.quantization import quantize_affine

    folder.mkdir()
    weights, blobs = [], []
    for name, values in tensors.items():
        entry = {"name": name, "shape": list(values.shape), "dtype": "float32"}
        if uint8:
            q, lo, scale = quantize_affine(values, "uint8")
            entry["quantization"] = {"dtype": "uint8", "min": lo, "scale": scale, "original_dtype": "float32"}
            blobs.append(q.tobytes())
        else:
            blobs.append(values.astype("<f4").tobytes())
        weights.append(entry)
    (folder / "group1-shard1of1.bin").write_bytes(b"".join(blobs))
    manifest = [{"paths": ["group1-shard1of1.bin"], "weights": weights}]
    (folder / "model.json").write_text(
        json.dumps({"modelTopology": {"node": list(nodes)}, "weightsManifest": manifest})
    )


def test_tensor_errors_rows_carry_the_spread(tmp_path):
    rng = np.random.default_rng(0)
    scales = np.array([10.0, 1.0, 0.1, 0.05], np.float32)
    tensors = {
        "g/dw/depthwise_weights": (rng.standard_normal((3, 3, 4, 1)) * scales[:, None]).astype(np.float32),
        "g/dw/bias": np.array([0.1, 0.2, 0.3, 0.4], np.float32),
    }
    nodes = [
        {"name": "x", "op": "Placeholder"},
        {"name": "g/dw/depthwise_weights", "op": "Const"},
        {"name": "g/dw/bias", "op": "Const"},
        {"name": "g/dw", "op": "DepthwiseConv2dNative", "input": ["x", "g/dw/depthwise_weights"]},
        {"name": "g/dw/add", "op": "BiasAdd", "input": ["g/dw", "g/dw/bias"]},
    ]
    _artifact(tmp_path / "float32", tensors, uint8=False, nodes=nodes)
    _artifact(tmp_path / "uint8", tensors, uint8=True, nodes=nodes)
    out = tensor_errors(tmp_path / "float32", tmp_path / "uint8")
    rows = {r["name"]: r for r in out["tensors"]}
    dw = rows["g/dw/depthwise_weights"]
    ranges = np.ptp(tensors["g/dw/depthwise_weights"].reshape(9, 4), axis=0)
    assert dw["channel_spread"] == pytest.approx(ranges.max() / ranges.min(), rel=1e-6)
    whole = np.ptp(tensors["g/dw/depthwise_weights"])
    assert dw["median_channel_share"] == pytest.approx(np.median(ranges) / whole, rel=1e-6)
    assert rows["g/dw/bias"]["channel_spread"] is None
    assert out["diagnosis"].startswith("uint8 breaks g/dw/depthwise_weights (median channel uses")


def test_diagnosis_blames_kernels_only_by_full_name(tmp_path):
    # x -> Conv2D(filter) -> BiasAdd(bias [1, 1, 8]) -> Prelu(alpha [1, 1, 8]), names nested as a
    # graph converter nests them. The filter's 8 output channels have ranges 1, 1, 1, 1, 1, 1, 1, 20
    # (median 1, tensor range 20: share 5%, under 10%). The alpha's values differ 1e10x and, taken
    # as [1, 1, 8] channels, have range 0 each (share 0): the old diagnosis named it first. The
    # line names the filter in full, not as "Conv2D/ReadVariableOp".
    prefix = "StatefulPartitionedCall/model/block_1"
    filt = np.zeros((1, 1, 2, 8), np.float32)
    filt[0, 0, 0, :] = 0.5
    filt[0, 0, 1, :] = -0.5
    filt[0, 0, :, 7] = [10.0, -10.0]
    tensors = {
        f"{prefix}/conv/Conv2D/ReadVariableOp": filt,
        f"{prefix}/conv/BiasAdd/ReadVariableOp": np.linspace(-1, 1, 8, dtype=np.float32).reshape(1, 1, 8),
        f"{prefix}/prelu/alpha": np.array([[[1e-8, 0.25, 3.0, -7.0, 0.0, 100.0, 0.5, 2.0]]], np.float32),
    }
    f, b, a = tensors
    nodes = [
        {"name": "x", "op": "Placeholder"},
        {"name": f, "op": "Const"},
        {"name": b, "op": "Const"},
        {"name": a, "op": "Const"},
        {"name": "conv", "op": "Conv2D", "input": ["x", f]},
        {"name": "add", "op": "BiasAdd", "input": ["conv", b]},
        {"name": "prelu", "op": "Prelu", "input": ["add", a]},
    ]
    _artifact(tmp_path / "float32", tensors, uint8=False, nodes=nodes)
    _artifact(tmp_path / "uint8", tensors, uint8=True, nodes=nodes)
    out = tensor_errors(tmp_path / "float32", tmp_path / "uint8")
    rows = {r["name"]: r for r in out["tensors"]}
    assert rows[f]["median_channel_share"] == pytest.approx(1 / 20, rel=1e-6)
    assert rows[f]["channel_spread"] == pytest.approx(20.0, rel=1e-6)
    assert rows[f]["n_dead_channels"] == 0
    for name in (a, b):  # error rows kept, channel fields None
        assert rows[name]["n_channels"] is None and rows[name]["median_channel_share"] is None
        assert math.isfinite(rows[name]["sqnr_db"])
    assert out["diagnosis"] == (
        f"uint8 breaks {f} (median channel uses 5.0% of the 256 levels; channel ranges differ 20x)"
    )
