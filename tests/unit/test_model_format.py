"""'layers or graph?' is one rule (tfjs.artifacts.model_format); tests/js/model_format.test.mjs
checks js/browser/runner.js against the same cases (tests/fixtures/model_formats.json)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from quantlab.sources import tfjs_model_format
from quantlab.tfjs.artifacts import Artifact, model_format

CASES = json.loads((Path(__file__).parents[1] / "fixtures" / "model_formats.json").read_text())["cases"]


@pytest.mark.parametrize("case", CASES, ids=lambda c: json.dumps(c["model_json"], sort_keys=True)[:60])
def test_one_rule_for_layers_or_graph(case, tmp_path):
    assert model_format(case["model_json"]) == case["format"]
    assert Artifact(tmp_path, case["model_json"], [], []).format == (case["format"] or "layers")
    manifest = {**case["model_json"], "weightsManifest": []}  # as sources.py reads a manifest file
    assert tfjs_model_format(manifest) == case["format"]
