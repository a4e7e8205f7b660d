"""The report shows intervals (±, error bars) and deltas from float32, says "no measurable
difference" when a delta's interval covers zero, and still renders files written before them."""

from __future__ import annotations

from quantlab.infra.fsutil import write_json_atomic
from quantlab.report.charts import bar_chart
from quantlab.report.render import load_all_results, render_reports

METHOD = {"level": 0.95, "n": 10000, "resamples": 2000, "seed": 0, "methods": {"accuracy": "wilson"}}


def _results(with_uncertainty: bool = True) -> dict:
    f32 = {"name": "float32", "weight_bytes": 4000, "metrics": {"accuracy": 0.9226}}
    f16 = {"name": "float16", "weight_bytes": 2000, "metrics": {"accuracy": 0.9226}}
    u8 = {"name": "uint8", "weight_bytes": 1000, "metrics": {"accuracy": 0.9100}}
    if with_uncertainty:
        f32 |= {"intervals": {"accuracy": [0.9174, 0.9278]}, "interval_method": METHOD}
        f16 |= {
            "intervals": {"accuracy": [0.9174, 0.9278]},
            "interval_method": METHOD,
            "deltas": {
                "accuracy": {"delta": 0.0, "ci": [-0.0002, 0.0002], "n": 10000, "covers_zero": True,
                             "p_value": 1.0, "test": "mcnemar-exact", "flips": {"gained": 1, "lost": 1}},
            },
        }  # fmt: skip
        u8 |= {
            "intervals": {"accuracy": [0.9043, 0.9154]},
            "interval_method": METHOD,
            "deltas": {
                "accuracy": {"delta": -0.0126, "ci": [-0.0151, -0.0101], "n": 10000, "covers_zero": False,
                             "p_value": 1.2e-20, "test": "mcnemar-exact",
                             "flips": {"gained": 3, "lost": 129}},
            },
        }  # fmt: skip
    return {
        "demo": "fashion-mnist",
        "task": "classification",
        "primary_metric": "accuracy",
        "dataset": {},
        "environment": {},
        "config": {},
        "seed": {},
        "variants": [f32, f16, u8],
    }


def test_intervals_and_deltas_render(tmp_path):
    write_json_atomic(tmp_path / "fashion-mnist" / "results.json", _results())
    render_reports(tmp_path)
    page = (tmp_path / "fashion-mnist" / "index.html").read_text()
    assert "0.9226 ±0.0052" in page
    assert "Differences from float32 on the same examples" in page
    assert "no measurable difference on 10,000 examples" in page
    assert "worse than float32" in page and "3 / 129" in page and "1.2e-20" in page
    assert 'class="errorbar"' in page and "95% intervals" in page
    index = (tmp_path / "index.html").read_text()
    assert "0.9226 ±0.0052" in index and "no measurable difference on 10,000 examples" in index
    assert "-0.0126 [-0.0151, -0.0101]" in index


def test_results_without_intervals_still_render(tmp_path):
    write_json_atomic(tmp_path / "fashion-mnist" / "results.json", _results(with_uncertainty=False))
    render_reports(tmp_path)
    page = (tmp_path / "fashion-mnist" / "index.html").read_text()
    assert "<td>0.9226</td>" in page and "±" not in page and "errorbar" not in page
    assert "Differences from float32" not in page


def test_malformed_intervals_and_deltas_are_dropped_and_named(tmp_path):
    r = _results()
    r["variants"][0]["intervals"]["accuracy"] = "narrow"
    r["variants"][2]["deltas"]["accuracy"]["delta"] = "big"
    r["variants"][1]["deltas"] = [1, 2]
    write_json_atomic(tmp_path / "fashion-mnist" / "results.json", r)
    (loaded,) = load_all_results(tmp_path)
    assert "variants[float32].intervals.accuracy (not [lo, hi])" in loaded["_missing"]
    assert "variants[uint8].deltas.accuracy (not a delta)" in loaded["_missing"]
    assert "variants[float16].deltas (not an object)" in loaded["_missing"]
    render_reports(tmp_path)
    page = (tmp_path / "fashion-mnist" / "index.html").read_text()
    assert "<td>0.9226</td>" in page  # float32 without its broken interval


def test_bar_chart_error_bars_widen_the_zoomed_axis():
    plain = bar_chart(["a", "b"], [0.9, 0.8], "t", zoom=True)
    bars = bar_chart(["a", "b"], [0.9, 0.8], "t", zoom=True, errors=[(0.85, 0.95), None])
    assert "errorbar" not in plain and bars.count('class="errorbar"') == 1
    # the axis starts below the lowest value by half the span; with error bars the span is that of
    # the bars' ends: 0.8 - (0.95 - 0.8) / 2 - 0.95 * 0.002 = 0.7231, not 0.8 - 0.05 - 0.0018 = 0.7482
    assert "axis from 0.7231" in bars and "axis from 0.7482" in plain


def _tune(new: bool) -> dict:
    point = {"label": "uint8", "dtype_map": {"uint8": True}, "weight_bytes": 1000, "metric": 0.91,
             "drop": 0.004, "seconds": 1.0, "extra": {}}  # fmt: skip
    f32 = point | {"label": "float32", "weight_bytes": 4000, "metric": 0.914, "drop": 0.0}
    t = {"metric": "accuracy", "max_drop": 0.01, "relative": False, "subset_size": 200, "n_evaluated": 3,
         "seconds": 3.0, "runtime": "node-wasm", "float32_metric": 0.914, "float32_bytes": 4000,
         "sensitivity": [], "points": [f32, point], "chosen": point, "verified_float32_metric": 0.914,
         "verified_within_budget": True, "converter_command": ["tensorflowjs_converter"],
         "best_found": point}  # fmt: skip
    if new:
        verified = point | {"drop_ci": [0.001, 0.007]}
        return t | {"holdout_size": 5000, "holdout_checks": [f32, verified], "verified": verified,
                    "holdout": {"fraction": 0.5, "seed": 0, "stratified_by": "label"},
                    "conservative": True}  # fmt: skip
    return t | {"full_size": 10000, "full_set_checks": [f32, point], "verified": point}


def test_tune_section_with_a_held_out_split_and_an_old_one(tmp_path):
    r = _results()
    r["tune"] = _tune(new=True)
    write_json_atomic(tmp_path / "fashion-mnist" / "results.json", r)
    render_reports(tmp_path)
    page = (tmp_path / "fashion-mnist" / "index.html").read_text()
    assert "held-out split check (5000 examples)" in page and "[+0.0010, +0.0070]" in page
    assert "judged on the upper end of the drop's interval" in page and "stratified by label" in page
    assert "(relative)" not in page and "tune (unreadable)" not in page
    r["tune"] = _tune(new=False)
    write_json_atomic(tmp_path / "fashion-mnist" / "results.json", r)
    render_reports(tmp_path)
    page = (tmp_path / "fashion-mnist" / "index.html").read_text()
    assert "full set check (10000 examples)" in page and "answer re-checked on all 10000" in page
    assert "tune (unreadable)" not in page
