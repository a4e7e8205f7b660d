"""Per-tensor weight error, read from the artifacts themselves (manifest + shards): what each
quantized tensor lost against the float32 artifact, worst first. For BatchNorm layers also the
error of the effective multiplier gamma / sqrt(moving_variance + epsilon), which per-tensor
figures hide: a tiny variance rounded onto a coarse grid (DESIGN 2.6)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..metrics import error_stats
from ..tfjs.artifacts import Artifact, read_artifact, topology_layers
from ..tfjs.graph_topology import depthwise_weights, kernel_weights
from ..tfjs.quantization import dequantize

_NUMPY = {"float32": "<f4", "int32": "<i4", "uint8": "u1", "uint16": "<u2", "float16": "<f2"}


def read_weights(art: Artifact) -> dict[str, np.ndarray]:
    """Every weight, dequantized as tfjs-core does at load time (v * scale + min; float16 cast)."""
    out: dict[str, np.ndarray] = {}
    groups: dict[int, list] = {}
    for w in art.weights:
        groups.setdefault(w.shard_group, []).append(w)
    manifest = art.model_json["weightsManifest"]
    for g, entries in groups.items():
        blob = b"".join((art.folder / p).read_bytes() for p in manifest[g]["paths"])
        offset = 0
        for w in entries:
            count = int(np.prod(w.shape, dtype=np.int64))
            raw = np.frombuffer(blob, _NUMPY[w.stored_dtype], count, offset)
            offset += w.nbytes
            q = w.quantization
            if q and q["dtype"] in ("uint8", "uint16"):
                values = dequantize(raw, q["min"], q["scale"])
            else:
                values = raw.astype(np.float32)
            out[w.name] = values.reshape(w.shape)
    return out


def batchnorm_layers(art: Artifact) -> dict[str, float]:
    """BatchNormalization layer name -> epsilon, from the model topology (as Python's converter or
    tfjs itself saved it; nested models included)."""
    return {
        la["config"]["name"]: float(la["config"].get("epsilon", 1e-3))
        for la in topology_layers(art.model_json)
        if la.get("class_name") == "BatchNormalization"
    }


def _bn_multiplier(weights: dict[str, np.ndarray], layer: str, eps: float) -> np.ndarray:
    """gamma / sqrt(moving_variance + epsilon): the factor BatchNorm applies at inference."""
    gamma = weights.get(f"{layer}/gamma", np.float32(1.0))
    return gamma / np.sqrt(weights[f"{layer}/moving_variance"] + eps)


def channel_ranges(name: str, values: np.ndarray, depthwise: bool | None = None) -> np.ndarray | None:
    """max - min per output channel, or None for tensors without channels (biases, BatchNorm
    vectors, scalars). Output channel = last axis for conv/dense kernels ([h, w, in, out],
    [in, out]); a depthwise kernel [h, w, in, mult] has in * mult output channels. `depthwise`:
    whether it is one (tfjs.graph_topology.depthwise_weights knows); None guesses from the name."""
    if values.ndim < 2 or values.size == 0:
        return None
    if depthwise is None:
        depthwise = "depthwise" in name.lower()
    if values.ndim == 4 and depthwise:
        flat = values.reshape(-1, values.shape[2] * values.shape[3])
    else:
        flat = values.reshape(-1, values.shape[-1])
    if flat.shape[1] < 2:
        return None
    with np.errstate(invalid="ignore"):
        return (flat.max(axis=0) - flat.min(axis=0)).astype(np.float64)


# A channel is dead (an all-zero or constant filter) when its range is under this share of the
# tensor's widest channel: it holds nothing a grid could lose, and would make spreads of 1e13x.
DEAD_CHANNEL = 1e-6


def channel_spread(name: str, values: np.ndarray, kernel: bool = True, depthwise: bool | None = None) -> dict:
    """Why a per-tensor grid fails a kernel: `channel_spread` = widest / narrowest live
    output-channel range (None when fewer than 2 are live), `median_channel_share` = median live
    channel range / tensor range, the share of the uint8 grid's 256 levels that a typical channel
    gets; `n_dead_channels` = channels left out of both, whose range is 0 or under DEAD_CHANNEL of
    the widest. All None for tensors without output channels, and for non-kernels (`kernel`
    False: biases, PReLU alphas, BatchNorm vectors, whatever their shape)."""
    empty = {
        "n_channels": None,
        "n_dead_channels": None,
        "channel_spread": None,
        "median_channel_share": None,
    }
    ranges = channel_ranges(name, values, depthwise) if kernel else None
    if ranges is None or not np.all(np.isfinite(ranges)):
        return empty
    whole = float(values.max()) - float(values.min())
    live = ranges[(ranges > 0) & (ranges >= DEAD_CHANNEL * ranges.max())]
    return {
        "n_channels": int(ranges.size),
        "n_dead_channels": int(ranges.size - live.size),
        "channel_spread": float(live.max() / live.min()) if live.size >= 2 else None,
        "median_channel_share": float(np.median(live) / whole) if whole > 0 and live.size else None,
    }


# A tensor "breaks" on a per-tensor grid when its median channel gets under this share of the levels
# (under 26 of uint8's 256): what DESIGN 2.7 found behind the graph MobileNetV2's collapse.
BREAK_SHARE = 0.1


def diagnosis(variant: str, rows: list[dict], share: float = BREAK_SHARE, named: int = 3) -> str | None:
    """One line: which affine-quantized tensors break on the per-tensor grid and why, narrowest
    median channel first; None when none does (or the variant is not uint8/uint16)."""
    broken = [
        r
        for r in rows
        if r.get("dtype") in ("uint8", "uint16")
        and r.get("median_channel_share") is not None
        and r["median_channel_share"] < share
    ]
    if not broken:
        return None
    broken.sort(key=lambda r: r["median_channel_share"])
    levels = 256 if broken[0]["dtype"] == "uint8" else 65536
    parts = []
    for r in broken[:named]:
        spread = r.get("channel_spread")
        why = f"; channel ranges differ {spread:.0f}x" if spread else ""
        share_pct = 100 * r["median_channel_share"]
        uses = f"median channel uses {share_pct:.1f}% of the {levels} levels"
        parts.append(f"{r['name']} ({uses}{why})")
    more = f", and {len(broken) - named} more tensors under {share:.0%}" if len(broken) > named else ""
    return f"{variant} breaks " + ", ".join(parts) + more


def nonfinite_count(row: dict, prefix: str = "") -> int:
    """NaN/Inf values of a row's tensor, in the variant or in the float32 artifact."""
    return row[f"{prefix}nonfinite"] + row[f"{prefix}nonfinite_reference"]


