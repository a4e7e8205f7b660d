"""Empirical bias correction (Nagel et al., "Data-Free Quantization", ICCV 2019, section 4.2;
AIMET's `bias_correction`) of a tfjs graph model that is about to be quantized.

Why: per-tensor quantization moves each kernel weight by an error dW that does not average out per
output channel. For y = W x + b, E[y_q - y] = dW E[x]: a constant shift of every output channel,
which ReLU6 clips and later layers amplify (MobileNetV2 as a graph model, all-uint8 after
cross-layer equalization: mean feature cosine to float32 0.93). Subtracting dW E[x] from the layer's
bias removes that shift in expectation. E[x] per input channel is measured in tfjs on calibration
inputs (the float32 model's intermediate tensors, requested by node name, averaged over examples
and positions; a zero Pad's border zeros are counted as the conv sees them); dW is the target
dtype's round-trip error, computed as tfjs-core will dequantize it (tfjs/quantization.py).

The corrected model is meant to be quantized to its target dtype: served in float32 its biases
are off by exactly the recorded correction. Only conv and depthwise nodes with a fused BiasAdd are
corrected; the bias itself is then quantized on its own grid like any other weight."""

from __future__ import annotations

import collections
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import QuantlabError
from ..tfjs.conv_layers import Layer, conv_layer, input_name
from ..tfjs.quantization import roundtrip

TARGETS = ("uint8", "uint16", "float16")
# Intermediate tensors come back from the evaluator as files: as many nodes per request as fit in
# this many bytes (estimated from the first request's), so a model is run once per batch, not
# once per node, without a large model's activations filling the memory.
REQUEST_BYTES = 256e6
FIRST_REQUEST_NODES = 4


@dataclass
class BiasCorrectionReport:
    target: str
    n_calibration: int
    layers: list[dict] = field(default_factory=list)  # {node, bias, max_abs_correction, rel_to_bias}

    def as_dict(self) -> dict:
        return {
            "method": "empirical bias correction (Nagel et al. 2019, 4.2): b -= dW E[x]",
            "target": self.target,
            "n_calibration": self.n_calibration,
            "n_layers": len(self.layers),
            "layers": self.layers,
        }


def biased_layers(model_json: dict) -> list[tuple[Layer, str]]:
    """(layer, name of the node its input comes from) for each conv/depthwise with a fused bias;
    left out: a conv reading another output than a node's first (`node:1`: its mean is not
    fetched by name) and a bias constant that several layers share (one correction cannot fit)."""
    nodes = model_json["modelTopology"]["node"]
    consts = {n["name"] for n in nodes if n.get("op") == "Const"}
    found = []
    for n in nodes:
        layer = conv_layer(n, consts)
        if layer is None or not layer.bias:
            continue
        ref = n["input"][0]  # a conv has its input first
        if ref.rsplit(":", 1)[-1] not in (ref, "0"):
            continue
        found.append((layer, input_name(ref)))
    uses = collections.Counter(layer.bias for layer, _ in found)
    return [(layer, src) for layer, src in found if uses[layer.bias] == 1]


