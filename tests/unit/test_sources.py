"""Format detection from content: what each kind of MODEL path is, and one line for what it is not."""

from __future__ import annotations

import json
import zipfile

import pytest

from quantlab.errors import ArtifactError, QuantlabError
from quantlab.sources import detect, tfjs_model_format


def _model_json(folder, topology, fmt=None, quantized=False):
    folder.mkdir(parents=True, exist_ok=True)
    weight = {"name": "w", "shape": [2], "dtype": "float32"}
    if quantized:
        weight["quantization"] = {"dtype": "uint8", "min": 0.0, "scale": 1.0}
    doc = {"modelTopology": topology, "weightsManifest": [{"paths": ["g.bin"], "weights": [weight]}]}
    if fmt:
        doc["format"] = fmt
    (folder / "model.json").write_text(json.dumps(doc))
    return folder


def test_layers_graph_and_quantized_tfjs_models(tmp_path):
    layers = _model_json(tmp_path / "l", {"class_name": "Sequential", "config": {"layers": []}})
    graph = _model_json(tmp_path / "g", {"node": [], "library": {}}, fmt="graph-model")
    keras_wrapped = _model_json(tmp_path / "k", {"model_config": {"class_name": "Model"}}, quantized=True)
    assert detect(layers).format == "tfjs-layers"
    assert detect(layers / "model.json").path == layers  # the file names its folder
    assert detect(graph).format == "tfjs-graph"
    src = detect(keras_wrapped)
    assert src.format == "tfjs-layers" and src.detail == "already quantized: uint8"
    assert tfjs_model_format({"modelTopology": {"node": []}, "weightsManifest": []}) == "graph"
    assert tfjs_model_format({"modelTopology": {}, "weightsManifest": {}}) is None


def test_saved_models_and_keras_files(tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "saved_model.pb").write_bytes(b"\x08\x01")
    keras_sm = tmp_path / "ksm"
    keras_sm.mkdir()
    (keras_sm / "saved_model.pb").write_bytes(b"")
    (keras_sm / "keras_metadata.pb").write_bytes(b"")
    assert detect(plain).detail == "plain SavedModel"
    assert detect(keras_sm).detail == "Keras SavedModel"
    v3 = tmp_path / "m.weird"  # content, not the name, decides
    with zipfile.ZipFile(v3, "w") as z:
        z.writestr("config.json", "{}")
        z.writestr("model.weights.h5", b"")
    assert detect(v3).format == "keras-v3"


@pytest.mark.parametrize(
    "content, found",
    [
        (b"<!DOCTYPE html><html><body>404</body></html>", "an HTML page"),
        (bytes(range(256)) * 4, "binary data"),
        (b"", "an empty file"),
        (b"PK\x03\x04not really a zip", "a zip archive"),
    ],
)
def test_unrecognised_files_say_what_was_found(tmp_path, content, found):
    path = tmp_path / "model.json"
    path.write_bytes(content)
    with pytest.raises(ArtifactError) as e:
        detect(path)
    assert f"found {found}; MODEL is" in str(e.value)
    assert e.value.exit_code == 4 and "\n" not in str(e.value)


def test_html_saved_as_model_json_in_a_folder(tmp_path):
    (tmp_path / "model.json").write_text("<html><head></head></html>")
    with pytest.raises(ArtifactError, match="found an HTML page"):
        detect(tmp_path)


def test_json_that_is_not_a_model_and_missing_paths(tmp_path):
    (tmp_path / "model.json").write_text('{"hello": 1}')
    with pytest.raises(ArtifactError, match="without a tfjs modelTopology"):
        detect(tmp_path)
    with pytest.raises(ArtifactError, match="no such file"):
        detect(tmp_path / "absent.h5")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ArtifactError, match="without model.json or saved_model.pb"):
        detect(empty)


def test_format_override_is_validated(tmp_path):
    folder = _model_json(tmp_path / "l", {"class_name": "Sequential", "config": {}})
    with pytest.raises(QuantlabError) as e:
        detect(folder, "onnx")
    assert e.value.exit_code == 2
    assert detect(folder, "tfjs-layers").format == "tfjs-layers"
    # insisted on, never relabelled: the content decides
    with pytest.raises(ArtifactError, match="--format tfjs-graph, but its content is a tfjs-layers model"):
        detect(folder, "tfjs-graph")


def test_format_chooses_the_savedmodel_beside_a_model_json(tmp_path):
    folder = _model_json(tmp_path / "both", {"class_name": "Sequential", "config": {}})
    (folder / "saved_model.pb").write_bytes(b"\x08\x01")
    assert detect(folder).format == "tfjs-layers"  # model.json first
    chosen = detect(folder, "saved-model")
    assert (chosen.format, chosen.path, chosen.detail) == ("saved-model", folder, "plain SavedModel")


def test_weights_only_h5_is_refused(tmp_path):
    h5py = pytest.importorskip("h5py")
    path = tmp_path / "weights.h5"
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [b"dense"]
    with pytest.raises(ArtifactError, match="weights-only"):
        detect(path)
