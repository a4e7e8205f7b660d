"""Per-output-channel range spread in the weight-error table, on hand-made arrays (no TF)."""

import json

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
    assert s["median_channel_share"] == pytest.approx(0.5 / 2.0)


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
        "uint8 breaks block_3_depthwise/w (median channel uses 3.0% of the 256 levels; "
        "channel ranges differ 180x)"
    )
    assert diagnosis("uint8", rows[1:]) is None
    assert diagnosis("float16", [dict(rows[0], dtype="float16")]) is None


def _artifact(folder, tensors, uint8):
    from quantlab.convert.quantize_math import quantize_affine

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
        json.dumps({"modelTopology": {"node": []}, "weightsManifest": manifest})
    )


def test_tensor_errors_rows_carry_the_spread(tmp_path):
    rng = np.random.default_rng(0)
    scales = np.array([10.0, 1.0, 0.1, 0.05], np.float32)
    tensors = {
        "g/dw/depthwise_weights": (rng.standard_normal((3, 3, 4, 1)) * scales[:, None]).astype(np.float32),
        "g/dw/bias": np.array([0.1, 0.2, 0.3, 0.4], np.float32),
    }
    _artifact(tmp_path / "float32", tensors, uint8=False)
    _artifact(tmp_path / "uint8", tensors, uint8=True)
    out = tensor_errors(tmp_path / "float32", tmp_path / "uint8")
    rows = {r["name"]: r for r in out["tensors"]}
    dw = rows["g/dw/depthwise_weights"]
    ranges = np.ptp(tensors["g/dw/depthwise_weights"].reshape(9, 4), axis=0)
    assert dw["channel_spread"] == pytest.approx(ranges.max() / ranges.min(), rel=1e-6)
    whole = np.ptp(tensors["g/dw/depthwise_weights"])
    assert dw["median_channel_share"] == pytest.approx(np.median(ranges) / whole, rel=1e-6)
    assert rows["g/dw/bias"]["channel_spread"] is None
    assert out["diagnosis"].startswith("uint8 breaks dw/depthwise_weights (median channel uses")