def _worst_first(row: dict, prefix: str = "", badness: float | None = None) -> tuple:
    """Sort key: tensors holding NaN/Inf first (most first; their error figures are NaN, which
    sorts nowhere), then by `badness` (default: the SQNR, lowest first)."""
    bad = nonfinite_count(row, prefix)
    if bad:
        return (0, -bad)
    return (1, row[f"{prefix}sqnr_db"] if badness is None else badness)


def tensor_errors(float32_dir: Path, variant_dir: Path, histogram_top: int = 4, bins: int = 60) -> dict:
    """Rows per tensor (worst SQNR first), BatchNorm multiplier rows, histograms of the worst.
    A tensor with NaN/Inf values, in the variant (`nonfinite`: e.g. float32 values beyond float16's
    65504 became Inf) or in the float32 artifact (`nonfinite_reference`), comes first with NaN
    error figures, never as a perfect SQNR."""
    ref_art, q_art = read_artifact(float32_dir), read_artifact(variant_dir)
    ref, quant = read_weights(ref_art), read_weights(q_art)
    kernels, depthwise = kernel_weights(ref_art.model_json), depthwise_weights(ref_art.model_json)
    entries = {w.name: w for w in q_art.weights}
    rows = []
    for name, r in ref.items():
        q, qinfo = quant[name], entries[name].quantization or {}
        rows.append(
            {
                "name": name,
                "layer": entries[name].layer,
                "shape": list(r.shape),
                "dtype": qinfo.get("dtype", "float32"),
                "min": float(r.min()) if r.size else 0.0,
                "max": float(r.max()) if r.size else 0.0,
                "scale": qinfo.get("scale"),
                **error_stats(q, r),
                **channel_spread(name, r, name in kernels, name in depthwise),
            }
        )
    rows.sort(key=_worst_first)
    bn_rows = []
    for layer, eps in batchnorm_layers(ref_art).items():
        var_name = f"{layer}/moving_variance"
        if var_name not in ref:
            continue
        m_ref, m_q = (_bn_multiplier(w, layer, eps) for w in (ref, quant))
        rel = np.abs(m_q - m_ref) / np.maximum(np.abs(m_ref), 1e-12)
        bn_rows.append(
            {
                "layer": layer,
                "epsilon": eps,
                "variance_min": float(ref[var_name].min()),
                "variance_max": float(ref[var_name].max()),
                "multiplier_max_rel_error": float(rel.max()),
                "multiplier_mean_rel_error": float(rel.mean()),
                **{f"multiplier_{k}": v for k, v in error_stats(m_q, m_ref).items()},
            }
        )
    bn_rows.sort(key=lambda row: _worst_first(row, "multiplier_", -row["multiplier_max_rel_error"]))
    histograms = []
    for row in rows[:histogram_top]:
        values = ref[row["name"]].ravel()
        values = values[np.isfinite(values)]  # np.histogram refuses NaN/Inf; those rows say how many
        if not values.size:
            continue
        counts, edges = np.histogram(values, bins=bins)
        q = entries[row["name"]].quantization or {}
        grid = None
        if q.get("dtype") in ("uint8", "uint16") and q.get("scale"):
            levels = np.arange(256 if q["dtype"] == "uint8" else 65536) * q["scale"] + q["min"]
            grid = levels[(levels >= edges[0]) & (levels <= edges[-1])][:512].tolist()
        histograms.append(
            {"name": row["name"], "counts": counts.tolist(), "edges": edges.tolist(), "grid": grid}
        )
    return {
        "variant": variant_dir.name,
        "tensors": rows,
        "batchnorm": bn_rows,
        "histograms": histograms,
        "diagnosis": diagnosis(variant_dir.name, rows),
    }


def weights_section(models_root: Path, variants, top: int = 15, references: dict | None = None) -> dict:
    """For results.json: each quantized variant's worst tensors and BatchNorm multipliers, against
    the float32 variant, or against `references[variant]` (e.g. an equalized float32 model for
    its own quantized variant; a variant mapped to None is left out)."""
    section = {}
    references = references or {}
    for v in variants:
        ref = references.get(v, "float32")
        if v == "float32" or ref is None:
            continue
        full = tensor_errors(Path(models_root) / ref, Path(models_root) / v)
        section[v] = {
            "n_tensors": len(full["tensors"]),
            "tensors": full["tensors"][:top],
            "batchnorm": full["batchnorm"][:top],
            "histograms": full["histograms"],
            "diagnosis": full["diagnosis"],
        }
    return section
