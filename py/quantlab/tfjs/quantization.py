"""The converter's per-tensor affine quantization, mirrored in numpy (no TensorFlow import):
range nudged so that 0 is exact, as TF-Lite does; tfjs-core dequantizes as q * scale + min.
tests/convert/test_quantize_math.py checks it against tensorflowjs.quantization."""

from __future__ import annotations

import numpy as np

AFFINE = {"uint8": np.uint8, "uint16": np.uint16}


def quantize_affine(data: np.ndarray, dtype: str) -> tuple[np.ndarray, float, float]:
    """-> (quantized values, min, scale)."""
    np_dtype = AFFINE[dtype]
    lo, hi = np.float64(data.min()), np.float64(data.max())
    if lo == hi:
        return np.zeros_like(data, dtype=np_dtype), float(lo), 1.0
    qmax = np.iinfo(np_dtype).max
    scale = (hi - lo) / qmax
    if lo <= 0 <= hi:
        lo = -np.round(-lo / scale) * scale
        hi = qmax * scale + lo
    q = np.round((data.clip(lo, hi) - lo) / scale).astype(np_dtype)
    return q, float(lo), float(scale)


def dequantize(q: np.ndarray, minimum: float, scale: float) -> np.ndarray:
    """What tfjs-core computes at load time (float32 arithmetic)."""
    return q.astype(np.float32) * np.float32(scale) + np.float32(minimum)


def roundtrip(data: np.ndarray, dtype: str) -> np.ndarray:
    """data as a model would see it after quantization to `dtype` and dequantization."""
    if dtype == "float32":
        return data.astype(np.float32)
    if dtype == "float16":
        return data.astype(np.float16).astype(np.float32)
    return dequantize(*quantize_affine(data, dtype))
