import json
import shutil

import pytest

from quantlab.errors import ArtifactError, QuantlabError
from quantlab.tfjs.artifacts import read_artifact


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


def _edit_manifest(folder, edit):
    mj = json.loads((folder / "model.json").read_text())
    edit(mj["weightsManifest"])
    (folder / "model.json").write_text(json.dumps(mj))


def _first(field, value):
    def edit(manifest):
        manifest[0]["weights"][0][field] = value

    return edit


def _quant(field, value):
    def edit(manifest):
        manifest[0]["weights"][0]["quantization"][field] = value

    return edit


def _group(field, value):
    def edit(manifest):
        manifest[0][field] = value

    return edit


MALFORMED = {
    "quantization not an object": (
        _first("quantization", "uint8"),
        r"weights\[0\] \(bn/gamma\)\.quantization",
    ),
    "quantization dtype unknown": (_quant("dtype", "int4"), r"quantization\.dtype: unknown dtype 'int4'"),
    "quantization dtype missing": (_quant("dtype", None), r"quantization\.dtype: unknown dtype None"),
    "min a string": (_quant("min", "0"), r"quantization\.min: expected a finite number"),
    "min NaN": (_quant("min", float("nan")), r"quantization\.min: expected a finite number"),
    "min a bool": (_quant("min", True), r"quantization\.min: expected a finite number"),
    "scale infinite": (_quant("scale", float("inf")), r"quantization\.scale: expected a finite number"),
    "scale missing": (lambda m: m[0]["weights"][0]["quantization"].pop("scale"), r"quantization\.scale"),
    "shape of strings": (_first("shape", ["3", "3"]), r"\.shape: expected a list of non-negative integers"),
    "shape of floats": (_first("shape", [3.0, 3.0, 1, 4]), r"\.shape: expected a list"),
    "shape of bools": (_first("shape", [True]), r"\.shape: expected a list"),
    "shape negative": (_first("shape", [-1, 4]), r"\.shape: expected a list"),
    "shape past int64": (_first("shape", [2**64]), r"\.shape: expected a list"),
    "shape product past int64": (_first("shape", [2**40, 2**40]), r"\.shape: .* too large"),
    "shape a string": (_first("shape", "3,3"), r"\.shape: expected a list"),
    "name a number": (_first("name", 5), r"weights\[0\]\.name: expected a non-empty string"),
    "name empty": (_first("name", ""), r"weights\[0\]\.name: expected a non-empty string"),
    "dtype unknown": (_first("dtype", "float64"), r"\.dtype: unknown dtype 'float64'"),
    "dtype missing": (lambda m: m[0]["weights"][0].pop("dtype"), r"\.dtype: unknown dtype None"),
    "entry not an object": (
        lambda m: m[0]["weights"].__setitem__(0, "conv/kernel"),
        r"weights\[0\]: expected",
    ),
    "weights not a list": (_group("weights", {"a": 1}), r"weightsManifest\[0\]\.weights: expected a list"),
    "group not an object": (lambda m: m.__setitem__(0, ["x"]), r"weightsManifest\[0\]: expected an object"),
    "paths a string": (_group("paths", "group1-shard1of1.bin"), r"\.paths: expected a list of shard"),
    "path a number": (_group("paths", [1]), r"paths\[0\]: expected a file name"),
    "path in a subfolder": (_group("paths", ["sub/group1-shard1of1.bin"]), r"is not a plain file name"),
    "path empty": (_group("paths", [""]), r"paths\[0\]: '' is not a plain file name"),
    "path with a query": (_group("paths", ["group1-shard1of1.bin?x=1"]), r"is not a plain file name"),
    "path absolute": (_group("paths", ["/etc/passwd"]), r"points outside"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_manifest_entry_names_file_and_field(model_copy, case):
    edit, pattern = MALFORMED[case]
    _edit_manifest(model_copy, edit)
    with pytest.raises(ArtifactError, match=pattern) as info:
        read_artifact(model_copy)
    assert str(info.value).startswith(f"{model_copy / 'model.json'}: weightsManifest[0]")


def test_float16_needs_no_min_or_scale(small_convnet_dir):
    art = read_artifact(small_convnet_dir / "float16")
    assert {w.quantization["dtype"] for w in art.weights} == {"float16"}


def test_deeply_nested_json_is_an_artifact_error(model_copy):
    (model_copy / "model.json").write_text("[" * 200_000 + "]" * 200_000)
    with pytest.raises(ArtifactError, match=r"model\.json: JSON nested too deeply"):
        read_artifact(model_copy)


def test_model_json_not_utf8(model_copy):
    (model_copy / "model.json").write_bytes(b'{"modelTopology": "\xff\xfe"}')
    with pytest.raises(ArtifactError, match=r"model\.json: not UTF-8 text \(byte 19\)"):
        read_artifact(model_copy)


def test_broken_train_record_is_named(tmp_path):
    from quantlab.demos.train import read_record

    folder = tmp_path / "housing" / "keras"
    with pytest.raises(
        ArtifactError, match=r"train\.json: missing; re-create it with `quantlab train housing`"
    ):
        read_record(folder)
    folder.mkdir(parents=True)
    for text, pattern in (
        ("{", r"train\.json: not readable JSON \(JSONDecodeError\)"),
        ("[1, 2]", r"train\.json: expected a JSON object, got list"),
        ("[" * 200_000, r"train\.json: not readable JSON \(RecursionError\)"),
    ):
        (folder / "train.json").write_text(text)
        with pytest.raises(ArtifactError, match=pattern):
            read_record(folder)
    (folder / "train.json").write_bytes(b"\xff{}")
    with pytest.raises(ArtifactError, match=r"not readable JSON \(UnicodeDecodeError\)"):
        read_record(folder)


def test_results_json_of_the_wrong_type_is_named(tmp_path):
    from quantlab.results import read_results

    path = tmp_path / "results.json"
    with pytest.raises(ArtifactError, match="results.json: not readable JSON"):
        read_results(path)
    path.write_text('{"demo": "housing"}')
    assert read_results(path) == {"demo": "housing"}
    for text, pattern in (('"a string"', "expected a JSON object, got str"), ("{", "not readable JSON")):
        path.write_text(text)
        with pytest.raises(ArtifactError, match=pattern):
            read_results(path)
    path.write_text('{"schema": 99, "demo": "housing"}')  # a newer quantlab wrote it
    with pytest.raises(QuantlabError, match="schema 99 is newer"):
        read_results(path)
