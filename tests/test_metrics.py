import json

import numpy as np

from quantlab.metrics import parity_stats, within_tolerance


def test_parity_stats_and_tolerance():
    ref = np.array([[1.0, 2.0, 3.0], [0.5, 0.2, 0.1]])
    same = parity_stats(ref, ref)
    assert same["max_abs"] == 0 and same["sqnr_db"] == float("inf") and same["top1_agreement"] == 1
    noisy = ref + np.array([[0.0, 0.0, 0.1], [0.0, 0.0, 0.0]])
    s = parity_stats(noisy, ref)
    assert np.isclose(s["max_abs"], 0.1) and 20 < s["sqnr_db"] < 40 and s["cosine_min"] < 1
    # An element fails only when it exceeds both atol and rtol*|ref|.
    assert within_tolerance(noisy, ref, atol=0.05, rtol=0.05) == (True, 0)
    assert within_tolerance(noisy, ref, atol=0.05, rtol=0.01) == (False, 1)


def test_results_json_with_nan_and_inf_parses_in_node(tmp_path):
    """Integration: what write_json_atomic writes from real stats passes Node's strict JSON.parse."""
    import math
    import subprocess

    from quantlab.infra.fsutil import read_json, write_json_atomic
    from quantlab.infra.node import find_node

    ref = np.array([[1.0, 2.0], [3.0, 4.0]])
    record = {"exact": parity_stats(ref, ref), "broken": parity_stats(ref * np.nan, ref)}
    path = tmp_path / "results.json"
    write_json_atomic(path, record)
    script = (
        "const r = JSON.parse(require('fs').readFileSync(process.argv[1], 'utf8'));"
        "console.log(JSON.stringify([r.exact.sqnr_db, r.exact.sqnr_db_nonfinite, r.broken.sqnr_db_nonfinite,"
        " r.broken.nonfinite]))"
    )
    proc = subprocess.run([find_node(), "-e", script, str(path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == [None, "inf", "nan", 4]
    back = read_json(path)
    assert back["exact"]["sqnr_db"] == float("inf") and math.isnan(back["broken"]["sqnr_db"])
