"""A results.json with wrong types (hand-edited, old, truncated by a tool): `quantlab report`
renders what it can and names what it left out, never a traceback."""

import json

import pytest

from quantlab.report import render_reports
from tests.conftest import invoke_cli
from tests.report.test_render import _results


def _write(out, folder, r):
    (out / folder).mkdir(parents=True, exist_ok=True)
    (out / folder / "results.json").write_text(json.dumps(r))


def _with(path, value, **over):
    """_results() with the dotted `path` set to `value`."""
    r = _results(**over)
    *parents, last = path.split(".")
    node = r
    for p in parents:
        node = node[int(p)] if isinstance(node, list) else node[p]
    node[int(last) if isinstance(node, list) else last] = value
    return r


CASES = [
    # (dotted path, wrong value, what the page must name)
    ("variants", "x", "variants (not a list)"),
    ("variants", {"float32": 1}, "variants (not a list)"),
    ("variants.0.metrics.accuracy", "high", "variants[float32].metrics.accuracy (not a number)"),
    ("variants.0.metrics", "x", "variants[float32].metrics (not an object)"),
    ("variants.0.metrics", {}, "variants[float32].metrics (missing: no figures for this variant)"),
    ("variants.0.weight_bytes", "big", "variants[float32].weight_bytes (not a number)"),
    ("variants.0.gzip_ratio", [1], "variants[float32].gzip_ratio (not a number)"),
    ("variants.0.runtime", "fast", "variants[float32].runtime (not an object)"),
    ("variants.0.runtime.load_ms", "slow", "variants[float32].runtime.load_ms (not a number)"),
    ("variants.0.name", 5, "variants[0].name (not text)"),
    ("variants.0", "float32", "variants[0] (not an object)"),
    ("seed", [0.99], "seed (not an object)"),
    ("seed.uint8", "0.99", "seed.uint8 (not a number)"),
    ("dataset", "MNIST", "dataset (not an object)"),
    ("environment", [], "environment (not an object)"),
    ("config", "quantlab run", "config (not an object)"),
    ("training", 7, "training (not an object)"),
    ("title", {"x": 1}, "title (not text)"),
    ("primary_metric", 3, "primary_metric (not text)"),
    ("tune", "x", "tune (not an object)"),
    ("tune", {"metric": "accuracy", "points": "x"}, "tune (unreadable)"),
    ("tune", {"metric": "accuracy", "max_drop": "a lot", "float32_bytes": 0}, "tune (unreadable)"),
    ("parity", {"pairs": 5}, "parity.pairs (not a list)"),  # records/sections.py: the rest renders
    ("sibling", ["mnist"], "sibling (not text)"),
    ("sibling", {"demo": "mnist"}, "sibling (not text)"),
    ("model_format", 3, "model_format (not text)"),
    (
        "weight_error",
        {"uint8": {"n_tensors": 1, "tensors": [{"name": "k", "min": "x"}]}},
        "weight_error (unreadable)",
    ),
]


@pytest.mark.parametrize(("path", "value", "named"), CASES, ids=[f"{c[0]}={c[1]!r}" for c in CASES])
def test_wrong_types_render_the_rest_and_name_what_is_left_out(tmp_path, path, value, named):
    _write(tmp_path, "mnist", _results())  # a good one beside it still renders in full
    _write(tmp_path, "bad", _with(path, value, demo="bad"))
    index = render_reports(tmp_path).read_text()
    page = (tmp_path / "bad" / "index.html").read_text()
    assert named in page, page.split("<h1>", 1)[1][:600]
    assert named in index
    good = (tmp_path / "mnist" / "index.html").read_text()
    assert "0.9900" in good and "0.9800" in good and "lacks" not in good
    # what was fine in the bad file is still shown: the other variant, or every variant
    if path != "variants":
        assert "0.9800" in page
    if not path.startswith(("variants", "primary_metric")):
        assert "0.9900" in page


def test_cli_report_on_wrong_types_is_not_a_traceback(tmp_path):
    _write(tmp_path, "mnist", _results())
    _write(tmp_path, "a", _with("variants", "x", demo="a"))
    _write(tmp_path, "b", _with("variants.0.metrics", {"accuracy": "high"}, demo="b", seed=[1], tune=[]))
    proc = invoke_cli("report", "--out", str(tmp_path), env={"COLUMNS": "300"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stdout + proc.stderr
    index = (tmp_path / "index.html").read_text()
    assert "variants (not a list)" in index and "variants[float32].metrics.accuracy (not a number)" in index
    assert "seed (not an object)" in index and "tune (not an object)" in index


def test_a_sibling_pair_with_a_broken_dataset_renders_without_the_side_by_side(tmp_path):
    _write(tmp_path, "mnist", _results(sibling="bad"))
    _write(tmp_path, "bad", _with("dataset", None, demo="bad", sibling="mnist"))
    broken = _results(demo="worse", sibling="mnist")
    broken["variants"][0]["name"] = ["not", "hashable"]
    _write(tmp_path, "worse", broken)
    render_reports(tmp_path)
    assert "0.9900" in (tmp_path / "mnist" / "index.html").read_text()
    assert "0.9800" in (tmp_path / "bad" / "index.html").read_text()
