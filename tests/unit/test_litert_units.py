"""LiteRT pieces that need no TensorFlow nor browser: the converter's refusal in one line, the
variant folders, --threads, and the note on threads a runtime did not get."""

from __future__ import annotations

import pytest

from quantlab.analysis.speed import SpeedRow, parse_threads, speed_record
from quantlab.convert.litert import litert_folders, refusal
from quantlab.errors import QuantlabError

# what TF 2.19's converter raises for a tf.linalg.det Lambda (seen in tests/convert/test_litert_convert.py)
MLIR = (
    "Could not translate MLIR to FlatBuffer.<string>:9:1: error: 'tf.MatrixDeterminant' op is neither a "
    "custom op nor a flex op\n<unknown>:0: note: loc(fused[...]): called from\n"
    "<string>:9:1: note: Error code: ERROR_NEEDS_FLEX_OPS\n"
    "<string>:0: error: failed while converting: 'main': \nSome ops are not supported by the native TFLite "
    "runtime, you can enable TF kernels fallback using TF Select.\nTF Select ops: MatrixDeterminant"
)


def test_refusal_names_the_op_in_one_line():
    line = refusal(MLIR)
    assert line == "op tf.MatrixDeterminant: is neither a custom op nor a flex op"
    assert "\n" not in line


def test_refusal_without_an_op_keeps_the_first_line():
    assert refusal("\n  something broke\nmore") == "something broke"


def test_litert_folders_in_the_variants_order(tmp_path):
    for name in ("litert-int8", "litert-float32", "uint8", "custom-lite"):
        (tmp_path / name).mkdir()
    for name in ("litert-int8", "litert-float32", "custom-lite"):
        (tmp_path / name / "model.tflite").write_bytes(b"x")
    assert list(litert_folders(tmp_path)) == ["litert-float32", "litert-int8", "custom-lite"]
    assert litert_folders(tmp_path / "missing") == {}


@pytest.mark.parametrize("text, counts", [("1,2", [1, 2]), ("4, 1 ,4", [1, 4])])
def test_parse_threads(text, counts):
    assert parse_threads(text) == counts


@pytest.mark.parametrize("text", ["0", "", "two", "1,-2"])
def test_parse_threads_refuses(text):
    with pytest.raises(QuantlabError) as e:
        parse_threads(text)
    assert e.value.exit_code == 2 and "--threads" in str(e.value)


def test_speed_record_notes_threads_asked_but_not_used():
    rows = [
        SpeedRow("browser-wasm", "float32", 2, 1, 3.0, 2.5, 3.5, 8, 3),
        SpeedRow("browser-litert-wasm", "litert-int8", 2, 2, 1.0, 0.9, 1.2, 8, 3),
    ]
    record = speed_record(rows, {"cores": 2})
    assert record["notes"] == [
        "browser-wasm: 2 asked, 1 used "
        "(tfjs-backend-wasm caps its pool at half the cores, at most 8; 2 cores here)"
    ]
    assert record["rows"][1]["threads_used"] == 2
