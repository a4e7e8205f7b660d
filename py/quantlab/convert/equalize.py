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

import base64
import copy
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ArtifactError, QuantlabError
from ..infra.fsutil import atomic_dir

CONV_OPS = {"Conv2D", "_FusedConv2D"}
DEPTHWISE_OPS = {"DepthwiseConv2dNative", "FusedDepthwiseConv2dNative"}
HOMOGENEOUS = {None, "Relu"}  # g(z / s) * s == g(z) for s > 0
RELU6_MODES = ("clip", "relu", "keep", "skip")
CLIP_SUFFIX = "equalize_relu6_clip"  # Const 6 / s per channel, and the Minimum node that applies it


def _decode(s: str) -> str:
    return base64.b64decode(s).decode()


def _encode(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


def _input_name(ref: str) -> str:
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
        return _short(self.node)


def _short(node: str) -> str:
    """'.../block_3_depthwise/depthwise' -> 'block_3_depthwise' (the Keras layer's name)."""
    parts = node.split("/")
    return parts[-2] if len(parts) > 1 else parts[-1]


@dataclass
class Pair:
    first: Layer
    second: Layer
    via: list[str] = field(default_factory=list)  # zero Pad nodes in between


def _fused_ops(node: dict) -> list[str]:
    return [_decode(s) for s in node.get("attr", {}).get("fused_ops", {}).get("list", {}).get("s", [])]


def _layer(node: dict, consts: set[str]) -> Layer | None:
    op = node.get("op")
    if op not in CONV_OPS | DEPTHWISE_OPS:
        return None
    inputs = [_input_name(i) for i in node.get("input", []) if not i.startswith("^")]
    if len(inputs) < 2 or inputs[1] not in consts:
        return None
    fused = _fused_ops(node)
    bias = None
    activation = None
    if fused:
        if fused[0] != "BiasAdd" or len(inputs) < 3 or inputs[2] not in consts or len(fused) > 2:
            return None
        bias = inputs[2]
        activation = fused[1] if len(fused) == 2 else None
    return Layer(node["name"], op, inputs[1], bias, activation)


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
            consumers.setdefault(_input_name(ref), []).append(n["name"])
    outputs = {_input_name(o) for o in _signature_outputs(model_json)}
    pairs = []
    for n in nodes:
        first = _layer(n, consts)
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
            second = _layer(nxt, consts)
            if second is not None and [_input_name(i) for i in nxt["input"]][0] == name:
                pairs.append(Pair(first, second, via))
            break
    return pairs


def _signature_outputs(model_json: dict) -> list[str]:
    sig = model_json.get("signature") or model_json.get("userDefinedMetadata", {}).get("signature") or {}
    return [v.get("name", "") for v in (sig.get("outputs") or {}).values()]


def _zero_pad(node: dict, by_name: dict) -> bool:
    """A plain Pad (constant 0; PadV2 and MirrorPad are left out) over the spatial dims."""
    return node.get("op") == "Pad" and len(node.get("input", [])) == 2


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
                "via": [_short(v) for v in p.via],
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
    report = EqualizeReport(rows, skipped, relu6, [_short(n) for n in replaced], sweeps)
    report.scales = {p.first.node: total[id(p)] for p in usable}
    return w, usable, report


def replace_relu6(model_json: dict, nodes: list[str]) -> dict:
    """A copy of model.json with the fused Relu6 of `nodes` made Relu (DFQ's choice)."""
    out = copy.deepcopy(model_json)
    wanted = set(nodes)
    for n in out["modelTopology"]["node"]:
        fused = n.get("attr", {}).get("fused_ops", {}).get("list", {})
        if n["name"] in wanted and fused.get("s"):  # a conv with no fused activation has none to change
            fused["s"] = [_encode("Relu") if _decode(s) == "Relu6" else s for s in fused["s"]]
    return out


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
            (("^" if ref.startswith("^") else "") + renamed[_input_name(ref)])
            if _input_name(ref) in renamed
            else ref
            for ref in n.get("input", [])
        ]
    return out, consts


# TensorFlow's control-flow ops (v1 dataflow and v2 functional) as the converter writes them.
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


# ---- quantlab equalize: convert if needed, equalize, measure the float32 change, write or refuse


