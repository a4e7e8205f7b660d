"""Consecutive conv/depthwise pairs of a tfjs graph model (what cross-layer equalization rescales):
a layer whose only consumer is another one, directly or through a zero Pad."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import ArtifactError
from ..tfjs.conv_layers import Layer, conv_layer, input_name


@dataclass
class Pair:
    first: Layer
    second: Layer
    via: list[str] = field(default_factory=list)  # zero Pad nodes in between


def find_pairs(model_json: dict) -> list[Pair]:
    """Consecutive conv/depthwise pairs in a tfjs graph model's topology, in graph order."""
    topology = model_json.get("modelTopology") or {}
    nodes = topology.get("node")
    if not isinstance(nodes, list):
        raise ArtifactError("model.json: not a tfjs graph model (no modelTopology.node)")
    by_name = {n["name"]: n for n in nodes}
    consts = {n["name"] for n in nodes if n.get("op") == "Const"}
    consumers: dict[str, list[str]] = {}
    for n in nodes:
        for ref in n.get("input", []):
            consumers.setdefault(input_name(ref), []).append(n["name"])
    outputs = {input_name(o) for o in _signature_outputs(model_json)}
    pairs = []
    for n in nodes:
        first = conv_layer(n, consts)
        if first is None:
            continue
        name, via = n["name"], []
        while True:
            users = consumers.get(name, [])
            if len(users) != 1 or name in outputs:
                break
            nxt = by_name[users[0]]
            if nxt.get("op") in ("Pad",) and _zero_pad(nxt, by_name):
                via.append(nxt["name"])
                name = nxt["name"]
                continue
            second = conv_layer(nxt, consts)
            if second is not None and [input_name(i) for i in nxt["input"]][0] == name:
                pairs.append(Pair(first, second, via))
            break
    return pairs


def _signature_outputs(model_json: dict) -> list[str]:
    sig = model_json.get("signature") or model_json.get("userDefinedMetadata", {}).get("signature") or {}
    return [v.get("name", "") for v in (sig.get("outputs") or {}).values()]


def _zero_pad(node: dict, by_name: dict) -> bool:
    """A plain Pad (constant 0; PadV2 and MirrorPad are left out) over the spatial dims."""
    return node.get("op") == "Pad" and len(node.get("input", [])) == 2
