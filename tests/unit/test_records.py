"""Typed records round-trip: every committed results.json (four demos, both MobileNetV2 forms)
decodes with no problem and encodes back to the same object; a wrong type is dropped and named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from quantlab.infra.fsutil import read_json
from quantlab.records.run import RunRecord
from quantlab.records.variant import VariantRow

REPORTS = Path(__file__).resolve().parents[2] / "reports"
COMMITTED = sorted(REPORTS.glob("*/results.json"))


def test_the_committed_reports_are_there():
    assert {p.parent.name for p in COMMITTED} >= {"housing", "mnist", "fashion-mnist", "mobilenetv2"}


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: p.parent.name)
def test_a_committed_results_file_round_trips(path):
    data = read_json(path)
    record, problems = RunRecord.from_json(data, path.parent.name)
    assert problems == []
    assert all(isinstance(v, VariantRow) for v in record.variants) and record.variants
    # the same object back (key order aside), through JSON as results.json is written
    assert json.loads(json.dumps(record.to_json(), sort_keys=True)) == json.loads(
        json.dumps(data, sort_keys=True)
    )


def test_fields_are_typed_and_the_rest_is_kept():
    record, problems = RunRecord.from_json(
        {"demo": "m", "title": 3, "source": {"format": "tfjs-graph"}, "variants": [{"name": "float32"}]}, "x"
    )
    assert not record.title and record.extra == {"source": {"format": "tfjs-graph"}}
    assert "title (not text)" in problems
    assert "variants[float32].metrics (missing: no figures for this variant)" in problems
    assert {"dataset", "environment", "config", "seed"} <= set(problems)
    assert record.to_json() == {
        "demo": "m",
        "variants": [{"name": "float32", "metrics": {}}],
        "source": {"format": "tfjs-graph"},
    }


def test_a_nameless_file_takes_its_folder_name():
    record, problems = RunRecord.from_json({"demo": ["x"], "variants": []}, "folder")
    assert record.demo == "folder" and "demo (not text)" in problems


def test_optional_sections_are_declared_with_the_fields():
    sections = RunRecord.optional_sections()
    assert {"parity", "tune", "delivery", "weight_error", "seed"} <= set(sections)
    assert "variants" not in sections and "demo" not in sections


def test_results_are_checked_by_the_same_class_when_written(tmp_path):
    import math

    from quantlab.errors import QuantlabError
    from quantlab.results import read_results, write_results

    good = {"demo": "m", "variants": [{"name": "float32", "metrics": {"cosine_mean": math.nan}}]}
    back = read_results(write_results(tmp_path, "m", good))  # a NaN figure is a measurement
    assert math.isnan(back["variants"][0]["metrics"]["cosine_mean"])
    with pytest.raises(QuantlabError, match=r"title \(not text\)"):
        write_results(tmp_path, "m", {**good, "title": ["x"]})
    with pytest.raises(QuantlabError, match=r"variants\[float32\].runtime \(not an object\)"):
        write_results(tmp_path, "m", {**good, "variants": [{"name": "float32", "runtime": 3}]})


def test_sections_are_typed_by_their_own_class():
    from quantlab.records.sections import DeliverySection, ParitySection, TuneSection

    record, problems = RunRecord.from_json(
        {"demo": "m", "variants": [], "parity": {"passed": "yes", "pairs": []}, "tune": {"points": {}}}, "m"
    )
    assert "parity.passed (not bool)" in problems and "tune.points (not a list)" in problems
    assert record.parity == {"pairs": []} and record.tune == {}
    for cls in (ParitySection, TuneSection, DeliverySection):
        section, bad = cls.from_json({"created": "now", "anything": [1]})
        assert bad == [] and section.to_json()["anything"] == [1]


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: p.parent.name)
def test_committed_sections_decode_without_a_problem(path):
    from quantlab.records.sections import SECTIONS

    data = read_json(path)
    for key, cls in SECTIONS.items():
        if key in data:
            section, problems = cls.from_json(data[key])
            assert problems == [] and section.to_json() == data[key]


def test_a_section_is_attached_even_beside_a_hand_edited_field(tmp_path):
    """A wrong type a person put in results.json is the report's to name; parity or tune writing its
    section after a long run does not fail on it."""
    from quantlab.results import attach_section, read_results, results_path

    results_path(tmp_path, "m").parent.mkdir()
    results_path(tmp_path, "m").write_text(json.dumps({"demo": "m", "title": ["edited"], "variants": []}))
    attach_section(tmp_path, "m", "parity", {"passed": True, "pairs": []})
    back = read_results(results_path(tmp_path, "m"))
    assert back["parity"] == {"passed": True, "pairs": []} and back["title"] == ["edited"]
