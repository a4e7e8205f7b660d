"""ReLU6 between two rescaled layers: made ReLU (DFQ), or made ReLU followed by a per-channel
Minimum at 6 / s, which keeps the float32 function exact (convert/equalize.py explains why)."""

from __future__ import annotations

import copy

import numpy as np

from ..tfjs.conv_layers import decode_attr, encode_attr, input_name

CLIP_SUFFIX = "equalize_relu6_clip"  # Const 6 / s per channel, and the Minimum node that applies it


def replace_relu6(model_json: dict, nodes: list[str]) -> dict:
    """A copy of model.json with the fused Relu6 of `nodes` made Relu (DFQ's choice)."""
    out = copy.deepcopy(model_json)
    wanted = set(nodes)
    for n in out["modelTopology"]["node"]:
        fused = n.get("attr", {}).get("fused_ops", {}).get("list", {})
        if n["name"] in wanted and fused.get("s"):  # a conv with no fused activation has none to change
            fused["s"] = [encode_attr("Relu") if decode_attr(s) == "Relu6" else s for s in fused["s"]]
    return out


def add_relu6_clips(model_json: dict, scales: dict[str, np.ndarray]) -> tuple[dict, dict[str, np.ndarray]]:
    """Exact ReLU6 after rescaling: relu6(z) = s * min(relu(z / s), 6 / s). For each first layer
    `node` (its fused Relu6 already made Relu): a Const `node/equalize_relu6_clip` holding 6 / s
    and a Minimum node of the same name reading (node, Const); every consumer of `node` reads the
    Minimum instead. Returns (model.json, {const name: values}) for the weight writer."""
    out = copy.deepcopy(model_json)
    nodes = out["modelTopology"]["node"]
    consts: dict[str, np.ndarray] = {}
    renamed = {}
    for node, s in scales.items():
        const, mini = f"{node}/{CLIP_SUFFIX}/value", f"{node}/{CLIP_SUFFIX}"
        consts[const] = (6.0 / s).astype(np.float32)
        nodes.append(
            {
                "name": const,
                "op": "Const",
                "attr": {
                    "value": {
                        "tensor": {"dtype": "DT_FLOAT", "tensorShape": {"dim": [{"size": str(s.size)}]}}
                    },
                    "dtype": {"type": "DT_FLOAT"},
                },
            }
        )
        nodes.append(
            {"name": mini, "op": "Minimum", "input": [node, const], "attr": {"T": {"type": "DT_FLOAT"}}}
        )
        renamed[node] = mini
    for n in nodes:
        if n["name"] in renamed.values():
            continue
        n["input"] = [
            (("^" if ref.startswith("^") else "") + renamed[input_name(ref)])
            if input_name(ref) in renamed
            else ref
            for ref in n.get("input", [])
        ]
    return out, consts


# TensorFlow's control-flow ops (v1 dataflow and v2 functional) as the converter writes them.
