"""The Delivery section: bytes chart, first-prediction chart per profile and the conclusion line,
from a real `quantlab delivery` record shape; the bytes chart alone from variant rows."""

from quantlab.analysis.delivery import PROFILES
from quantlab.analysis.delivery_record import conclusions
from quantlab.report import render_reports
from tests.report.test_render import _results, _write


def _sizes(raw, gz, br):
    return {"settings": {"gzip_level": 6, "brotli_quality": 5}, "files": [], "requests": 2,
            "total": {"raw": raw, "gzip": gz, "br": br}}  # fmt: skip


def _m(load, first, lo, hi):
    def s(med):
        return {"median": med, "min": lo, "max": hi, "runs": [med]}

    return {"load_ms": s(load), "first_prediction_ms": s(first), "tf_memory_bytes": 4000,
            "tf_num_tensors": 8, "js_heap_used_bytes": 5_000_000, "requests": 2, "transfer_bytes": 900,
            "decoded_bytes": 4900}  # fmt: skip


def _delivery():
    d = {
        "backend": "wasm", "tfjs_version": "4.22.0", "runs": 3, "accept_encoding": ["gzip, br"],
        "content_encoding": "br", "measured": "from the first request", "errors": {"uint16": "too large"},
        "profiles": {p: PROFILES[p] for p in ("slow-4g", "none")},
        "sizes": {"float32": _sizes(4900, 4000, 3900), "uint8": _sizes(1950, 1200, 1100)},
        "variants": {"float32": {"slow-4g": _m(3300, 3400, 3350, 3500), "none": _m(40, 45, 40, 50)},
                     "uint8": {"slow-4g": _m(1200, 1300, 1250, 1320), "none": _m(30, 35, 30, 40)}},
    }  # fmt: skip
    d["conclusions"] = conclusions(d)
    d["conclusion"] = d["conclusions"][0]
    return d


def test_conclusion_is_phrased_for_a_person():
    d = _delivery()
    assert d["conclusion"] == (
        "uint8 shows the first prediction 2.1 s sooner than float32 on Slow 4G "
        "(1.3 s vs 3.4 s, median of 3 runs)"
    )
    assert d["conclusions"][1].endswith(
        "10 ms sooner than float32 without throttling (35 ms vs 45 ms, median of 3 runs; "
        "within the run-to-run spread)"
    )


def test_litert_variants_get_their_own_sentence_against_the_smallest_tfjs_one():
    """With LiteRT variants loaded too, the tfjs sentence still compares tfjs variants (a smaller
    .tflite does not take uint8's place), and one more names both runtimes."""
    d = _delivery()
    d["profiles"] = {"slow-4g": PROFILES["slow-4g"]}
    d["sizes"]["litert-int8"] = _sizes(1900, 1100, 1000)
    d["variants"]["litert-int8"] = {"slow-4g": _m(1000, 1100, 1050, 1150)}
    for v in ("float32", "uint8"):
        d["variants"][v].pop("none")
    assert conclusions(d) == [
        "uint8 shows the first prediction 2.1 s sooner than float32 on Slow 4G "
        "(1.3 s vs 3.4 s, median of 3 runs)",
        "LiteRT.js litert-int8 shows the first prediction 200 ms sooner than tfjs uint8 on Slow 4G "
        "(1.1 s vs 1.3 s, median of 3 runs)",
    ]


def test_delivery_section_renders(tmp_path):
    r = _results()
    r["delivery"] = _delivery()
    _write(tmp_path / "reports", r)
    render_reports(tmp_path / "reports")
    page = (tmp_path / "reports" / "mnist" / "index.html").read_text()
    assert "Delivery: what the user" in page and "2.1 s sooner than float32 on Slow 4G" in page
    assert "bytes over the wire (KiB)" in page and "time to first prediction, Slow 4G" in page
    assert "time to first prediction, unthrottled" in page and "uint16: too large" in page


def test_bytes_chart_from_variant_rows_alone(tmp_path):
    r = _results()
    for v, raw in zip(r["variants"], (4900, 1950), strict=True):
        v["delivery"] = _sizes(raw, raw // 2, raw // 3)
    _write(tmp_path / "reports", r)
    render_reports(tmp_path / "reports")
    page = (tmp_path / "reports" / "mnist" / "index.html").read_text()
    assert "bytes over the wire (KiB)" in page and "time to first prediction" not in page
