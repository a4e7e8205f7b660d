"""Inputs checked against the model's named inputs, each failure one line naming the input."""

from __future__ import annotations

import numpy as np
import pytest

from quantlab.errors import DataError, QuantlabError
from quantlab.input_spec import InputOptions, InputSpec
from quantlab.inputs import load_inputs, parse_input_shapes, parse_range

IMG = [InputSpec("image", [None, 4, 4, 3])]
TWO = [InputSpec("a", [None, 3]), InputSpec("b", [None, 2], "int32")]


def test_npz_with_named_arrays_and_labels(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, a=np.ones((5, 3)), b=np.arange(10).reshape(5, 2), y=np.arange(5))
    s = load_inputs(TWO, InputOptions(path=path))
    assert s.n == 5 and s.arrays["a"].dtype == np.float32 and s.arrays["b"].dtype == np.int32
    assert list(s.labels) == [0, 1, 2, 3, 4] and s.description["sha256"]
    chunks = list(s.chunks(2))
    assert [len(c["a"]) for c in chunks] == [2, 2, 1]


def test_npz_missing_an_input_lists_what_it_has(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, a=np.ones((5, 3)), labels=np.arange(5))
    with pytest.raises(DataError) as e:
        load_inputs(TWO, InputOptions(path=path))
    msg = str(e.value)
    assert "no array for input b" in msg and "it has a, labels" in msg and "needs a, b" in msg


def test_wrong_shape_and_dtype_name_the_input(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, a=np.ones((5, 4)), b=np.zeros((5, 2), np.int64))
    with pytest.raises(DataError, match=r"input a: expected shape \['N', 3\], got \[5, 4\]"):
        load_inputs(TWO, InputOptions(path=path))
    np.savez(path, a=np.ones((5, 3)), b=np.zeros((5, 2), np.float32))
    with pytest.raises(DataError, match="input b: expected integers"):
        load_inputs(TWO, InputOptions(path=path))


def test_labels_of_the_wrong_length(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, x=np.ones((5, 3)), y=np.arange(4))
    with pytest.raises(DataError, match="4 labels for 5 examples"):
        load_inputs([InputSpec("x", [None, 3])], InputOptions(path=path))


def test_npy_feeds_one_input_only(tmp_path):
    path = tmp_path / "x.npy"
    np.save(path, np.ones((2, 3)))
    with pytest.raises(DataError, match="model has 2 inputs"):
        load_inputs(TWO, InputOptions(path=path))
    s = load_inputs([InputSpec("x", [None, 3])], InputOptions(path=path, limit=1))
    assert s.n == 1


def test_nan_inputs_are_refused(tmp_path):
    path = tmp_path / "x.npy"
    np.save(path, np.array([[1.0, np.nan, 0.0]]))
    with pytest.raises(DataError, match="NaN or Inf"):
        load_inputs([InputSpec("x", [None, 3])], InputOptions(path=path))


def test_synthetic_is_seeded_in_range_and_needs_static_dims():
    a = load_inputs(TWO, InputOptions(samples=7, input_range=(2.0, 3.0), seed=5))
    b = load_inputs(TWO, InputOptions(samples=7, input_range=(2.0, 3.0), seed=5))
    assert a.synthetic and a.n == 7
    assert np.array_equal(a.arrays["a"], b.arrays["a"])
    assert a.arrays["a"].min() >= 2.0 and a.arrays["a"].max() <= 3.0
    assert a.arrays["b"].dtype == np.int32 and set(np.unique(a.arrays["b"])) <= {2, 3}
    dynamic = [InputSpec("tokens", [None, None])]
    with pytest.raises(QuantlabError, match="--input-shape tokens:N,N"):
        load_inputs(dynamic, InputOptions())
    s = load_inputs(dynamic, InputOptions(input_shapes={"tokens": [1, 9]}, samples=3))
    assert s.arrays["tokens"].shape == (3, 9)


def test_image_folder(tmp_path):
    from PIL import Image

    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no images"):
        load_inputs(IMG, InputOptions(path=tmp_path / "empty"))
    for cls, colour in (("cat", (255, 0, 0)), ("dog", (0, 0, 255))):
        (tmp_path / "imgs" / cls).mkdir(parents=True)
        Image.new("RGB", (8, 8), colour).save(tmp_path / "imgs" / cls / "1.png")
    s = load_inputs(IMG, InputOptions(path=tmp_path / "imgs", scale=(-1.0, 1.0)))
    assert s.n == 2 and list(s.labels) == [0, 1] and s.class_names == ["cat", "dog"]
    x = next(s.chunks(8))["image"]
    assert x.shape == (2, 4, 4, 3) and x.dtype == np.float32
    assert x[0, 0, 0].tolist() == [1.0, -1.0, -1.0]  # red, 255 -> 1 and 0 -> -1


def test_option_parsers():
    assert parse_range("-1,1", "--scale") == (-1.0, 1.0)
    for bad in ("1", "2,1", "nan,1", "a,b"):
        with pytest.raises(QuantlabError):
            parse_range(bad, "--scale")
    assert parse_input_shapes(["x:1,128", "y:3x4"]) == {"x": [1, 128], "y": [3, 4]}
    with pytest.raises(QuantlabError):
        parse_input_shapes(["x:0,1"])


def test_split_off_holds_out_evenly_spaced_examples_and_scores_the_rest(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, a=np.arange(30).reshape(10, 3), b=np.zeros((10, 2), np.int32), y=np.arange(10) * 10)
    s = load_inputs(TWO, InputOptions(path=path))
    held, rest = s.split_off(3)
    # linspace(0, 9, 3) = 0, 4.5, 9 -> rows 0, 4 (half to even), 9
    assert held["a"][:, 0].tolist() == [0, 12, 27]
    assert rest.n == 7 and rest.labels.tolist() == [10, 20, 30, 50, 60, 70, 80]
    assert rest.description["calibration_held_out"] == 3 and rest.description["n_before_calibration"] == 10


@pytest.mark.parametrize("n, count, message", [
    (1, 1, "--inputs holds 1; give at least 2"),
    (5, 5, "--calibration 5: needs 1 to 4 of the 5 input examples"),
])  # fmt: skip
def test_split_off_refuses_nothing_left_to_calibrate_or_score(tmp_path, n, count, message):
    path = tmp_path / "d.npz"
    np.savez(path, a=np.ones((n, 3)), b=np.zeros((n, 2), np.int32))
    s = load_inputs(TWO, InputOptions(path=path))
    with pytest.raises(QuantlabError) as e:
        s.split_off(count)
    assert e.value.exit_code == 2 and message in str(e.value)
