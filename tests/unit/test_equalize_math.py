"""Cross-layer equalization on hand-made graph topologies and weights (no TF, no Node)."""

import base64

import numpy as np
import pytest

from quantlab.analysis.weight_error import channel_spread
from quantlab.convert.conv_pairs import find_pairs
from quantlab.convert.equalize import equalize_weights
from quantlab.convert.relu6_clips import replace_relu6


def _ops(*names):
    return {"list": {"s": [base64.b64encode(n.encode()).decode() for n in names]}}


def _conv(name, x, op="_FusedConv2D", act="Relu"):
    attr = {"fused_ops": _ops("BiasAdd", act) if act else _ops("BiasAdd")}
    return {"name": name, "op": op, "input": [x, f"{name}/w", f"{name}/b"], "attr": attr}


def _model(nodes, out):
    consts = [
        {"name": f"{n['name']}/{k}", "op": "Const"} for n in nodes if n["op"] != "Pad" for k in ("w", "b")
    ]
    return {
        "modelTopology": {"node": [{"name": "x", "op": "Placeholder"}, *consts, *nodes]},
        "signature": {"outputs": {"y": {"name": f"{out}:0"}}},
        "weightsManifest": [],
    }


def test_pairs_follow_single_consumers_and_zero_pads():
    nodes = [
        _conv("expand", "x", act="Relu6"),
        {"name": "pad", "op": "Pad", "input": ["expand", "pad/paddings"]},
        _conv("depthwise", "pad", op="FusedDepthwiseConv2dNative", act="Relu6"),
        _conv("project", "depthwise", act=None),
        _conv("next", "project"),  # project also feeds add: two consumers, no pair
        {"name": "add", "op": "AddV2", "input": ["project", "next"]},
    ]
    pairs = find_pairs(_model(nodes, "add"))
    assert [(p.first.node, p.second.node, p.via) for p in pairs] == [
        ("expand", "depthwise", ["pad"]),
        ("depthwise", "project", []),
    ]
    assert pairs[0].first.activation == "Relu6" and pairs[0].second.depthwise


def test_no_pair_past_a_model_output():
    nodes = [_conv("a", "x"), _conv("b", "a")]
    assert len(find_pairs(_model(nodes, "b"))) == 1
    assert find_pairs(_model(nodes, "a")) == []  # 'a' is an output: rescaling it would show


def _forward(w, x, relu6=False, dw_relu6=False):
    """1x1 conv -> act -> depthwise 1x1 -> act -> 1x1 conv, on x [n, c] (1x1 kernels = matmuls)."""
    act = (lambda z: np.clip(z, 0, 6)) if relu6 else (lambda z: np.maximum(z, 0))
    h = act(x @ w["expand/w"][0, 0] + w["expand/b"])
    h = act(h * w["depthwise/w"][0, 0, :, 0] + w["depthwise/b"])
    return h @ w["project/w"][0, 0] + w["project/b"]


def _weights(rng):
    scale = np.array([20.0, 0.1, 1.0, 5.0, 0.02, 0.5], np.float32)
    return {
        "expand/w": (rng.normal(size=(1, 1, 3, 6)) * scale).astype(np.float32),
        "expand/b": (rng.uniform(0, 0.5, 6) * scale).astype(np.float32),
        "depthwise/w": (rng.normal(size=(1, 1, 6, 1)) / scale[:, None]).astype(np.float32),
        "depthwise/b": rng.uniform(-0.1, 0.1, 6).astype(np.float32),
        "project/w": rng.normal(size=(1, 1, 6, 4)).astype(np.float32),
        "project/b": rng.normal(size=4).astype(np.float32),
    }


def _chain():
    nodes = [
        _conv("expand", "x"),
        _conv("depthwise", "expand", op="FusedDepthwiseConv2dNative"),
        _conv("project", "depthwise", act=None),
    ]
    return find_pairs(_model(nodes, "project"))


def _absmax_spread(name, v):
    """max |w| per output channel, widest / narrowest (1x1 depthwise kernels have max - min 0)."""
    channels = v.shape[2] * v.shape[3] if name.startswith("depthwise") else v.shape[3]
    r = np.abs(v).reshape(-1, channels).max(axis=0)
    return r.max() / r.min()


def test_relu_chain_is_exact_and_ranges_even_out():
    rng = np.random.default_rng(0)
    w = _weights(rng)
    new, used, report = equalize_weights(w, _chain())
    assert len(used) == 2 and report.sweeps > 1
    x = rng.normal(size=(50, 3)).astype(np.float32)
    np.testing.assert_allclose(_forward(new, x), _forward(w, x), rtol=1e-5, atol=1e-5)
    spread = {k: _absmax_spread(k, v) for k, v in w.items() if v.ndim == 4}
    spread_new = {k: _absmax_spread(k, v) for k, v in new.items() if v.ndim == 4}
    assert (
        spread_new["expand/w"] < spread["expand/w"] / 10
        and spread_new["depthwise/w"] < spread["depthwise/w"] / 10
    )
    assert (
        channel_spread("expand/w", new["expand/w"])["channel_spread"]
        < channel_spread("expand/w", w["expand/w"])["channel_spread"]
    )
    # after convergence, expand's output channel i and dw's channel i share one range (DFQ)
    r1 = np.abs(new["expand/w"]).max(axis=(0, 1, 2))
    r2 = np.abs(new["depthwise/w"]).max(axis=(0, 1, 3))
    np.testing.assert_allclose(r1, r2, rtol=1e-3)
    assert set(new) == set(w) and all(new[k].shape == w[k].shape for k in w)


def test_relu6_modes():
    rng = np.random.default_rng(1)
    w = _weights(rng)
    nodes = [
        _conv("expand", "x", act="Relu6"),
        _conv("depthwise", "expand", op="FusedDepthwiseConv2dNative", act="Relu6"),
        _conv("project", "depthwise", act=None),
    ]
    model = _model(nodes, "project")
    pairs = find_pairs(model)
    _, used, report = equalize_weights(w, pairs, relu6="skip")
    assert used == [] and all("Relu6" in s["why"] for s in report.skipped)
    new, used, report = equalize_weights(w, pairs, relu6="relu")
    assert report.relu6_replaced and len(used) == 2
    # with ReLU in place of ReLU6 the equalized model computes the original's ReLU function exactly
    x = rng.normal(size=(50, 3)).astype(np.float32)
    np.testing.assert_allclose(_forward(new, x), _forward(w, x), rtol=1e-5, atol=1e-5)
    out = replace_relu6(model, [p.first.node for p in used])
    fused = {
        n["name"]: n["attr"]["fused_ops"]["list"]["s"] for n in out["modelTopology"]["node"] if "attr" in n
    }
    assert (
        base64.b64decode(fused["expand"][1]) == b"Relu" and base64.b64decode(fused["depthwise"][1]) == b"Relu"
    )
    assert (
        base64.b64decode(model["modelTopology"]["node"][-3]["attr"]["fused_ops"]["list"]["s"][1]) == b"Relu6"
    )


def test_depthwise_multiplier_and_bad_mode_are_refused():
    rng = np.random.default_rng(2)
    w = _weights(rng)
    w["depthwise/w"] = np.repeat(w["depthwise/w"], 2, axis=3)  # channel multiplier 2
    _, used, report = equalize_weights(w, _chain())
    assert [s["why"] for s in report.skipped][0] == "depthwise channel multiplier is not 1"
    with pytest.raises(Exception, match="--relu6"):
        equalize_weights(w, _chain(), relu6="bogus")
