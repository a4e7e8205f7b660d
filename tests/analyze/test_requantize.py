"""Re-quantizing an existing tfjs artifact writes the very bytes the stock converter writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from quantlab.convert.requantize import requantize
from tests.conftest import stock_converter


def _same_artifact(a: Path, b: Path) -> None:
    ja, jb = (json.loads((p / "model.json").read_text()) for p in (a, b))
    assert ja["weightsManifest"] == jb["weightsManifest"]
    assert ja["modelTopology"] == jb["modelTopology"]
    shards = sorted(p.name for p in a.glob("*.bin"))
    assert shards == sorted(p.name for p in b.glob("*.bin")) and shards
    for name in shards:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


@pytest.fixture(scope="module")
def converted(user_models, tmp_path_factory) -> Path:
    """The converter's own --quantize_<dtype> outputs from the SavedModel, one folder per dtype."""
    root = tmp_path_factory.mktemp("converted")
    sm = str(user_models["clf_savedmodel"])
    args = ["--input_format", "tf_saved_model", "--output_format", "tfjs_graph_model", sm]
    stock_converter(*([*args, str(root / d), f"--quantize_{d}"] for d in DTYPES))
    return root


DTYPES = ("uint8", "uint16", "float16")


@pytest.mark.parametrize("dtype", DTYPES)
def test_graph_model_requantized_equals_converter_from_savedmodel(converted, clf_graph, tmp_path, dtype):
    """The converter's float32 graph model (clf_graph) re-quantized by us == the converter's own
    --quantize_<dtype> output from the SavedModel."""
    requantize(clf_graph, tmp_path / "ours", {dtype: True})
    _same_artifact(tmp_path / "ours", converted / dtype)


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