def _fidelity(y: np.ndarray, ref: np.ndarray) -> dict:
    a, b = y.reshape(len(y), -1).astype(np.float64), ref.reshape(len(ref), -1).astype(np.float64)
    num = (a * b).sum(axis=1)
    den = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    cos = np.where(den > 0, num / np.where(den > 0, den, 1), 1.0)
    ref_norm = float(np.linalg.norm(b))
    return {
        "rel_l2": float(np.linalg.norm(a - b) / ref_norm) if ref_norm > 0 else float(np.linalg.norm(a - b)),
        "cosine_mean": float(cos.mean()),
        "cosine_min": float(cos.min()),
        "max_abs": float(np.abs(a - b).max()),
    }


def measure(
    runtime, variants: dict[str, Path], inputs, batch_size: int = 32, fixed: int | None = None
) -> dict[str, list[np.ndarray]]:
    """Outputs of each artifact on the same inputs, in one tfjs runtime (`fixed`: the model's
    fixed batch size: whole batches, the padding's outputs dropped)."""
    from ..analysis.evaluate import pad_to
    from ..runtimes.base import n_examples

    def run(model, x):
        n = n_examples(x)
        outs = runtime.predict(model, pad_to(x, fixed) if fixed else x, batch_size=fixed or batch_size)[0]
        return [o[:n] for o in outs]

    outs = {}
    for name, folder in variants.items():
        model = runtime.load(folder)
        chunks = [run(model, x) for x in inputs.chunks(256)]
        outs[name] = [np.concatenate([c[k] for c in chunks]) for k in range(len(chunks[0]))]
        runtime.unload(model)
    return outs


def compare(outs: dict[str, list[np.ndarray]]) -> dict:
    """Every variant against the original float32, by its worst output (quantlab.judge: each
    output by its kind, the lowest score): that output's cosine and errors, which one it is, and
    the largest relative L2 of any output (what --tolerance bounds)."""
    from ..judge import judge, worst

    ref = outs["float32"]
    out = {}
    for name, o in outs.items():
        if name == "float32":
            continue
        per = {f"output {k}": judge(y, r) for k, (y, r) in enumerate(zip(o, ref, strict=True))}
        k = list(per).index(worst(per) or "output 0")
        figures = [_fidelity(y, r) for y, r in zip(o, ref, strict=True)]
        out[name] = figures[k] | {
            "output_index": k,
            "output_kind": per[f"output {k}"]["kind"],
            "rel_l2_max": max(f["rel_l2"] for f in figures),
        }
    return out


def changed_layers(report: EqualizeReport) -> list[str]:
    """The layers whose float32 function equalization may change (a ReLU6 in between, unless
    relu6='clip' made it exact)."""
    if report.relu6 == "clip":
        return []
    return [
        f"{p['first']} (scales {p['scale_min']:.3g}..{p['scale_max']:.3g})"
        for p in report.pairs
        if p["activation"] == "Relu6"
    ]


REPORT_FILE = "equalize.json"


def _check_out(out: Path, source_path: Path) -> None:
    out = Path(out)
    if out.resolve() == Path(source_path).resolve():
        raise QuantlabError(f"--out {out}: is MODEL itself; choose another folder", exit_code=2)
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / REPORT_FILE).is_file())):
        raise QuantlabError(
            f"--out {out}: exists and is not an equalized model quantlab wrote; choose another folder",
            exit_code=2,
        )


