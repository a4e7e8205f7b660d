import json
import os

import pytest

from quantlab.errors import QuantlabError
from quantlab.report import render_reports


def _results(demo="mnist", **over):
    r = {
        "schema": 1,
        "demo": demo,
        "title": "MNIST: convnet",
        "task": "classification",
        "primary_metric": "accuracy",
        "seed": {"float32": 0.9952, "uint8": 0.9952},
        "note": "a note",
        "dataset": {"source": "MNIST", "n_train": 10, "n_test": 5},
        "variants": [
            {
                "name": "float32",
                "weight_bytes": 4000,
                "model_json_bytes": 900,
                "gzip_ratio": 1.08,
                "metrics": {"accuracy": 0.99},
                "runtime": {"backend": "wasm", "load_ms": 5.0, "predict_ms_per_example": 0.5},
            },
            {
                "name": "uint8",
                "weight_bytes": 1000,
                "model_json_bytes": 950,
                "gzip_ratio": 1.04,
                "metrics": {"accuracy": 0.98},
                "runtime": {"backend": "wasm", "load_ms": 4.0, "predict_ms_per_example": 0.5},
            },
        ],
        "environment": {"python": "3.11"},
        "config": {"command": "quantlab run mnist"},
        "training": {"profile": "full"},
        "created": "2026-11-27",
    }
    r.update(over)
    return r


def _write(out, r):
    (out / r["demo"]).mkdir(parents=True, exist_ok=True)
    (out / r["demo"] / "results.json").write_text(json.dumps(r))


def test_renders_index_and_demo_pages(tmp_path):
    _write(tmp_path, _results())
    index = render_reports(tmp_path).read_text()
    assert "0.9900" in index and "0.9952" in index and "mnist/index.html" in index
    page = (tmp_path / "mnist" / "index.html").read_text()
    assert (
        "<svg" in page
        and "quantlab run mnist" in page
        and "http" not in page.split("<body>")[1].replace("http://www.w3.org/2000/svg", "")
    )


def test_untrusted_names_are_escaped(tmp_path):
    evil = _results(note="<script>alert(1)</script>")
    evil["variants"][0]["name"] = "<img src=x onerror=alert(1)>"
    _write(tmp_path, evil)
    render_reports(tmp_path)
    page = (tmp_path / "mnist" / "index.html").read_text()
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;" in page


def test_old_or_hand_edited_results_render_what_is_there(tmp_path):
    partial = {"demo": "housing", "variants": [{"name": "float32", "metrics": {"mae": 0.3}}]}
    _write(tmp_path, partial)
    render_reports(tmp_path)
    page = (tmp_path / "housing" / "index.html").read_text()
    assert "lacks: dataset, environment, config, seed" in page and "0.3000" in page


def test_empty_results_folder_says_what_to_run(tmp_path):
    with pytest.raises(QuantlabError, match="no \\*/results.json to render; run `quantlab run`"):
        render_reports(tmp_path)


def test_report_opens_in_chromium_without_errors_or_outside_requests(tmp_path, small_convnet_dir):
    """Every section rendered (parity, weight errors with histograms), then loaded from disk."""
    from quantlab.analysis.weight_error import weights_section
    from quantlab.infra.chromium import browser_unavailable_reason
    from quantlab.report.browser_check import check_report

    if browser_unavailable_reason() and os.environ.get("CI") != "true":
        pytest.skip(browser_unavailable_reason())
    r = _results(note="<script>alert(1)</script>")
    r["weight_error"] = weights_section(small_convnet_dir, ["float32", "float16", "uint16", "uint8"])
    r["parity"] = {
        "atol": 0.005, "rtol": 0.005, "n_examples": 3, "unavailable": {"node-tensorflow": "not built"},
        "pairs": [{"variant": "uint8", "kind": "runtime", "actual": "node-wasm uint8",
                   "reference": "keras uint8",
                   "stats": {"max_abs": 1e-7, "mean_abs": 1e-8, "rel_l2": 1e-7, "sqnr_db": 140.0},
                   "passed": True, "first_bad_layer": None}],
    }  # fmt: skip
    _write(tmp_path / "reports", r)
    render_reports(tmp_path / "reports")
    page = (tmp_path / "reports" / "mnist" / "index.html").read_text()
    assert "conv/kernel" in page and "grid levels in range" in page and "node-wasm uint8" in page
    found = check_report(tmp_path / "reports", tmp_path / "shots")
    assert found["ok"], found
    assert found["pages"] == ["index.html", "mnist/index.html"]
    assert (tmp_path / "shots" / "mnist_index.png").stat().st_size > 10_000


def test_a_section_from_an_earlier_run_is_said_on_the_page(tmp_path):
    """parity.json measured before results.json was written again: the page names it and its time
    (its variants may have changed since); the figures are still shown."""
    r = _results(created="2026-12-07T10:00:00+0000")
    _write(tmp_path, r)
    parity = {"atol": 0.005, "rtol": 0.005, "n_examples": 3, "passed": True, "pairs": [],
              "created": "2026-12-07T09:00:00+0000"}  # fmt: skip
    (tmp_path / "mnist" / "parity.json").write_text(json.dumps(parity))
    render_reports(tmp_path)
    page = (tmp_path / "mnist" / "index.html").read_text()
    assert "Measured before these results, by an earlier run" in page
    assert "parity (2026-12-07T09:00:00+0000)" in page
    parity["created"] = "2026-12-07T11:00:00+0000"
    (tmp_path / "mnist" / "parity.json").write_text(json.dumps(parity))
    render_reports(tmp_path)
    assert "by an earlier run" not in (tmp_path / "mnist" / "index.html").read_text()
