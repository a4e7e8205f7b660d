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
    from quantlab.results import read_run

    data, problems, _ = read_run(path)
    assert problems == []
    for key, cls in SECTIONS.items():
        if key in data:
            section, problems = cls.from_json(data[key])
            assert problems == [] and section.to_json() == data[key]


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: p.parent.name)
def test_each_committed_section_is_stored_once(path):
    from quantlab.records.sections import SECTIONS

    assert not set(read_json(path)) & set(SECTIONS), "a section inside results.json: its own file holds it"


def _diagnose_record(variant: str) -> dict:
    node = {"node": "conv", "depth": 1, "outputs": ["out"], "compared": True, "range": {"flags": []},
            "accumulated": {"sqnr_db": 21.5, "identical": False}, "local": {"sqnr_db": 30.0}}  # fmt: skip
    skipped = {**node, "node": "const", "compared": False}
    return {"variant": variant, "runtime": {"runtime": "node-wasm"}, "n_examples": 8, "created": "t",
            "summary": {"worst": "conv"}, "nodes": [node, skipped]}  # fmt: skip


def test_a_section_is_stored_beside_the_results_and_joined_when_read(tmp_path):
    """Each section in its own file only: writing one leaves results.json as it was (even a field a
    person edited by hand, the report's to name), and reading the run joins them, a diagnosed
    variant's record summed up as the report shows it; a broken section file is named, not fatal."""
    from quantlab.results import read_run, results_path, write_results, write_section

    path = results_path(tmp_path, "m")
    path.parent.mkdir()
    path.write_text(json.dumps({"demo": "m", "title": ["edited"], "variants": []}))
    before = path.read_bytes()
    write_section(tmp_path, "m", "parity", {"passed": True, "pairs": []})
    write_section(tmp_path, "m", "tune_equalized", {"metric": "top1", "points": []})
    (path.parent / "diagnose").mkdir()
    (path.parent / "diagnose" / "uint8.json").write_text(json.dumps(_diagnose_record("uint8")))
    (path.parent / "delivery.json").write_text("[1, 2]")
    assert path.read_bytes() == before
    assert (path.parent / "parity.json").is_file() and (path.parent / "tune-equalized.json").is_file()
    back, problems, earlier = read_run(path)
    assert back["parity"] == {"passed": True, "pairs": []} and back["title"] == ["edited"]
    assert back["tune_equalized"] == {"metric": "top1", "points": []} and "delivery" not in back
    assert problems == ["delivery.json (not a JSON object)"] and earlier == {}  # the run has no time
    entry = back["diagnose"]["variants"]["uint8"]
    assert [p["node"] for p in entry["curve"]] == ["conv"]  # the node not compared is left out
    assert entry["curve"][0]["sqnr_db"] == 21.5 and entry["curve"][0]["local_sqnr_db"] == 30.0
    # a producer's record holding a section (an older results.json re-written) keeps it out
    write_results(tmp_path, "m", {**back, "title": "t", "dataset": {}, "environment": {}, "config": {},
                                  "seed": {}})  # fmt: skip
    assert "parity" not in read_json(path) and "diagnose" not in read_json(path)


def test_a_section_of_the_wrong_type_is_refused_before_it_is_written(tmp_path):
    from quantlab.errors import QuantlabError
    from quantlab.results import write_section

    with pytest.raises(QuantlabError, match="parity record for m"):
        write_section(tmp_path, "m", "parity", {"passed": "yes"})
    assert not (tmp_path / "m" / "parity.json").exists()


def test_a_section_measured_before_the_results_is_named_with_its_time(tmp_path):
    """`evaluate` run again after parity and a diagnosis: those are from an earlier run (their
    variants may have changed since); a delivery measured after the results is current; a record
    without a time (an older tune.json) cannot be judged and is not named."""
    from quantlab.results import read_run, results_path, write_section

    path = results_path(tmp_path, "m")
    path.parent.mkdir()
    path.write_text(json.dumps({"demo": "m", "variants": [], "created": "2026-12-07T10:00:00+0000"}))
    write_section(tmp_path, "m", "parity", {"passed": True, "created": "2026-12-07T09:00:00+0000"})
    write_section(tmp_path, "m", "delivery", {"runs": 1, "created": "2026-12-07T11:00:00+0000"})
    write_section(tmp_path, "m", "tune", {"metric": "accuracy"})
    (path.parent / "diagnose").mkdir()
    for variant, when in (("uint8", "2026-12-07T09:30:00+0000"), ("uint16", "2026-12-07T10:30:00+0000")):
        (path.parent / "diagnose" / f"{variant}.json").write_text(
            json.dumps({**_diagnose_record(variant), "created": when})
        )
    _, problems, earlier = read_run(path)
    assert problems == []
    assert earlier == {"parity": "2026-12-07T09:00:00+0000", "diagnose uint8": "2026-12-07T09:30:00+0000"}
