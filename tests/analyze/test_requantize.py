"""Re-quantizing an existing tfjs artifact writes the very bytes the stock converter writes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from quantlab.convert.requantize import requantize


def _converter(*args: str) -> None:
    exe = Path(sys.executable).with_name("tensorflowjs_converter")
    proc = subprocess.run([str(exe), *args], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]


def _same_artifact(a: Path, b: Path) -> None:
    ja, jb = (json.loads((p / "model.json").read_text()) for p in (a, b))
    assert ja["weightsManifest"] == jb["weightsManifest"]
    assert ja["modelTopology"] == jb["modelTopology"]
    shards = sorted(p.name for p in a.glob("*.bin"))
    assert shards == sorted(p.name for p in b.glob("*.bin")) and shards
    for name in shards:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "float16"])
def test_graph_model_requantized_equals_converter_from_savedmodel(user_models, clf_graph, tmp_path, dtype):
    """The converter's float32 graph model (clf_graph) re-quantized by us == the converter's own
    --quantize_<dtype> output from the SavedModel."""
    sm = str(user_models["clf_savedmodel"])
    _converter(
        "--input_format", "tf_saved_model", "--output_format", "tfjs_graph_model", sm, str(tmp_path / "conv"),
        f"--quantize_{dtype}",
    )  # fmt: skip
    requantize(clf_graph, tmp_path / "ours", {dtype: True})
    _same_artifact(tmp_path / "ours", tmp_path / "conv")


def test_layers_model_requantized_equals_save_keras_model(user_models, tmp_path):
    from quantlab.convert.converter import save_tfjs
    from quantlab.convert.source import load_keras_file

    model = load_keras_file(user_models["clf.h5"])
    save_tfjs(model, tmp_path / "f32")
    dtype_map = {"uint8": ["hidden/*"], "float16": ["norm/*"]}
    save_tfjs(model, tmp_path / "conv", dtype_map)
    requantize(tmp_path / "f32", tmp_path / "ours", dtype_map)
    _same_artifact(tmp_path / "ours", tmp_path / "conv")
    # model.json too, byte for byte: same writer, same key order
    assert (tmp_path / "ours" / "model.json").read_bytes() == (tmp_path / "conv" / "model.json").read_bytes()
