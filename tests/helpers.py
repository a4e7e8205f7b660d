"""Test helpers that touch artifacts on disk."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from quantlab.tfjs.artifacts import read_artifact


def corrupt_weight(folder: Path, weight_name: str, delta: float = 5.0) -> None:
    """Add `delta` to the first element of one float32 weight, in place in its shard."""
    art = read_artifact(folder)
    offset = 0
    for w in art.weights:
        if w.name == weight_name:
            assert w.stored_dtype == "float32", "corrupt a float32 artifact"
            break
        offset += w.nbytes
    else:
        raise KeyError(weight_name)
    shard = art.shard_paths[0]
    data = bytearray(shard.read_bytes())
    value = np.frombuffer(bytes(data[offset : offset + 4]), "<f4")[0] + delta
    data[offset : offset + 4] = np.float32(value).astype("<f4").tobytes()
    shard.write_bytes(bytes(data))
