"""DEMO|MODEL resolve once to a subject, and both kinds name their folders the same way
(MODELS/<name>/, OUT/<name>/) as workspace builds them; what only one kind takes is refused for the
other (exit 2)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from quantlab.analysis.subject_model import ModelSubject
from quantlab.cli.targets import resolve_subject
from quantlab.demos.subject import DemoSubject
from quantlab.errors import QuantlabError
from quantlab.input_spec import InputOptions

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "js" / "seq_batchnorm"


def test_a_demo_name_is_a_demo_subject(tmp_path):
    s = resolve_subject("mnist", tmp_path / "m", tmp_path / "o", limit=0)
    assert isinstance(s, DemoSubject) and s.kind == "demo" and s.limit == 0
    assert (s.root, s.results_dir) == (tmp_path / "m" / "mnist", tmp_path / "o" / "mnist")


def test_a_path_is_a_model_subject_named_after_it(tmp_path):
    model = tmp_path / "in" / "web_model"
    shutil.copytree(FIXTURE, model)
    s = resolve_subject(str(model), tmp_path / "m", tmp_path / "o", inputs=InputOptions(samples=8))
    assert isinstance(s, ModelSubject) and s.kind == "model" and s.source.format == "tfjs-layers"
    assert (s.root, s.results_dir) == (tmp_path / "m" / "web_model", tmp_path / "o" / "web_model")
    assert s.inputs.samples == 8 and s.given == model
    named = resolve_subject(str(model), tmp_path / "m", tmp_path / "o", name="mine")
    assert named.root == tmp_path / "m" / "mine"


def test_options_of_the_other_kind_are_refused(tmp_path):
    with pytest.raises(QuantlabError, match="--name: only for your MODEL") as e:
        resolve_subject("housing", tmp_path, tmp_path, name="x")
    assert e.value.exit_code == 2
    with pytest.raises(QuantlabError, match="--inputs: only for your MODEL"):
        resolve_subject("housing", tmp_path, tmp_path, inputs=InputOptions(path=tmp_path / "x.npz"))


def test_a_model_named_like_a_demo_needs_another_name(tmp_path):
    model = tmp_path / "in" / "mnist"
    shutil.copytree(FIXTURE, model)
    with pytest.raises(QuantlabError, match="is a demo's"):
        resolve_subject(str(model), tmp_path / "m", tmp_path / "o", takes_name=False)
    with pytest.raises(QuantlabError, match="reserved"):
        resolve_subject(str(model), tmp_path / "m", tmp_path / "o")
