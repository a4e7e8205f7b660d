"""Checks on a model's weights before they are written: numbers that the converter would
silently turn wrong (no TensorFlow import; numpy arrays in, an error naming the tensor out).

- NaN/Inf weights: a diverged training run; every variant of it, float32 included, is garbage.
- float16 overflow: float32 values beyond float16's largest finite value (65504) become Inf when
  the converter casts them (tensorflow/tfjs#4870), and nothing downstream says so.

Both raise `ArtifactError` (exit code 4, "broken model artifact"): the artifact that would be
written is broken. The message names the tensor, its dtype and its max |value|, and says what to
do: retrain, or keep the tensor out of float16 (e.g. `--map 'uint16=name'`)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ..errors import ArtifactError

FLOAT16_MAX = float(np.finfo(np.float16).max)  # 65504.0


def _max_abs(values: np.ndarray) -> float:
    return float(np.max(np.abs(values))) if values.size else 0.0


def nonfinite_weights(named_arrays: Iterable[tuple[str, np.ndarray]]) -> dict[str, int]:
    """Weight name -> number of NaN/Inf values, for the weights that have any."""
    out = {}
    for name, values in named_arrays:
        n = int(np.count_nonzero(~np.isfinite(np.asarray(values))))
        if n:
            out[name] = n
    return out


def float16_overflows(
    named_arrays: Iterable[tuple[str, np.ndarray]], dtype_map: dict[str, str]
) -> dict[str, float]:
    """Weight name -> max |value|, for the weights bound for float16 whose finite values exceed
    65504 (which float16 cannot hold: they would become Inf). The converter quantizes float32
    tensors only, so other dtypes (int32 counters) are never reported."""
    out = {}
    for name, values in named_arrays:
        if dtype_map.get(name) != "float16" or np.asarray(values).dtype != np.float32:
            continue
        v = np.asarray(values, dtype=np.float64)
        peak = _max_abs(v[np.isfinite(v)])
        if peak > FLOAT16_MAX:
            out[name] = peak
    return out


def check_weights_quantizable(
    named_arrays: Iterable[tuple[str, np.ndarray]], dtype_map: dict[str, str] | None
) -> None:
    """Raise ArtifactError (exit code 4) naming the first offending tensors when a weight holds
    NaN/Inf (whatever its dtype, float32 included) or a weight mapped to float16 (`dtype_map`:
    weight name -> "float16"/"uint16"/"uint8", as `convert.check_dtype_map` returns; absent:
    float32) has |x| > 65504. Passes silently otherwise."""
    named = [(name, np.asarray(values)) for name, values in named_arrays]
    bad = nonfinite_weights(named)
    if bad:
        listed = ", ".join(f"{name} ({n} of {_size(named, name)})" for name, n in list(bad.items())[:5])
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        raise ArtifactError(
            f"weights hold NaN/Inf values: {listed}{more}; the model is broken (training diverged?): "
            "retrain it (e.g. a lower learning rate) before converting, or --allow-nonfinite to keep these "
            "tensors float32 and go on"
        )
    over = float16_overflows(named, dtype_map or {})
    if over:
        listed = ", ".join(f"{name} (max |x| {peak:.6g})" for name, peak in list(over.items())[:5])
        more = f" and {len(over) - 5} more" if len(over) > 5 else ""
        raise ArtifactError(
            f"float16 overflow: {listed}{more} exceed float16's largest value {FLOAT16_MAX:.0f} and would "
            "become Inf (tensorflow/tfjs#4870); map these weights to uint16 or uint8 instead of float16"
        )


def _size(named: list[tuple[str, np.ndarray]], name: str) -> int:
    return next(int(v.size) for n, v in named if n == name)
