"""Checks on a user's inputs before anything is read into memory: a size cap for synthetic
arrays, .npy headers and .npz members (a typo such as --samples 1000000000, a header claiming
10^12 rows, a zip bomb), and files that would block (a FIFO given as --inputs)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .errors import DataError

# The most bytes of inputs quantlab will hold (synthetic arrays, an .npy, an .npz's arrays once
# decompressed): sizes are checked against it before anything is allocated or decompressed, so a
# typo (--samples 1000000000) or a hostile file (a header claiming 10^12 rows, a zip bomb) is one
# line instead of a MemoryError. $QUANTLAB_MAX_INPUT_BYTES raises it.
MAX_INPUT_BYTES = 8 << 30
MAX_NPZ_RATIO = 1000  # uncompressed / compressed beyond this is a zip bomb, not data...
NPZ_BOMB_MIN = 64 << 20  # ...once it decompresses to this much (an all-zero mask compresses ~1000x)


def max_input_bytes() -> int:
    import os

    try:
        return int(os.environ.get("QUANTLAB_MAX_INPUT_BYTES", MAX_INPUT_BYTES))
    except ValueError:
        return MAX_INPUT_BYTES


def gib(n: float) -> str:
    return f"{n / (1 << 30):.3g} GiB"


def _npy_header(f) -> tuple[tuple, np.dtype]:
    version = np.lib.format.read_magic(f)
    reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, _, dtype = reader(f)
    return shape, dtype


def check_npy(path: Path) -> None:
    """An .npy whose header claims more bytes than the file holds or than the cap: one line."""
    with open(path, "rb") as f:
        try:
            shape, dtype = _npy_header(f)
        except (ValueError, OSError) as e:
            raise DataError(f"{path}: not a readable .npy array ({e})") from None
        body = path.stat().st_size - f.tell()
    need = math.prod(shape) * dtype.itemsize
    if need > max_input_bytes():
        raise DataError(
            f"{path}: its header claims {shape} ({gib(need)}), over the {gib(max_input_bytes())} cap"
        )
    if need > body:
        raise DataError(f"{path}: its header claims {shape} ({need:,} bytes) but the file holds {body:,}")


def check_npz(path: Path) -> None:
    """Every member of an .npz: the decompressed total against the cap, and a compression ratio a
    real array does not reach (a zip bomb), before anything is decompressed."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, OSError) as e:
        raise DataError(f"{path}: not a readable .npz archive ({e})") from None
    total = sum(i.file_size for i in infos)
    packed = sum(i.compress_size for i in infos)
    if total > max_input_bytes():
        raise DataError(
            f"{path}: its arrays decompress to {gib(total)}, over the {gib(max_input_bytes())} cap"
        )
    if packed and total > MAX_NPZ_RATIO * packed and total > NPZ_BOMB_MIN:
        raise DataError(
            f"{path}: {packed:,} bytes that decompress to {total:,} ({total // packed}x): not array data"
        )


def check_regular_file(path: Path, option: str = "--inputs") -> None:
    """A FIFO, socket or device would block or never end: only regular files and folders."""
    import stat

    mode = path.stat().st_mode
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise DataError(f"{option} {path}: not a regular file or folder (a pipe, socket or device)")
