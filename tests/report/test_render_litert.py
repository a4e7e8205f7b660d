"""The page's "tfjs or LiteRT.js?" section: the sentence, LiteRT float32 against TensorFlow, and
each LiteRT variant's recipe (the Python calls that make it), escaped as text."""

from quantlab.report import render_reports
from tests.report.test_render import _results, _write

SENTENCE = "LiteRT.js int8: 0.9701 (-0.0299), 2.70 MB, 21.90 ms/example; tfjs uint8: 0.6210 (-0.3790)"


def _litert(passed=True):
    return {
        "runtime": {"runtime": "browser-litert-wasm", "backend": "litert-wasm", "litert_version": "2.5.3"},
        "float32_parity": {"reference": "keras", "atol": 0.005, "rtol": 0.005, "passed": passed,
                           "n_failed": 0 if passed else 7, "max_abs": 3.15e-05 if passed else 0.5},
        "batch": 1,
        "variants": {
            "litert-float32": {"python": ["converter = tf.lite.TFLiteConverter.from_concrete_functions(...)",
                                          "open('model.tflite', 'wb').write(converter.convert())"],
                               "calibration": None, "bytes": 8853048},
            "litert-int8": {"python": ["converter.representative_dataset = calibration  # <batches>"],
                            "calibration": "50 examples of --inputs, evenly spaced, held out of scoring",
                            "bytes": 2698184},
        },
        "metric": "accuracy",
        "sentence": SENTENCE,
    }  # fmt: skip


def test_litert_section_on_the_page(tmp_path):
    r = _results()
    r["litert"] = _litert()
    _write(tmp_path, r)
    render_reports(tmp_path)
    page = (tmp_path / "mnist" / "index.html").read_text()
    assert "<h2>tfjs or LiteRT.js?</h2>" in page
    assert f"<b>{SENTENCE}</b>" in page
    assert "litert-float32 against keras: max abs 3.15e-05" in page and "within</span> atol 0.005" in page
    assert "# &lt;batches&gt;" in page and "<batches>" not in page  # the recipe is text, not markup
    assert "50 examples of --inputs, evenly spaced, held out of scoring" in page and "8,853,048" in page


def test_litert_float32_out_of_tolerance_is_marked(tmp_path):
    r = _results()
    r["litert"] = _litert(passed=False)
    _write(tmp_path, r)
    render_reports(tmp_path)
    page = (tmp_path / "mnist" / "index.html").read_text()
    assert '<span class="bad">OUT of</span> atol 0.005 / rtol 0.005 (7 elements)' in page


def test_no_litert_section_without_litert(tmp_path):
    _write(tmp_path, _results())
    render_reports(tmp_path)
    assert "tfjs or LiteRT.js?" not in (tmp_path / "mnist" / "index.html").read_text()