def run_equalize(
    source,
    out: Path,
    input_opts,
    relu6: str = "clip",
    tolerance: float = 1e-4,
    force: bool = False,
    runtime_name: str = "node-wasm",
    timeout: float = 600.0,
    snap: bool = False,
    bias_correction: str | None = None,
    calibration: int = 64,
) -> dict:
    """`quantlab equalize`: MODEL (any source; converted to a float32 graph model first) ->
    equalized float32 graph model at `out`, with `out/equalize.json`. The float32 change and
    the uint8 error before/after are measured in tfjs on `input_opts`' inputs; with
    `bias_correction` (a dtype) the equalized model's biases are then corrected for it, calibrated
    on `calibration` evenly spaced inputs, and uint8_after is that model's. Returns the record;
    status "no-pairs" (nothing written) or "written"; raises (exit 6) when the float32 outputs
    move more than `tolerance` (relative L2) unless `force`."""
    import shutil
    import tempfile

    from ..analysis.analyze import _specs, fixed_batch
    from ..infra.fsutil import write_json_atomic
    from ..inputs import load_inputs
    from ..runtimes import make_runtime
    from .requantize import requantize
    from .source import write_float32

    _check_out(out, source.path)
    if source.format == "tfjs-layers":  # tfjs keeps a model's format: there is no graph to make from it
        raise QuantlabError(
            f"{source.model_json}: a tfjs layers model; equalize works on graph models (BatchNorm folded "
            "into the convolutions): give it the Keras .h5/.keras or SavedModel the layers model came from",
            exit_code=2,
        )
    with tempfile.TemporaryDirectory(prefix="quantlab-equalize-") as tmp_name:
        tmp = Path(tmp_name)
        made = None
        as_is = source.model_json is not None and source.model_json.name == "model.json"
        if source.format == "tfjs-graph" and as_is and not source.detail.startswith("already quantized"):
            src = source.path
        else:
            made = write_float32(source, tmp / "float32", "graph")
            src = tmp / "float32"
        report = equalize_artifact(src, tmp / "equalized", relu6, snap, named=source.path)
        record: dict = {"model": str(source.path), "format": source.format, "converted": made}
        if report is None:
            n = len(find_pairs(json.loads((src / "model.json").read_text())))
            record |= {"status": "no-pairs", "pairs_found": n}
            return record
        requantize(src, tmp / "uint8", {"uint8": True})
        requantize(tmp / "equalized", tmp / "equalized_uint8", {"uint8": True})
        variants = {
            "float32": src,
            "equalized": tmp / "equalized",
            "uint8": tmp / "uint8",
            "equalized_uint8": tmp / "equalized_uint8",
        }
        written = tmp / "equalized"
        with make_runtime(runtime_name, timeout=timeout) as runtime:
            loaded = runtime.load(src)
            specs = _specs(loaded)
            runtime.unload(loaded)
            inputs = load_inputs(specs, input_opts)
            bc = None
            if bias_correction:
                from .bias_correction import bias_correct_artifact, calibration_chunks

                written = tmp / "bias_corrected"
                bc = bias_correct_artifact(
                    tmp / "equalized",
                    written,
                    runtime,
                    calibration_chunks(inputs, calibration),
                    bias_correction,
                )
                requantize(written, tmp / "bc_uint8", {"uint8": True})
                variants |= {"bias_corrected": written, "bc_uint8": tmp / "bc_uint8"}
            outs = measure(runtime, variants, inputs, fixed=fixed_batch(specs))
        fid = compare(outs)
        record |= {
            "status": "written",
            "equalization": report.as_dict(),
            "inputs": inputs.description | {"n": inputs.n},
            "runtime": runtime_name,
            "float32_change": fid["equalized"],
            "uint8_before": fid["uint8"],
            "uint8_after": fid["bc_uint8" if bc else "equalized_uint8"],
            "tolerance_rel_l2": tolerance,
            "forced": False,
        }
        if bc:
            record |= {
                "bias_correction": bc.as_dict(),
                "uint8_after_equalization_only": fid["equalized_uint8"],
                "float32_change_bias_corrected": fid["bias_corrected"],
            }
        change = fid["equalized"]["rel_l2_max"]
        if not change <= tolerance:
            layers = changed_layers(report)
            named = ", ".join(layers[:6]) + (f" and {len(layers) - 6} more" if len(layers) > 6 else "")
            if not force:
                raise QuantlabError(
                    f"equalization changes the float32 outputs by {change:.3g} (relative L2; cosine "
                    f"min {fid['equalized']['cosine_min']:.6f}) > --tolerance {tolerance:g}; "
                    + (
                        f"the ReLU6 of {named} became ReLU (--relu6 {relu6}); "
                        if layers and relu6 == "relu"
                        else (f"the ReLU6 clip moves in {named}; " if layers else "")
                    )
                    + "nothing written (--force writes it anyway, --relu6 skip keeps float32 exact)",
                    exit_code=6,
                )
            record["forced"] = True
        with atomic_dir(Path(out)) as dest:
            for f in written.iterdir():
                shutil.copy2(f, dest / f.name)
            write_json_atomic(dest / REPORT_FILE, record)
    return record
