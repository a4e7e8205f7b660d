import gzip
import shutil

import numpy as np
import pytest

from quantlab.demos.datasets.housing import load_housing, read_housing_csv
from quantlab.demos.datasets.idx import load_idx_dataset, read_idx
from quantlab.errors import DataError


def test_housing_is_normalised_with_training_statistics(data_dir):
    d = load_housing(data_dir)
    assert d.x_train.shape == (17000, 8) and d.x_test.shape == (3000, 8)
    np.testing.assert_allclose(d.x_train.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(d.y_train.std(), 1, atol=1e-4)
    assert 150_000 < d.extra["label_mean"] < 250_000
    assert abs(d.y_test.mean()) < 0.1  # test set uses the training mean, so only close to 0


def test_mnist_shapes_and_range(data_dir):
    d = load_idx_dataset("mnist", data_dir)
    assert d.x_train.shape == (60000, 28, 28, 1) and d.x_test.shape == (10000, 28, 28, 1)
    assert d.x_test.dtype == np.float32 and 0 <= d.x_test.min() and d.x_test.max() <= 1
    assert set(np.unique(d.y_test)) == set(range(10))


def test_truncated_idx_names_the_file(tmp_path, data_dir):
    raw = gzip.decompress((data_dir / "mnist" / "t10k-labels-idx1-ubyte.gz").read_bytes())
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(raw[:-10]))
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte\.gz: .* truncated"):
        read_idx(path)


def test_bad_csv_header_names_the_file(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match=r"x\.csv: header"):
        read_housing_csv(path)


def test_corrupt_copy_in_data_dir_is_reported_not_used(tmp_path, data_dir):
    shutil.copytree(data_dir / "california-housing", tmp_path / "california-housing")
    target = tmp_path / "california-housing" / "california_housing_test.csv"
    target.chmod(0o644)
    target.write_text(target.read_text()[:-100])
    with pytest.raises(DataError, match="california_housing_test.csv: checksum mismatch"):
        load_housing(tmp_path)
