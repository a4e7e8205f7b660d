"""The report renders results.json files whose NaN/Inf were written as null + "<key>_nonfinite"."""

import math

from quantlab.infra.fsutil import write_json_atomic
from quantlab.report.render import load_all_results, render_reports

NAN, INF = float("nan"), float("inf")


def _results():
    stats = {"max_abs": 0.0, "mean_abs": 0.0, "rel_l2": 0.0, "sqnr_db": INF, "nonfinite": 0,
             "nonfinite_reference": 0, "cosine_min": 1.0, "top1_agreement": 1.0}  # fmt: skip
    bad = {"max_abs": NAN, "mean_abs": NAN, "rel_l2": NAN, "sqnr_db": NAN, "nonfinite": 2,
           "nonfinite_reference": 0, "cosine_min": NAN, "top1_agreement": NAN}  # fmt: skip
    tensor = {"name": "d/big", "layer": "d", "shape": [2], "dtype": "float16", "min": 1.0, "max": 7e4,
              "scale": None, **bad}  # fmt: skip
    return {
        "demo": "mnist",
        "task": "classification",
        "primary_metric": "accuracy",
        "variants": [{"name": "float32", "weight_bytes": 4000, "metrics": {"accuracy": 0.99}}],
        "parity": {
            "n_examples": 2,
            "atol": 0.005,
            "rtol": 0.005,
            "unavailable": {},
            "pairs": [
                {
                    "variant": "float32",
                    "kind": "runtime",
                    "actual": "node-wasm float32",
                    "reference": "keras",
                    "stats": stats,
                    "passed": True,
                    "first_bad_layer": None,
                },
                {
                    "variant": "float16",
                    "kind": "runtime",
                    "actual": "node-wasm float16",
                    "reference": "keras",
                    "stats": bad,
                    "passed": False,
                    "first_bad_layer": None,
                },
            ],
        },  # fmt: skip
        "weight_error": {"float16": {"n_tensors": 1, "tensors": [tensor], "batchnorm": [], "histograms": []}},
    }


def test_null_sqnr_renders_with_its_meaning(tmp_path):
    write_json_atomic(tmp_path / "mnist" / "results.json", _results())
    (loaded,) = load_all_results(tmp_path)
    assert loaded["parity"]["pairs"][0]["stats"]["sqnr_db"] == INF
    assert math.isnan(loaded["weight_error"]["float16"]["tensors"][0]["sqnr_db"])
    render_reports(tmp_path)
    page = (tmp_path / "mnist" / "index.html").read_text()
    assert "<td>inf</td>" in page  # the exact pair
    assert "<td>d/big</td>" in page.replace('<td class="l">', "<td>") and "<td>nan</td>" in page
