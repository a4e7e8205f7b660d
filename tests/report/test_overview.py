"""overview.html: one page for the models one command analysed. A good model, one whose uint8 breaks
an output, one that failed: verdicts, the failure's one-line reason and links to the models' pages,
in the HTML and in headless Chromium (no console error, every link opens a file in the report)."""

from __future__ import annotations

import os
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import pytest

from quantlab.infra.fsutil import write_json_atomic
from quantlab.report import render_reports
from quantlab.report.browser_check import broken_links
from quantlab.report.overview import code_spans, duration, render_overview
from tests.report.outputs_fixtures import EMBED, model_results

MARGINS = {"cosine_mean": 0.001}


def _worst(output: str, kind: str, metric: str, value, score, interval) -> dict:
    return {
        "output": output,
        "kind": kind,
        "metric": metric,
        "value": value,
        "score": score,
        "interval": interval,
    }


def _entries() -> list[dict]:
    same = _worst("scores/Softmax", "classes", "top1_agreement", 1.0, 1.0, [0.94, 1.0])
    good = {
        "name": "faceres",
        "page": "faceres/index.html",
        "error": None,
        "exit_code": 0,
        "format": "tfjs-graph",
        "shipped_bytes": None,
        "wall_s": 12.5,
        "variants": [
            {"name": "float32", "weight_bytes": 4000, "worst": same, "loss": False, "nonfinite": 0},
            {"name": "uint8", "weight_bytes": 1000, "worst": same, "loss": False, "nonfinite": 0},
        ],
        "verdict": "uint8 safe",
    }
    broken = {
        "name": "embedder",
        "page": "embedder/index.html",
        "error": None,
        "exit_code": 0,
        "format": "tfjs-graph (uint8 shipped)",
        "shipped_bytes": 1200,
        "wall_s": 70.0,
        "variants": [
            {"name": "float32", "weight_bytes": 4000,
             "worst": _worst(EMBED, "embedding", "cosine_mean", 1.0, 1.0, [1.0, 1.0]), "loss": False,
             "nonfinite": 0},
            {"name": "uint8", "weight_bytes": 1000,
             "worst": _worst(EMBED, "embedding", "cosine_mean", 0.312, 0.312, [0.29, 0.33]), "loss": True,
             "nonfinite": 3},
        ],
        "verdict": f"uint8 breaks output {EMBED} (cosine 0.31): try `quantlab tune` / `quantlab equalize`",
    }  # fmt: skip
    failed = {
        "name": "bad<model>",
        "page": None,
        "error": "model.json: not a tfjs model (no modelTopology)\nTraceback (most recent call last): ...",
        "exit_code": 3,
        "format": "unknown",
        "shipped_bytes": None,
        "wall_s": 0.4,
        "variants": [],
        "verdict": "failed",
    }
    return [good, broken, failed]


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs: list[str] = []
        self.tags: set[str] = set()
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.hrefs += [v or "" for k, v in attrs if k == "href"]

    def handle_data(self, data):
        self.text.append(data)


def _report(root: Path) -> Path:
    """The two models' own pages (rendered from per-output results), then the overview."""
    write_json_atomic(root / "faceres" / "results.json", model_results("faceres", MARGINS))
    write_json_atomic(root / "embedder" / "results.json", model_results("embedder", MARGINS))
    render_reports(root)
    return render_overview(root, _entries())


def test_overview_names_verdicts_failures_and_links(tmp_path):
    path = _report(tmp_path)
    assert path == tmp_path / "overview.html"
    html = path.read_text()
    page = _Page()
    page.feed(html)
    text = " ".join("".join(page.text).split())
    assert "3 models, 1 failed, total wall time 1 min 23 s" in text
    assert "uint8 safe" in text
    assert f"uint8 breaks output {EMBED} (cosine 0.31): try quantlab tune / quantlab equalize" in text
    assert "<code>quantlab tune</code>" in html  # backticks in a verdict become code
    assert "failed (exit 3): model.json: not a tfjs model (no modelTopology)" in text
    assert "Traceback" not in html  # one line only
    assert "bad<model>" in text and "<model>" not in html and "model" not in page.tags  # escaped
    assert f"{EMBED} (embedding)" in text and "cosine 0.3120 [0.2900, 0.3300]" in text
    assert "3 NaN/Inf values" in text
    assert "25.0%" in text and "83.3%" in text  # of float32; uint8 of the 1,200 shipped bytes
    broken_row = next(r for r in html.split("<tr") if "0.3120" in r)
    assert broken_row.startswith(' class="bad"')
    for href in ("./faceres/index.html", "./embedder/index.html", "./index.html"):
        assert href in page.hrefs
        assert (tmp_path / unquote(href)).is_file()
    assert len(page.hrefs) == 3  # the failed model has no page, so no link


def test_overview_without_an_index_links_none(tmp_path):
    html = render_overview(tmp_path, _entries()[2:]).read_text()
    page = _Page()
    page.feed(html)
    assert page.hrefs == [] and "1 model, 1 failed, total wall time 0.4 s" in "".join(page.text)


def test_overview_opens_in_chromium_without_errors_and_every_link_resolves(tmp_path):
    from quantlab.infra.chromium import browser_unavailable_reason
    from quantlab.report.browser_check import check_report

    if browser_unavailable_reason() and os.environ.get("CI") != "true":
        pytest.skip(browser_unavailable_reason())
    _report(tmp_path / "reports")
    found = check_report(tmp_path / "reports", tmp_path / "shots")
    assert found["ok"], found
    assert found["pages"] == ["index.html", "overview.html", "embedder/index.html", "faceres/index.html"]
    assert found["broken_links"] == []
    assert (tmp_path / "shots" / "overview.png").stat().st_size > 10_000
    # a link to a page that is not there fails the check
    entries = _entries()
    entries[0]["page"] = "missing/index.html"
    render_overview(tmp_path / "reports", entries)
    found = check_report(tmp_path / "reports")
    assert not found["ok"] and [b.split(": ")[0] for b in found["broken_links"]] == ["overview.html"]
    assert found["broken_links"][0].endswith("/missing/index.html")


def test_broken_links_and_helpers(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "index.html").write_text("x")
    ok = (tmp_path / "a" / "index.html").as_uri()
    outside = (tmp_path.parent / "x.html").as_uri()
    hrefs = [ok, ok + "#top", (tmp_path / "b.html").as_uri(), outside, "https://example.com/"]
    assert broken_links(hrefs, tmp_path) == hrefs[2:]
    assert duration(12.54) == "12.5 s" and duration(83) == "1 min 23 s" and duration(3720) == "1 h 02 min"
    assert code_spans("try `a` or `b`") == [("try ", False), ("a", True), (" or ", False), ("b", True)]
    assert code_spans("odd ` tick") == [("odd ` tick", False)]
