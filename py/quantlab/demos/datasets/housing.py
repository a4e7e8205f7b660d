"""California housing (1990 census) CSV files; features and label z-normalised with training
statistics, as the seed did."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ...errors import DataError
from .base import Dataset
from .resolver import DataFile, resolve

_URL = "https://download.mlcc.google.com/mledu-datasets/"
FILES = [
    DataFile(
        "california-housing",
        "california_housing_train.csv",
        "bb9ca4041a66e0ed691cb825188f16fdab518435c4950a080951be2fdfe30d4d",
        _URL + "california_housing_train.csv",
    ),
    DataFile(
        "california-housing",
        "california_housing_test.csv",
        "be3f531aac5aca44fe1c04fd888b4aa68a9a69f69c05d0eb2e0473dfe702dda2",
        _URL + "california_housing_test.csv",
    ),
]
COLUMNS = [
    "longitude",
    "latitude",
    "housing_median_age",
    "total_rooms",
    "total_bedrooms",
    "population",
    "households",
    "median_income",
    "median_house_value",
]
LABEL = "median_house_value"


def read_housing_csv(path: Path) -> np.ndarray:
    """Rows x 9 float64, columns in COLUMNS order (the label last)."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if header is None or [h.strip() for h in header] != COLUMNS:
                raise DataError(f"{path}: header {header} is not the California housing columns {COLUMNS}")
            rows = [[float(v) for v in row] for row in reader if row]
    except ValueError as e:
        raise DataError(f"{path}: a non-numeric value ({e})") from e
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: cannot be read ({e})") from e
    data = np.asarray(rows, dtype=np.float64)
    if data.ndim != 2 or data.shape[1] != len(COLUMNS) or len(data) == 0:
        raise DataError(f"{path}: expected rows of {len(COLUMNS)} values, got shape {data.shape}")
    return data


def load_housing(data_dir: Path | str | None = None) -> Dataset:
    train_path, test_path = (resolve(f, data_dir) for f in FILES)
    train, test = read_housing_csv(train_path), read_housing_csv(test_path)
    mean, std = train.mean(axis=0), train.std(axis=0)

    def norm(a: np.ndarray) -> np.ndarray:
        return ((a - mean) / std).astype(np.float32)

    tr, te = norm(train), norm(test)
    return Dataset(
        "california-housing",
        tr[:, :-1],
        tr[:, -1:],
        te[:, :-1],
        te[:, -1:],
        source="California housing, 1990 US census (Pace & Barry), Google MLCC sample CSVs",
        files={f.name: p for f, p in zip(FILES, (train_path, test_path), strict=True)},
        checksums={f.name: f.sha256 for f in FILES},
        extra={
            "label_mean": float(mean[-1]),
            "label_std": float(std[-1]),
            "feature_mean": mean[:-1].tolist(),
            "feature_std": std[:-1].tolist(),
        },
    )
