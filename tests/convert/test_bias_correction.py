"""Bias correction's dW E[x] against a direct simulation: the mean output shift of the quantized
kernel over random inputs, computed by plain convolution loops (no TF, no Node)."""

from __future__ import annotations

import numpy as np

from quantlab.convert.bias_correction import corrections
from quantlab.tfjs.conv_layers import Layer
from quantlab.tfjs.quantization import roundtrip


def _conv_valid(x: np.ndarray, k: np.ndarray) -> np.ndarray:
    """[n, h, w, i] * [kh, kw, i, o] -> [n, h-kh+1, w-kw+1, o], stride 1, no padding."""
    kh, kw = k.shape[:2]
    n, h, w, _ = x.shape
    out = np.zeros((n, h - kh + 1, w - kw + 1, k.shape[3]))
    for a in range(kh):
        for b in range(kw):
            out += np.einsum("nhwi,io->nhwo", x[:, a : a + h - kh + 1, b : b + w - kw + 1], k[a, b])
    return out


def _depthwise_valid(x: np.ndarray, k: np.ndarray) -> np.ndarray:
    """[n, h, w, c] * [kh, kw, c, m] -> [n, h', w', c * m] (channel c's m outputs together)."""
    kh, kw, c, m = k.shape
    n, h, w, _ = x.shape
    out = np.zeros((n, h - kh + 1, w - kw + 1, c, m))
    for a in range(kh):
        for b in range(kw):
            out += x[:, a : a + h - kh + 1, b : b + w - kw + 1, :, None] * k[a, b]
    return out.reshape(n, h - kh + 1, w - kw + 1, c * m)


def _shift(x, kernel, conv, target):
    dq = roundtrip(kernel, target).astype(np.float64)
    return (conv(x, dq) - conv(x, kernel.astype(np.float64))).reshape(-1, conv(x[:1], dq).shape[-1]).mean(0)


def test_conv_and_depthwise_corrections_equal_the_simulated_mean_output_shift():
    rng = np.random.default_rng(7)
    conv = (rng.normal(size=(3, 3, 3, 4)) * np.array([0.01, 1, 5, 0.3])).astype(np.float32)
    dw = (rng.normal(size=(3, 3, 3, 2)) * 2).astype(np.float32)
    weights = {"c/k": conv, "c/b": np.zeros(4, np.float32), "d/k": dw, "d/b": np.zeros(6, np.float32)}
    layers = [
        (Layer("c", "Conv2D", "c/k", "c/b", None), "x"),
        (Layer("d", "DepthwiseConv2dNative", "d/k", "d/b", None), "x"),
    ]
    # inputs constant per channel: E[x] is what every window sees, so the identity is exact
    xc = np.broadcast_to(np.array([0.7, -2.0, 3.0]), (2, 5, 5, 3)).astype(np.float64)
    means = {"x": np.array([0.7, -2.0, 3.0])}
    for target in ("uint8", "uint16", "float16"):
        got = corrections(weights, layers, means, target)
        want_c, want_d = _shift(xc, conv, _conv_valid, target), _shift(xc, dw, _depthwise_valid, target)
        np.testing.assert_allclose(got["c/b"], want_c, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(got["d/b"], want_d, rtol=1e-9, atol=1e-12)
        assert np.abs(got["c/b"]).max() > 0  # quantization moved the kernels: something to correct


def test_one_by_one_conv_correction_is_exact_on_any_inputs():
    rng = np.random.default_rng(11)
    x = rng.gamma(2.0, 1.0, (4, 5, 5, 8))  # ReLU-like, non-zero means
    k = rng.normal(size=(1, 1, 8, 5)).astype(np.float32) * np.geomspace(0.01, 10, 5).astype(np.float32)
    weights = {"k": k, "b": np.zeros(5, np.float32)}
    layer = (Layer("n", "Conv2D", "k", "b", "Relu6"), "x")
    got = corrections(weights, [layer], {"x": x.reshape(-1, 8).mean(0)}, "uint8")["b"]
    np.testing.assert_allclose(got, _shift(x, k, _conv_valid, "uint8"), rtol=1e-9, atol=1e-12)


def test_biased_layers_leave_out_second_outputs_and_shared_biases():
    from quantlab.convert.bias_correction import biased_layers
    from quantlab.tfjs.conv_layers import encode_attr

    def conv(name, src, kernel, bias):
        fused = {"list": {"s": [encode_attr("BiasAdd"), encode_attr("Relu")]}}
        return {
            "name": name,
            "op": "_FusedConv2D",
            "input": [src, kernel, bias],
            "attr": {"fused_ops": fused},
        }

    consts = [{"name": n, "op": "Const"} for n in ("k1", "k2", "k3", "k4", "b1", "b2", "b3")]
    nodes = [
        {"name": "x", "op": "Placeholder"},
        *consts,
        conv("c1", "x", "k1", "b1"),
        conv("c2", "c1:0", "k2", "b2"),
        conv("c3", "split:1", "k3", "b3"),  # the second output of a node: its mean is not fetched
        conv("c4", "c2", "k4", "b2"),  # shares c2's bias: one correction cannot fit both
    ]
    found = biased_layers({"modelTopology": {"node": nodes}})
    assert [(layer.node, src) for layer, src in found] == [("c1", "x")]
