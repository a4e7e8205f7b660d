"""MNIST and Fashion-MNIST in the official idx .gz format."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from ...errors import DataError
from .base import Dataset
from .resolver import DataFile, resolve

_MNIST_URL = "https://storage.googleapis.com/cvdf-datasets/mnist/"
_FASHION_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"

# sha256 of the decompressed payloads (the shared data folder's README lists the same).
_SUMS = {
    "mnist": {
        "train-images-idx3-ubyte.gz": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte.gz": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte.gz": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte.gz": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte.gz": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "t10k-images-idx3-ubyte.gz": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte.gz": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
}
_SOURCES = {
    "mnist": ("MNIST (LeCun, Cortes, Burges), official idx files", _MNIST_URL),
    "fashion-mnist": ("Fashion-MNIST (Zalando Research, MIT), official idx files", _FASHION_URL),
}


def idx_files(name: str) -> list[DataFile]:
    url = _SOURCES[name][1]
    return [DataFile(name, f, s, url + f) for f, s in _SUMS[name].items()]


def read_idx(path: Path) -> np.ndarray:
    """Parse an idx file (magic: 0x0000, dtype 0x08 = uint8, ndim) into a uint8 array."""
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(f"{path}: not a readable gzip idx file ({e})") from e
    if len(raw) < 4 or raw[0:2] != b"\x00\x00" or raw[2] != 0x08:
        raise DataError(f"{path}: not an idx uint8 file (bad magic {raw[:4].hex()})")
    ndim = raw[3]
    dims = np.frombuffer(raw, dtype=">u4", count=ndim, offset=4).astype(int)
    expected = int(np.prod(dims)) + 4 + 4 * ndim
    if len(raw) != expected:
        raise DataError(
            f"{path}: {len(raw)} bytes after decompression, expected {expected} "
            f"for shape {tuple(dims)}; the file is truncated or corrupt"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_idx_dataset(name: str, data_dir: Path | str | None = None) -> Dataset:
    paths = {f.name: resolve(f, data_dir) for f in idx_files(name)}

    def images(key: str) -> np.ndarray:
        return (read_idx(paths[key]).astype(np.float32) / 255.0)[..., None]

    def labels(key: str) -> np.ndarray:
        return read_idx(paths[key]).astype(np.int64)

    x_train, y_train = images("train-images-idx3-ubyte.gz"), labels("train-labels-idx1-ubyte.gz")
    x_test, y_test = images("t10k-images-idx3-ubyte.gz"), labels("t10k-labels-idx1-ubyte.gz")
    for xs, ys, what in ((x_train, y_train, "train"), (x_test, y_test, "t10k")):
        if len(xs) != len(ys):
            raise DataError(f"{name}: {what} images ({len(xs)}) and labels ({len(ys)}) differ")
    return Dataset(
        name,
        x_train,
        y_train,
        x_test,
        y_test,
        source=_SOURCES[name][0],
        files={k: v for k, v in paths.items()},
        checksums=dict(_SUMS[name]),
    )