def channel_means(
    runtime, model_dir: Path, chunks: Iterable[np.ndarray], node_names: list[str], placeholders: set[str]
) -> dict[str, np.ndarray]:
    """Per-channel (last axis) means of the named nodes' outputs over every example and position
    of `chunks` (batches: {input name: array}, or an array for a one-input model), in tfjs."""
    sums: dict[str, np.ndarray] = {}
    counts: dict[str, int] = {}
    fetch = [n for n in node_names if n not in placeholders]  # a feed is read back from the batch
    per_request = FIRST_REQUEST_NODES

    def add(name: str, y: np.ndarray) -> None:
        flat = y.reshape(-1, y.shape[-1]).astype(np.float64)
        sums[name] = sums.get(name, 0) + flat.sum(axis=0)
        counts[name] = counts.get(name, 0) + flat.shape[0]

    loaded = runtime.load(model_dir)
    try:
        for x in chunks:
            feed = x if isinstance(x, dict) else {n: x for n in placeholders}  # one-input model
            for name in node_names:
                if name in placeholders:
                    if name not in feed:
                        raise QuantlabError(f"calibration inputs have no {name!r} (the model's input)")
                    add(name, feed[name])
            n, k = _n(x), 0
            while k < len(fetch):
                names = fetch[k : k + per_request]
                outs, _ = runtime.predict(loaded, x, batch_size=n, layers=names)
                for name, y in zip(names, outs, strict=True):
                    add(name, y)
                k += len(names)
                per_node = sum(y.nbytes for y in outs) / len(outs) / n  # bytes per node and example
                per_request = max(1, int(REQUEST_BYTES / max(per_node * n, 1.0)))
    finally:
        runtime.unload(loaded)
    return {n: sums[n] / counts[n] for n in sums}


def calibration_chunks(inputs, count: int, size: int = 16) -> list[dict[str, np.ndarray]]:
    """Up to `count` evenly spaced examples of `inputs` (quantlab.inputs.Inputs), in batches."""
    from ..inputs import evenly_spaced

    index = evenly_spaced(inputs.n, count)
    return [
        {name: inputs.batch_at(name, index[k : k + size]) for name in inputs.arrays}
        for k in range(0, len(index), size)
    ]


def _n(x) -> int:
    return len(next(iter(x.values()))) if isinstance(x, dict) else len(x)


def corrections(
    weights: dict[str, np.ndarray], layers: list[tuple[Layer, str]], means: dict[str, np.ndarray], target: str
) -> dict[str, np.ndarray]:
    """{bias name: dW E[x]} per output channel, dW the kernel's round-trip error at `target`."""
    out = {}
    for layer, src in layers:
        kernel = weights[layer.kernel]
        dw = roundtrip(kernel, target).astype(np.float64) - kernel.astype(np.float64)
        mu = means[src]
        if layer.depthwise:  # [kh, kw, channels, multiplier]: output channel c * m + j reads input c
            shift = (dw.sum(axis=(0, 1)) * mu[:, None]).reshape(-1)
        else:  # [kh, kw, in, out]
            shift = np.einsum("hwio,i->o", dw, mu)
        out[layer.bias] = shift
    return out


def bias_correct_artifact(
    src: Path, dest: Path, runtime, chunks, target: str = "uint8"
) -> BiasCorrectionReport:
    """The float32 graph model at `src`, its biases corrected for quantization to `target`, written
    atomically to `dest` (same topology, names and shard layout). `chunks`: calibration batches."""
    from .requantize import read_weight_groups, write_artifact

    if target not in TARGETS:
        raise QuantlabError(
            f"--bias-correction {target}: valid targets are {', '.join(TARGETS)}", exit_code=2
        )
    model_json, groups = read_weight_groups(src)
    layers = biased_layers(model_json)
    nodes = model_json["modelTopology"]["node"]
    placeholders = {n["name"] for n in nodes if n.get("op") == "Placeholder"}
    chunks = list(chunks)
    means = channel_means(runtime, src, chunks, sorted({s for _, s in layers}), placeholders)
    weights = {e["name"]: e["data"] for g in groups for e in g}
    fixes = corrections(weights, layers, means, target)
    report = BiasCorrectionReport(target, sum(_n(c) for c in chunks))
    for layer, _ in layers:
        b, fix = weights[layer.bias], fixes[layer.bias]
        report.layers.append(
            {
                "node": layer.node,
                "bias": layer.bias,
                "max_abs_correction": float(np.abs(fix).max()),
                "rel_to_bias": float(np.abs(fix).max() / max(float(np.abs(b).max()), 1e-30)),
            }
        )
        weights[layer.bias] = (b.astype(np.float64) - fix).astype(np.float32)
    write_artifact(Path(dest), model_json, [[dict(e, data=weights[e["name"]]) for e in g] for g in groups])
    return report
