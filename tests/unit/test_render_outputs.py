"""The model page with per-output results: the headline is the worst counted output (named, with its
kind and figure), every output has its row, and a real change smaller than the practical margin
reads "within the margin", not "worse than float32"."""

from __future__ import annotations

import re

from quantlab.infra.fsutil import write_json_atomic
from quantlab.report.outputs_view import delta_reading, output_rows, worst_of
from quantlab.report.render import render_reports
from tests.report.outputs_fixtures import EMBED, SMALL, model_results

MARGINS = {"cosine_mean": 0.001, "rel_error": 0.01, "top1_agreement": 0.01}


def _page(tmp_path, r: dict) -> str:
    write_json_atomic(tmp_path / r["demo"] / "results.json", r)
    render_reports(tmp_path)
    return (tmp_path / r["demo"] / "index.html").read_text()


def _row_of(page: str, variant: str, output: str) -> str:
    """The "Every output" table's row for (variant, output), as HTML."""
    table = page.split("<h2>Every output</h2>", 1)[1].split("</table>", 1)[0]
    rows = [
        r
        for r in table.split("<tr")
        if f'<td class="l">{variant}</td>' in r and f"<code>{output}</code>" in r
    ]
    assert len(rows) == 1, (variant, output, rows)
    return rows[0]


def test_headline_is_the_collapsed_embedding_and_every_output_is_shown(tmp_path):
    page = _page(tmp_path, model_results(min_effect=MARGINS))
    assert f"worst output <code>{EMBED}</code> (embedding) cosine 0.3120 [0.2900, 0.3300]" in page, (
        "uint8's headline"
    )
    assert "<h2>Every output</h2>" in page
    for variant in ("float32", "float16", "uint8"):
        for output in (EMBED, SMALL):
            _row_of(page, variant, output)
    collapsed = _row_of(page, "uint8", EMBED)
    assert collapsed.startswith(' class="bad"') and "worse than float32" in collapsed
    assert "-0.6880 [-0.7100, -0.6700]" in collapsed and "<td>1.2</td>" in collapsed
    perfect = _row_of(page, "uint8", SMALL)
    assert not perfect.startswith(' class="bad"') and "(small)" not in perfect and ">small<" in perfect
    assert "relative error 0.0000" in perfect and "no measurable difference on 64 examples" in perfect
    assert "reference" in _row_of(page, "float32", EMBED)
    # the headline chart: each variant's worst-output score, labelled with that output
    chart = page.split('aria-label="worst output', 1)[1].split("</svg>", 1)[0]
    assert f"<title>{EMBED}</title>" in chart and ">0.3120<" in chart and ">0.9999<" in chart
    assert "cosine 0.3120 [0.2900, 0.3300]" in page and "cosine ±0.001" in page  # margins named


def test_tiny_real_cosine_change_reads_within_the_margin(tmp_path):
    page = _page(tmp_path, model_results(min_effect=MARGINS))
    row = _row_of(page, "float16", EMBED)
    assert "within the margin (±0.001)" in row and "worse" not in row and 'class="bad"' not in row
    assert "-0.00010 [-0.00015, -0.00005]" in row
    # the per-variant differences table, through render._delta_reading, says the same
    diffs = page.split("Differences from float32 on the same examples", 1)[1].split("</table>", 1)[0]
    f16 = next(r for r in diffs.split("<tr>") if '<td class="l">float16</td>' in r)
    assert "within the margin" in f16 and "worse than float32" not in f16 and "bad" not in f16
    u8 = next(r for r in diffs.split("<tr>") if '<td class="l">uint8</td>' in r)
    assert re.search(r'class="l bad">worse than float32<', u8)


def test_tiny_change_without_min_effect_uses_the_defaults():
    d = {"delta": -0.0001, "ci": [-0.00015, -0.00005], "n": 64, "covers_zero": False, "p_value": None}
    assert delta_reading(d, "cosine_mean", None).startswith("within the margin")
    assert delta_reading(d | {"ci": [-0.0002, 0.0001]}, "cosine_mean").startswith("no measurable difference")
    assert delta_reading(d | {"ci": None}, "cosine_mean") == "no interval"


def test_worst_output_falls_back_to_the_lowest_counted_score():
    r = model_results()
    u8 = r["variants"][2]
    del u8["worst_output"]
    assert worst_of(u8)[0] == EMBED
    u8["outputs"][EMBED]["counted"] = False  # not picked by --output: the small output heads
    assert worst_of(u8)[0] == SMALL
    rows = {(x["variant"], x["output"]): x for x in output_rows(r)}
    assert rows[("uint8", EMBED)]["counted"] is False and rows[("uint8", SMALL)]["headline"]


def test_results_without_outputs_render_as_before(tmp_path):
    r = model_results()
    for v in r["variants"]:
        del v["outputs"], v["worst_output"]
    page = _page(tmp_path, r)
    assert "Every output" not in page and "headline: worst output" not in page
    assert 'aria-label="cosine_mean by precision (tfjs)' in page


def test_hand_edited_outputs_still_render(tmp_path):
    r = model_results(min_effect=MARGINS)
    u8 = r["variants"][2]
    u8["outputs"][EMBED] |= {"value": "high", "interval": [1], "delta": {"delta": "x"}, "score": None}
    u8["outputs"]["junk"] = 5
    u8["worst_output"] = "nowhere"
    page = _page(tmp_path, r)
    row = _row_of(page, "uint8", EMBED)
    assert "cosine –" in row and "junk" not in page.split("<h2>Every output</h2>", 1)[1]
    assert "unreadable" not in page
