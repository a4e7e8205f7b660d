"""Convolution layers of a tfjs graph model as its topology states them: a conv or depthwise node
whose kernel (and, when it fuses a BiasAdd, bias) is a Const weight, with at most one fused
activation. What equalization pairs and bias correction corrects (convert/)."""

from __future__ import annotations

import base64
from dataclasses import dataclass

CONV_OPS = {"Conv2D", "_FusedConv2D"}
DEPTHWISE_OPS = {"DepthwiseConv2dNative", "FusedDepthwiseConv2dNative"}


def decode_attr(s: str) -> str:
    return base64.b64decode(s).decode()


def encode_attr(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


def input_name(ref: str) -> str:
    """'node:1' / '^node' -> 'node'."""
    return ref.lstrip("^").split(":")[0]


@dataclass
class Layer:
    node: str
    op: str
    kernel: str  # weight (Const) name
    bias: str | None
    activation: str | None  # None, "Relu", "Relu6", or another fused op name

    @property
    def depthwise(self) -> bool:
        return self.op in DEPTHWISE_OPS

    @property
    def short(self) -> str:
        return short_name(self.node)


def short_name(node: str) -> str:
    """'.../block_3_depthwise/depthwise' -> 'block_3_depthwise' (the Keras layer's name)."""
    parts = node.split("/")
    return parts[-2] if len(parts) > 1 else parts[-1]


def fused_ops(node: dict) -> list[str]:
    return [decode_attr(s) for s in node.get("attr", {}).get("fused_ops", {}).get("list", {}).get("s", [])]


def conv_layer(node: dict, consts: set[str]) -> Layer | None:
    op = node.get("op")
    if op not in CONV_OPS | DEPTHWISE_OPS:
        return None
    inputs = [input_name(i) for i in node.get("input", []) if not i.startswith("^")]
    if len(inputs) < 2 or inputs[1] not in consts:
        return None
    fused = fused_ops(node)
    bias = None
    activation = None
    if fused:
        if fused[0] != "BiasAdd" or len(inputs) < 3 or inputs[2] not in consts or len(fused) > 2:
            return None
        bias = inputs[2]
        activation = fused[1] if len(fused) == 2 else None
    return Layer(node["name"], op, inputs[1], bias, activation)
