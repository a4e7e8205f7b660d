import numpy as np
import pytest
from tensorflowjs import quantization as tfjs_q

from quantlab.tfjs.quantization import dequantize, quantize_affine, roundtrip


@pytest.mark.parametrize("dtype", ["uint8", "uint16"])
@pytest.mark.parametrize("low,high", [(-0.7, 2.3), (0.1, 0.9), (-3.0, -1.0)])
def test_mirrors_the_converter(dtype, low, high):
    data = np.random.default_rng(0).uniform(low, high, 1000).astype(np.float32)
    q, lo, scale = quantize_affine(data, dtype)
    ref_q, meta = tfjs_q.quantize_weights(data, tfjs_q.QUANTIZATION_OPTION_TO_DTYPES[dtype])
    assert np.array_equal(q, ref_q) and lo == meta["min"] and scale == meta["scale"]
    np.testing.assert_allclose(dequantize(q, lo, scale), tfjs_q.dequantize_weights(ref_q, meta), atol=1e-6)
    if low <= 0 <= high:
        # Zero maps to an integer level; dequantized in float32 (as tfjs-core does) it comes
        # back within float32 rounding of 0, not always exactly 0.
        assert np.abs(roundtrip(np.append(data, 0.0).astype(np.float32), dtype)[-1]) < 1e-6


def test_roundtrip_error_shrinks_with_bits():
    x = np.sin(np.linspace(0, 6, 500)).astype(np.float32)
    errs = [np.abs(roundtrip(x, d) - x).max() for d in ("uint8", "uint16", "float32")]
    assert errs[0] > errs[1] > errs[2] == 0
