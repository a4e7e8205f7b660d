"""A layers model's graph form for Model Explorer (convert/viewing_graph.py), made in this process:
a model the converter cannot read is one ArtifactError naming its model.json, and no folder is
left. (Its node names, and the overlay on them, are checked end to end in test_diagnose.py.)"""

from __future__ import annotations

import json
import shutil

import pytest

from tests.conftest import ROOT

SEQ = ROOT / "tests" / "fixtures" / "js" / "seq_batchnorm"


def test_a_layer_class_the_converter_does_not_know_is_one_error_and_leaves_nothing(tmp_path):
    from quantlab.convert.viewing_graph import write_viewing_graph
    from quantlab.errors import ArtifactError

    layers = tmp_path / "layers"
    shutil.copytree(SEQ, layers)
    manifest = json.loads((layers / "model.json").read_text())
    manifest["modelTopology"]["config"]["layers"][0]["class_name"] = "NoSuchLayer"
    (layers / "model.json").write_text(json.dumps(manifest))
    dest = tmp_path / "view" / "float32-graph"
    with pytest.raises(ArtifactError) as e:
        write_viewing_graph(layers, dest)
    assert str(layers / "model.json") in str(e.value) and "could not make its graph form" in str(e.value)
    assert "NoSuchLayer" in str(e.value)
    assert not dest.exists()
    assert not (dest.parent.exists() and list(dest.parent.iterdir())), "a temp folder was left"


def test_the_graph_form_is_reused_while_newer_than_the_layers_model(tmp_path):
    from quantlab.convert.viewing_graph import write_viewing_graph

    layers = tmp_path / "layers"
    shutil.copytree(SEQ, layers)
    made = write_viewing_graph(layers, tmp_path / "view")
    graph = json.loads(made.read_text())
    assert graph["format"] == "graph-model"
    # the Keras layer names survive into the node names (what the overlays are keyed on)
    names = [n["name"] for n in graph["modelTopology"]["node"]]
    assert any("/dense_in/" in n for n in names), names
    stamp = made.stat().st_mtime_ns
    assert write_viewing_graph(layers, tmp_path / "view").stat().st_mtime_ns == stamp
