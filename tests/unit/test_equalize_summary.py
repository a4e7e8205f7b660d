"""equalize's before/after line judges the worst output by its own kind's figure, as analyze does:
a one-value flag by its absolute error, never by a cosine (always 1 over one value)."""

from __future__ import annotations

import numpy as np


def test_the_worst_output_is_told_by_its_own_figure():
    from quantlab.analysis.equalize_run import compare
    from quantlab.cli.commands.equalize import _figure_change

    ref_flag = np.array([[0.0], [1.0], [0.0], [1.0]])  # a [0, 1] flag: "small", absolute error
    ref_emb = np.tile(np.array([[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]]), (4, 1))  # 9 values
    flipped = np.array([[1.0], [1.0], [0.0], [0.0]])  # two of four flags flipped: mean |d| = 0.5
    got = compare({"float32": [ref_flag, ref_emb], "uint8": [flipped, ref_emb * 1.0001]})["uint8"]
    assert got["output_index"] == 0 and got["output_kind"] == "small"
    assert got["metric"] == "abs_error" and got["value"] == 0.5 and got["score"] == 0.5
    assert got["cosine_mean"] == 1.0  # what the line used to print, for two flags of four flipped
    before = got
    after = dict(got, value=0.25, rel_l2=0.5)
    line = _figure_change(before, after)
    assert line.startswith("absolute error 0.5 -> 0.25, relative L2 ")
    # equalization made another output the worst: each figure under its own metric and output
    other = dict(got, output_index=1, output_kind="embedding", metric="cosine_mean", value=0.98, rel_l2=0.2)
    line = _figure_change(before, other)
    assert line.startswith("absolute error 0.5 (output #0) -> cosine 0.98, relative L2 ")
