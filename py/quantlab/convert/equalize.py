"""Cross-layer equalization (Nagel et al., "Data-Free Quantization", ICCV 2019; AIMET's
`equalize_model`) of a tfjs graph model, written as an ordinary tfjs artifact.

Why: the graph converter folds BatchNorm into the conv kernels, so a depthwise kernel's output
channels can differ in range by 100x or more, and one per-tensor uint8 grid leaves most channels a
handful of levels (weight_error's `median_channel_share`). For two consecutive layers
y = f(W2 * g(W1 x + b1)) with g positively homogeneous (ReLU, or nothing), scaling output channel i
of layer 1 by 1/s_i and input channel i of layer 2 by s_i changes nothing in exact arithmetic:
g(z / s) * s = g(z). Choosing s_i = sqrt(r1_i / r2_i) (r = max |w| of the channel) gives both
layers the same per-channel ranges, sqrt(r1_i r2_i), which a per-tensor grid quantizes far better.

Pairs are found by walking `modelTopology.node`: a conv (`Conv2D`, `_FusedConv2D`) or depthwise
(`DepthwiseConv2dNative`, `FusedDepthwiseConv2dNative`) node whose only consumer is another one,
directly or through a zero `Pad`; its fused ops must be `BiasAdd` and at most one of `Relu` /
`Relu6`. Chains (MobileNetV2's expand 1x1 -> depthwise -> project 1x1) are equalized by repeated
pairwise sweeps until the scales settle.

ReLU6 is not positively homogeneous: relu6(z / s) * s clips at 6 s instead of 6, and MobileNetV2's
ReLU6 clips often enough that this matters (measured: features' cosine to float32 0.18 with the
clip left in place, 0.88 with ReLU6 made ReLU as DFQ did). So by default (`relu6="clip"`) the
first layer's fused ReLU6 becomes ReLU and a `Minimum` with a per-channel constant 6 / s_i follows
it: relu6(z) = s * min(relu(z / s), 6 / s), exact. That adds two nodes per such pair (ops every
tfjs runtime has) and one small weight, `<node>/equalize_relu6_clip/value`. `relu6="relu"` (DFQ),
`"keep"` (clip moves) and `"skip"` (leave such pairs alone) are there to measure the alternatives.
Either way the float32 change is measured on real inputs by the caller (`quantlab equalize`) and
refused beyond a tolerance unless forced.

The first layer's bias is divided by s too; s_i is kept >= |b_i| / max |b| so that the bias
tensor's range (its own per-tensor grid) does not grow. DFQ's bias absorption is not done: it
targets quantized activations, and tfjs computes activations in float32.

Existing nodes and weights keep their names, shapes and order, so unmodified tfjs loads the result
and quantization flags (the converter's weight writer, `quantlab quantize`/`analyze`) apply as to
any graph model."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import QuantlabError
from ..tfjs.conv_layers import (
    short_name,
)
from .conv_pairs import Pair, find_pairs
from .relu6_clips import CLIP_SUFFIX, add_relu6_clips, replace_relu6

HOMOGENEOUS = {None, "Relu"}  # g(z / s) * s == g(z) for s > 0
RELU6_MODES = ("clip", "relu", "keep", "skip")


def _out_ranges(w: np.ndarray, depthwise: bool) -> np.ndarray:
    """max |w| per output channel: [h, w, in, out] -> out; depthwise [h, w, in, 1] -> in."""
    if depthwise:
        return np.abs(w).reshape(-1, w.shape[2] * w.shape[3]).max(axis=0)
    return np.abs(w).reshape(-1, w.shape[-1]).max(axis=0)


def _in_ranges(w: np.ndarray, depthwise: bool) -> np.ndarray:
    """max |w| per input channel (axis 2 in both layouts)."""
    return np.abs(np.moveaxis(w, 2, 0)).reshape(w.shape[2], -1).max(axis=1)


def _spread(r: np.ndarray) -> float:
    r = r[r > 0]
    return float(r.max() / r.min()) if r.size >= 2 else 1.0


@dataclass
class EqualizeReport:
    pairs: list[dict]  # one per equalized pair: names, scale range, channel spread before/after
    skipped: list[dict]  # pairs left alone, with why
    relu6: str
    relu6_replaced: list[str]  # nodes whose fused Relu6 became Relu
    sweeps: int
    scales: dict = field(default_factory=dict)  # first layer's node -> s per channel (not serialized)
    snapped: bool = False

    def as_dict(self) -> dict:
        return {
            "method": "cross-layer equalization (Nagel et al. 2019), s_i = sqrt(r1_i / r2_i), r = max |w|",
            "relu6": self.relu6,
            "clips_snapped_to_uint8_grid": self.snapped,
            "relu6_replaced_by_relu": self.relu6_replaced,
            "relu6_clip_nodes": [f"{n}/{CLIP_SUFFIX}" for n in self.relu6_replaced]
            if self.relu6 == "clip"
            else [],
            "sweeps": self.sweeps,
            "pairs": self.pairs,
            "skipped": self.skipped,
        }


def equalize_weights(
    weights: dict[str, np.ndarray],
    pairs: list[Pair],
    relu6: str = "clip",
    max_sweeps: int = 50,
    tol: float = 1e-6,
) -> tuple[dict[str, np.ndarray], list[Pair], EqualizeReport]:
    """Rescaled copies of the pairs' weights (others untouched): (weights, equalized pairs, report).
    Depthwise layers with a channel multiplier other than 1 and mismatched channel counts are
    skipped; so are pairs whose first layer's activation is not positively homogeneous (ReLU6 with
    relu6='skip', anything else always)."""
    if relu6 not in RELU6_MODES:
        raise QuantlabError(f"--relu6 {relu6!r}: valid: {', '.join(RELU6_MODES)}", exit_code=2)
    # float32 copies of float tensors; int32 ones (Reshape shapes, Pad paddings) keep their dtype,
    # or the writer would store them as float32 and uint8 would round a shape of 16 to 16.02.
    w = {
        k: np.array(v, dtype=np.float32 if np.asarray(v).dtype.kind == "f" else None)
        for k, v in weights.items()
    }
    usable, skipped = [], []
    for p in pairs:
        a, b = w[p.first.kernel], w[p.second.kernel]
        why = None
        if a.ndim != 4 or b.ndim != 4:
            why = "kernels are not 4-D"
        elif (p.first.depthwise and a.shape[3] != 1) or (p.second.depthwise and b.shape[3] != 1):
            why = "depthwise channel multiplier is not 1"
        elif (a.shape[2] * a.shape[3] if p.first.depthwise else a.shape[3]) != b.shape[2]:
            why = "channel counts differ"
        elif p.first.activation not in HOMOGENEOUS and not (
            p.first.activation == "Relu6" and relu6 != "skip"
        ):
            why = f"activation {p.first.activation} in between cannot be rescaled exactly"
        if why:
            skipped.append({"first": p.first.short, "second": p.second.short, "why": why})
        else:
            usable.append(p)
    before = {p.first.kernel: _spread(_out_ranges(w[p.first.kernel], p.first.depthwise)) for p in usable}
    before |= {p.second.kernel: _spread(_out_ranges(w[p.second.kernel], p.second.depthwise)) for p in usable}
    total = {id(p): np.ones(w[p.second.kernel].shape[2], np.float64) for p in usable}
    # The first layer's bias is divided by s too, and it is quantized on its own per-tensor grid:
    # s_i >= |b_i| / max|b| keeps that grid's range (without it, near-constant channels with
    # tiny kernels took biases of 1e5, beyond even float16).
    bias_range = {p.first.bias: float(np.abs(w[p.first.bias]).max()) for p in usable if p.first.bias}
    sweeps = 0
    for sweeps in range(1, max_sweeps + 1):  # noqa: B007 (reported)
        worst = 0.0
        for p in usable:
            k1, k2 = w[p.first.kernel], w[p.second.kernel]
            r1 = _out_ranges(k1, p.first.depthwise).astype(np.float64)
            r2 = _in_ranges(k2, p.second.depthwise).astype(np.float64)
            ok = (r1 > 0) & (r2 > 0)
            s = np.ones_like(r1)
            s[ok] = np.sqrt(r1[ok] / r2[ok])
            if p.first.bias and bias_range[p.first.bias] > 0:
                s = np.maximum(s, np.abs(w[p.first.bias]).astype(np.float64) / bias_range[p.first.bias])
            worst = max(worst, float(np.abs(np.log(s)).max()) if s.size else 0.0)
            total[id(p)] *= s
            s32 = s.astype(np.float32)
            if p.first.depthwise:
                w[p.first.kernel] = (k1 / s32.reshape(k1.shape[2], k1.shape[3])).astype(np.float32)
            else:
                w[p.first.kernel] = (k1 / s32).astype(np.float32)
            if p.first.bias:
                w[p.first.bias] = (w[p.first.bias] / s32).astype(np.float32)
            w[p.second.kernel] = (k2 * s32.reshape(1, 1, -1, 1)).astype(np.float32)
        if worst < tol:
            break
    rows = []
    for p in usable:
        t = total[id(p)]
        rows.append(
            {
                "first": p.first.short,
                "second": p.second.short,
                "via": [short_name(v) for v in p.via],
                "activation": p.first.activation,
                "scale_min": float(t.min()),
                "scale_max": float(t.max()),
                "first_spread_before": before[p.first.kernel],
                "first_spread_after": _spread(_out_ranges(w[p.first.kernel], p.first.depthwise)),
                "second_spread_before": before[p.second.kernel],
                "second_spread_after": _spread(_out_ranges(w[p.second.kernel], p.second.depthwise)),
            }
        )
    replaced = [p.first.node for p in usable if p.first.activation == "Relu6" and relu6 in ("relu", "clip")]
    report = EqualizeReport(rows, skipped, relu6, [short_name(n) for n in replaced], sweeps)
    report.scales = {p.first.node: total[id(p)] for p in usable}
    return w, usable, report


def snap_clips(weights: dict[str, np.ndarray], pairs: list[Pair], report: EqualizeReport) -> None:
    """Choose each ReLU6 pair's s_i so that the clip constants c_i = 6 / s_i lie exactly on their
    own per-tensor uint8 grid (and so on uint16's, which contains it): any s_i > 0 keeps the model
    exact, while a clip rounded by quantization would move that channel's ReLU6 threshold by up
    to s_i * step / 2 (and a small c_i rounded down to the grid's floor would all but switch the
    channel off). c_i is rounded *up* to the grid, so s_i only ever shrinks: a channel whose
    first layer is near zero (s_i up to 1e10 in MobileNetV2) gets s_i <= 6 / step, which also
    bounds how far its second-layer weights grow. The extra factor t_i = c_i / c'_i is applied
    like s_i (in place). Measured: on the tiny test chain it halves uint8's error; on MobileNetV2
    it made uint8 worse (feature cosine 0.911 vs 0.927 unsnapped), so it is off by default."""
    from ..tfjs.quantization import dequantize, quantize_affine

    for p in pairs:
        s = report.scales.get(p.first.node)
        if s is None or p.first.activation != "Relu6":
            continue
        c = (6.0 / s).astype(np.float32)
        _, lo, step = quantize_affine(c, "uint8")
        q = np.clip(np.ceil((c.astype(np.float64) - lo) / step - 1e-6), 0, 255).astype(np.uint8)
        snapped = dequantize(q, lo, step).astype(np.float64)
        t = c.astype(np.float64) / np.maximum(snapped, np.finfo(np.float32).tiny)
        t32 = t.astype(np.float32)
        k1 = weights[p.first.kernel]
        if p.first.depthwise:
            weights[p.first.kernel] = (k1 / t32.reshape(k1.shape[2], k1.shape[3])).astype(np.float32)
        else:
            weights[p.first.kernel] = (k1 / t32).astype(np.float32)
        if p.first.bias:
            weights[p.first.bias] = (weights[p.first.bias] / t32).astype(np.float32)
        weights[p.second.kernel] = (weights[p.second.kernel] * t32.reshape(1, 1, -1, 1)).astype(np.float32)
        report.scales[p.first.node] = s * t
    report.snapped = True


CONTROL_FLOW_OPS = frozenset(
    {"Enter", "Exit", "Merge", "Switch", "NextIteration", "LoopCond", "While", "StatelessWhile",
     "If", "StatelessIf", "Case", "StatelessCase"}
)  # fmt: skip


def control_flow_ops(model_json: dict) -> list[str]:
    """The control-flow ops of a graph model, in its top-level nodes and its function library."""
    topology = model_json.get("modelTopology") or {}
    nodes = list(topology.get("node") or [])
    for fn in (topology.get("library") or {}).get("function") or []:
        nodes += fn.get("nodeDef") or []
    return sorted({n.get("op") for n in nodes if n.get("op") in CONTROL_FLOW_OPS})


def equalize_artifact(
    src: Path, dest: Path, relu6: str = "clip", snap: bool = False, named: Path | None = None
) -> EqualizeReport | None:
    """Equalize the float32 graph model at `src` into `dest` (atomically). None, with nothing
    written, when the model has no equalizable pairs."""
    from ..sources import tfjs_model_format
    from .requantize import read_weight_groups, write_artifact

    model_json, groups = read_weight_groups(src)
    if tfjs_model_format(model_json) != "graph":
        raise QuantlabError(
            f"{src}: equalize works on tfjs graph models (BatchNorm folded, pairs found in "
            f"modelTopology.node); convert a Keras model with --output-format graph",
            exit_code=2,
        )
    flow = control_flow_ops(model_json)
    if flow:
        raise QuantlabError(
            f"{named or src}: a graph with control flow ({', '.join(flow)}): equalize rescales straight-line "
            f"conv chains only, not layers inside or across loops and conditionals; nothing written",
            exit_code=2,
        )
    weights = {e["name"]: e["data"] for g in groups for e in g}
    pairs = find_pairs(model_json)
    new, usable, report = equalize_weights(weights, pairs, relu6)
    if not usable:
        return None
    if any(w.get("quantization") for g in model_json["weightsManifest"] for w in g["weights"]):
        raise QuantlabError(
            f"{src}: its weights are already quantized; equalize the float32 model, then quantize",
            exit_code=2,
        )
    out_groups = [[dict(e, data=new[e["name"]]) for e in g] for g in groups]
    out_json = model_json
    if relu6 in ("relu", "clip"):
        out_json = replace_relu6(model_json, [p.first.node for p in usable])
    if relu6 == "clip":
        if snap:
            snap_clips(new, usable, report)
            out_groups = [[dict(e, data=new[e["name"]]) for e in g] for g in groups]
        relu6_nodes = {p.first.node for p in usable if p.first.activation == "Relu6"}
        scales = {n: s for n, s in report.scales.items() if n in relu6_nodes}
        out_json, clips = add_relu6_clips(out_json, scales)
        out_groups[-1] = out_groups[-1] + [{"name": k, "data": v} for k, v in clips.items()]
    write_artifact(Path(dest), out_json, out_groups)
    return report
