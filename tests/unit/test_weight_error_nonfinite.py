"""The weight-error table on a hand-written artifact pair (model.json + one shard each): a tensor
that float16 turned to Inf, or that was NaN already, is named first, never shown as perfect."""

import json
import math

import numpy as np

from quantlab.analysis.weight_error import tensor_errors
from quantlab.infra.fsutil import read_json, write_json_atomic

TOPOLOGY = {
    "model_config": {
        "config": {
            "layers": [
                {"class_name": "Dense", "config": {"name": "d"}},
                {"class_name": "BatchNormalization", "config": {"name": "bn", "epsilon": 0.001}},
            ]
        }
    }
}


def _artifact(folder, tensors: dict[str, np.ndarray], float16: bool):
    folder.mkdir()
    weights, blobs = [], []
    for name, values in tensors.items():
        entry = {"name": name, "shape": list(values.shape), "dtype": "float32"}
        if float16:
            entry["quantization"] = {"dtype": "float16", "original_dtype": "float32"}
            with np.errstate(over="ignore"):
                blobs.append(values.astype("<f2").tobytes())
        else:
            blobs.append(values.astype("<f4").tobytes())
        weights.append(entry)
    (folder / "group1-shard1of1.bin").write_bytes(b"".join(blobs))
    manifest = [{"paths": ["group1-shard1of1.bin"], "weights": weights}]
    (folder / "model.json").write_text(json.dumps({"modelTopology": TOPOLOGY, "weightsManifest": manifest}))


def test_float16_overflow_and_nan_tensors_come_first_and_never_perfect(tmp_path):
    tensors = {
        "d/kernel": np.array([0.5, -0.25, 1.0, 2.0], np.float32),  # exact in float16: SQNR inf
        "d/bias": np.array([0.1, 0.2], np.float32),  # rounded: finite SQNR
        "d/big": np.array([1.0, 70000.0], np.float32),  # 70000 > 65504: Inf in float16
        "bn/gamma": np.array([1.0, np.nan], np.float32),  # NaN in float32 already
        "bn/moving_variance": np.array([1.0, 4.0], np.float32),
    }
    _artifact(tmp_path / "float32", tensors, float16=False)
    _artifact(tmp_path / "float16", tensors, float16=True)
    out = tensor_errors(tmp_path / "float32", tmp_path / "float16")
    rows = {r["name"]: r for r in out["tensors"]}
    # NaN/Inf tensors first (most non-finite values first: bn/gamma 1 + 1, d/big 1 + 0)
    assert [r["name"] for r in out["tensors"]][:2] == ["bn/gamma", "d/big"]
    assert (rows["d/big"]["nonfinite"], rows["d/big"]["nonfinite_reference"]) == (1, 0)
    assert (rows["bn/gamma"]["nonfinite"], rows["bn/gamma"]["nonfinite_reference"]) == (1, 1)
    for name in ("d/big", "bn/gamma"):
        assert math.isnan(rows[name]["sqnr_db"]) and rows[name]["sqnr_db"] != math.inf
    # then by SQNR, worst first: d/bias (finite), then the exact ones (inf)
    assert [r["name"] for r in out["tensors"]][2] == "d/bias"
    assert rows["d/kernel"]["sqnr_db"] == math.inf and rows["d/kernel"]["nonfinite"] == 0
    assert math.isfinite(rows["d/bias"]["sqnr_db"]) and rows["d/bias"]["sqnr_db"] > 60
    # BatchNorm multiplier gamma / sqrt(var + eps) holds the NaN: named, not perfect
    (bn,) = out["batchnorm"]
    assert bn["layer"] == "bn" and bn["multiplier_nonfinite"] == 1 and math.isnan(bn["multiplier_sqnr_db"])
    # histograms skip the NaN/Inf values instead of failing on them
    hist = {h["name"]: h for h in out["histograms"]}
    assert sum(hist["bn/gamma"]["counts"]) == 1 and sum(hist["d/big"]["counts"]) == 2
    # and the whole table survives strict JSON both ways
    write_json_atomic(tmp_path / "w.json", out)
    assert "NaN" not in (tmp_path / "w.json").read_text()
    back = read_json(tmp_path / "w.json")
    assert back["tensors"][0]["name"] == "bn/gamma" and math.isnan(back["tensors"][0]["sqnr_db"])
    assert {r["name"]: r["sqnr_db"] for r in back["tensors"]}["d/kernel"] == math.inf
