import json
import shutil

import pytest

from quantlab.artifacts import read_artifact
from quantlab.errors import ArtifactError


@pytest.fixture
def model_copy(small_convnet_dir, tmp_path):
    dst = tmp_path / "uint8"
    shutil.copytree(small_convnet_dir / "uint8", dst)
    return dst


def test_sizes_follow_the_quantized_dtype(small_convnet_dir):
    f32 = read_artifact(small_convnet_dir / "float32")
    u8 = read_artifact(small_convnet_dir / "uint8")
    f16 = read_artifact(small_convnet_dir / "float16")
    assert f32.weight_bytes == 4 * u8.weight_bytes == 2 * f16.weight_bytes
    assert all(w.quantization["dtype"] == "uint8" for w in u8.weights)
    assert f32.gzip_ratio() > 1.0


def test_missing_model_json(tmp_path):
    with pytest.raises(ArtifactError, match=r"model\.json: missing; run `quantlab quantize"):
        read_artifact(tmp_path)


def test_corrupt_model_json(model_copy):
    (model_copy / "model.json").write_text('{"modelTopology": ')
    with pytest.raises(ArtifactError, match=r"model\.json: not valid JSON"):
        read_artifact(model_copy)


def test_not_a_layers_model(model_copy):
    (model_copy / "model.json").write_text('{"format": "graph-model"}')
    with pytest.raises(ArtifactError, match="not a tfjs layers model"):
        read_artifact(model_copy)


def test_missing_shard(model_copy):
    (model_copy / "group1-shard1of1.bin").unlink()
    with pytest.raises(ArtifactError, match=r"group1-shard1of1\.bin: weight shard missing"):
        read_artifact(model_copy)


def test_truncated_shard(model_copy):
    shard = model_copy / "group1-shard1of1.bin"
    shard.write_bytes(shard.read_bytes()[:-7])
    with pytest.raises(ArtifactError, match=r"group1-shard1of1\.bin: \d+ bytes but the manifest"):
        read_artifact(model_copy)


def test_shard_path_outside_the_folder(model_copy):
    mj = json.loads((model_copy / "model.json").read_text())
    mj["weightsManifest"][0]["paths"] = ["../../etc/passwd"]
    (model_copy / "model.json").write_text(json.dumps(mj))
    with pytest.raises(ArtifactError, match="points outside"):
        read_artifact(model_copy)
