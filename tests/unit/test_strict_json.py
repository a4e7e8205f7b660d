"""write_json_atomic writes strict JSON: no bare NaN/Infinity (Node's JSON.parse rejects them)."""

import json
import math

import pytest

from quantlab.infra import fsutil
from quantlab.infra.fsutil import read_json, restore_nonfinite, strict_json_value, write_json_atomic

NAN, INF = float("nan"), float("inf")


def _strict(text: str):
    def reject(name):
        raise ValueError(f"bare {name}")

    return json.loads(text, parse_constant=reject)


def test_nonfinite_becomes_null_with_a_sibling_flag(tmp_path):
    obj = {
        "stats": {"sqnr_db": INF, "rel_l2": NAN, "max_abs": 0.5, "low": -INF, "n": 3},
        "edges": [0.0, NAN, 1.0],
        "pair": (1.5, INF),
        "label": "x",
        "none": None,
    }
    path = tmp_path / "r.json"
    write_json_atomic(path, obj)
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    parsed = _strict(text)
    assert parsed["stats"] == {
        "sqnr_db": None, "sqnr_db_nonfinite": "inf", "rel_l2": None, "rel_l2_nonfinite": "nan",
        "max_abs": 0.5, "low": None, "low_nonfinite": "-inf", "n": 3,
    }  # fmt: skip
    assert list(parsed["stats"])[:2] == ["sqnr_db", "sqnr_db_nonfinite"]  # the flag sits beside its key
    assert parsed["edges"] == [0.0, None, 1.0] and parsed["pair"] == [1.5, None]
    assert parsed["label"] == "x" and parsed["none"] is None
    assert fsutil.loads_strict(text) == parsed
    with pytest.raises(ValueError, match="bare NaN"):
        fsutil.loads_strict('{"a": NaN}')


def test_read_json_restores_the_floats(tmp_path):
    path = tmp_path / "r.json"
    write_json_atomic(path, {"a": {"sqnr_db": INF, "rel_l2": NAN, "low": -INF, "ok": 1.25}, "b": [INF]})
    back = read_json(path)
    assert back["a"]["sqnr_db"] == INF and back["a"]["low"] == -INF and math.isnan(back["a"]["rel_l2"])
    assert back["a"]["ok"] == 1.25 and set(back["a"]) == {"sqnr_db", "rel_l2", "low", "ok"}
    assert back["b"] == [None]
    # A flag whose key is not null (or an unknown spelling) is left alone.
    assert restore_nonfinite({"k": 1.0, "k_nonfinite": "inf"}) == {"k": 1.0, "k_nonfinite": "inf"}
    assert restore_nonfinite({"k": None, "k_nonfinite": "huge"}) == {"k": None, "k_nonfinite": "huge"}
    # old files with bare Infinity still read (lenient reader)
    (tmp_path / "old.json").write_text('{"sqnr_db": Infinity}')
    assert read_json(tmp_path / "old.json") == {"sqnr_db": INF}


def test_a_flag_key_that_exists_is_an_error_not_an_overwrite():
    with pytest.raises(ValueError, match="sqnr_db_nonfinite already exists"):
        strict_json_value({"sqnr_db": INF, "sqnr_db_nonfinite": "mine"})


def test_a_regression_in_the_sanitiser_raises_instead_of_writing_nan(tmp_path, monkeypatch):
    monkeypatch.setattr(fsutil, "strict_json_value", lambda obj: obj)
    with pytest.raises(ValueError):
        write_json_atomic(tmp_path / "r.json", {"x": NAN})
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_numpy_float64_is_sanitised_too(tmp_path):
    import numpy as np

    write_json_atomic(tmp_path / "r.json", {"x": np.float64("inf"), "y": np.float64(2.0)})
    assert _strict((tmp_path / "r.json").read_text()) == {"x": None, "x_nonfinite": "inf", "y": 2.0}
