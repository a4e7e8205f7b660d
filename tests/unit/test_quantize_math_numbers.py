"""quantize_math against hand-computed grids (tests/convert/test_quantize_math.py checks it against the
converter itself, which needs TensorFlow)."""

import numpy as np
import pytest

from quantlab.tfjs.quantization import dequantize, quantize_affine, roundtrip


def test_uint8_range_with_zero_on_the_grid():
    # [-1, 2]: scale = 3 / 255; -lo / scale = 85 exactly, so the range is kept: q = 0, 85, 255
    q, lo, scale = quantize_affine(np.array([-1.0, 0.0, 2.0], np.float32), "uint8")
    assert q.dtype == np.uint8 and q.tolist() == [0, 85, 255]
    assert lo == pytest.approx(-1.0, rel=1e-12) and scale == pytest.approx(3 / 255, rel=1e-12)


def test_uint8_range_nudged_so_zero_is_exact():
    # [-0.3, 1.0]: scale = 1.3 / 255 = 0.005098039215686275; 0.3 / scale = 58.846 -> 59 levels,
    # lo = -59 * 1.3 / 255 = -0.3007843137254902, hi = lo + 1.3 = 0.9992156862745098.
    # q(-0.3) = round(0.0007843 / 0.005098) = round(0.1538) = 0; q(0) = 59; q(1.0) clips to hi: 255.
    q, lo, scale = quantize_affine(np.array([-0.3, 0.0, 1.0], np.float32), "uint8")
    assert q.tolist() == [0, 59, 255]
    assert scale == pytest.approx(0.005098039215686275, rel=1e-6)
    assert lo == pytest.approx(-0.3007843137254902, rel=1e-6)
    # zero comes back as 59 * scale + lo = 0, up to float32 rounding
    assert abs(float(dequantize(q, lo, scale)[1])) < 1e-7


def test_uint8_positive_range_is_not_nudged():
    # [0.1, 0.9]: 0 is outside, lo stays 0.1; scale 0.8 / 255;
    # q(0.3) = round(0.2 * 255 / 0.8) = round(63.75) = 64
    q, lo, scale = quantize_affine(np.array([0.1, 0.3, 0.9], np.float32), "uint8")
    assert q.tolist() == [0, 64, 255]
    assert lo == pytest.approx(0.1, rel=1e-6) and scale == pytest.approx(0.8 / 255, rel=1e-6)
    # all negative [-3, -1]: 0 outside too; q(-2) = round(1 * 255 / 2) = round(127.5) = 128 (half to even)
    q, lo, scale = quantize_affine(np.array([-3.0, -2.0, -1.0], np.float32), "uint8")
    assert q.tolist() == [0, 128, 255] and lo == -3.0 and scale == pytest.approx(2 / 255, rel=1e-12)


def test_uint16_grid():
    # [-1, 2]: scale = 3 / 65535; -lo / scale = 21845 exactly: q = 0, 21845, 65535
    q, lo, scale = quantize_affine(np.array([-1.0, 0.0, 2.0], np.float32), "uint16")
    assert q.dtype == np.uint16 and q.tolist() == [0, 21845, 65535]
    assert lo == pytest.approx(-1.0, rel=1e-12) and scale == pytest.approx(3 / 65535, rel=1e-12)


def test_constant_tensor():
    q, lo, scale = quantize_affine(np.array([2.5, 2.5, 2.5], np.float32), "uint8")
    assert q.tolist() == [0, 0, 0] and q.dtype == np.uint8 and (lo, scale) == (2.5, 1.0)
    assert roundtrip(np.array([2.5, 2.5], np.float32), "uint8").tolist() == [2.5, 2.5]


def test_dequantize_is_float32_affine():
    # q * scale + min: 0 -> -1, 255 -> -1 + 255 * (2 / 255) = 1, 51 -> -1 + 0.4 = -0.6
    out = dequantize(np.array([0, 51, 255], np.uint8), -1.0, 2 / 255)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [-1.0, -0.6, 1.0], rtol=0, atol=1e-6)


def test_roundtrip_per_dtype():
    x = np.array([1 / 3, -2.0, 0.0], np.float32)
    assert roundtrip(x, "float32").tolist() == x.tolist()
    # float16 keeps 11 significant bits: 1/3 -> 0.333251953125 (0x3555)
    r16 = roundtrip(x, "float16")
    assert r16.dtype == np.float32 and r16.tolist() == [0.333251953125, -2.0, 0.0]
    # uint8 on [-2, 1/3]: step 2.3333 / 255 = 0.00915: error at most half a step
    r8 = roundtrip(x, "uint8")
    assert np.max(np.abs(r8 - x)) <= 0.5 * (7 / 3) / 255 + 1e-7 and np.max(np.abs(r8 - x)) > 0
    # float16 overflow: 70000 > 65504 becomes inf (what weight_checks guards against)
    with np.errstate(over="ignore"):
        assert roundtrip(np.array([70000.0], np.float32), "float16")[0] == np.inf
    with pytest.raises(KeyError):
        quantize_affine(x, "int4")


def test_nudged_range_clips_the_top_value_onto_the_grid():
    # [-1, 169]: scale = 170 / 255 = 2/3; -lo / scale = 1.5 -> 2 levels below zero, so the range
    # moves down half a step: lo = -4/3, hi = 255 * 2/3 - 4/3 = 168.667 < 169.
    # q(0) = (4/3) / (2/3) = 2; q(169) clips to hi: 255 (unclipped (169 + 4/3) / (2/3) = 255.5,
    # which rounds to 256 and wraps to 0 in uint8).
    q, lo, scale = quantize_affine(np.array([-1.0, 0.0, 169.0], np.float32), "uint8")
    assert q[1:].tolist() == [2, 255]
    assert lo == pytest.approx(-4 / 3, rel=1e-12) and scale == pytest.approx(2 / 3, rel=1e-12)


def test_range_without_zero_is_not_nudged_even_around_one():
    # [0.25, 2]: 0 outside (1 inside): lo stays 0.25; scale 1.75 / 255. (Nudging 1 or any other
    # value onto the grid would move lo: 0.25 / scale = 36.43 levels.)
    q, lo, scale = quantize_affine(np.array([0.25, 2.0], np.float32), "uint8")
    assert q.tolist() == [0, 255]
    assert lo == pytest.approx(0.25, rel=1e-7) and scale == pytest.approx(1.75 / 255, rel=1e-7)


def test_roundtrip_keeps_float32():
    x = np.array([0.1, 0.2], np.float32)
    for dtype in ("float32", "float16", "uint8", "uint16"):
        assert roundtrip(x, dtype).dtype == np.float32, dtype
