"""Constants are not weights: non-finite values a graph uses on purpose stay float32, unquantized.

A shipped graph stores every tensor as a Const, learned or not: a non-max-suppression score
threshold of -Inf (faceboxes), -Inf padding values and masks are as legitimate as a kernel. A
per-tensor affine grid over -Inf is meaningless (min = -Inf), and a NaN/Inf check that cannot
tell them from a diverged kernel refuses a model stock tfjs runs. So: a tensor holding NaN/Inf
that no learned-weight op reads (convolution/matmul kernels, biases, batch-norm parameters,
PReLU alphas) is a constant: kept float32 in every variant and listed. NaN/Inf in a learned
weight (and in any layers-model weight, all of which are learned) still stops the run, unless
the user says to go on."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from .graph_topology import KERNEL_OPS, const_consumers, is_graph

# Ops whose constant inputs are learned parameters (beyond the kernels in KERNEL_OPS).
_LEARNED_INPUT_OPS = frozenset(
    {"BiasAdd", "FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3", "Prelu", "_FusedConv2D",
     "FusedDepthwiseConv2dNative", "_FusedMatMul"}
)  # fmt: skip


def _learned(consumers: list[tuple[str, int]]) -> bool:
    return any(op in KERNEL_OPS or op in _LEARNED_INPUT_OPS for op, _ in consumers)


def nonfinite_tensors(named_arrays: Iterable[tuple[str, np.ndarray]]) -> dict[str, int]:
    """Tensor name -> number of NaN/Inf values, for float tensors that hold any."""
    out = {}
    for name, values in named_arrays:
        a = np.asarray(values)
        if np.issubdtype(a.dtype, np.floating):
            n = int(np.count_nonzero(~np.isfinite(a)))
            if n:
                out[name] = n
    return out


def split_nonfinite(
    model_json: dict, named_arrays: Iterable[tuple[str, np.ndarray]]
) -> tuple[dict[str, dict], dict[str, int]]:
    """(constants, weights) among the tensors holding NaN/Inf: constants {name: {"values": [...]
    (up to 4 distinct), "read_by": [ops]}} are what the graph uses on purpose; weights {name:
    count} are learned parameters (every layers-model weight is)."""
    named = [(n, np.asarray(v)) for n, v in named_arrays]
    bad = nonfinite_tensors(named)
    if not bad:
        return {}, {}
    if not is_graph(model_json):
        return {}, bad
    consumers = const_consumers(model_json)
    arrays = dict(named)
    constants, weights = {}, {}
    for name, count in bad.items():
        readers = consumers.get(name, [])
        if _learned(readers):
            weights[name] = count
        else:
            odd = np.unique(arrays[name][~np.isfinite(arrays[name])])[:4]
            constants[name] = {
                "values": [str(float(v)) for v in odd],
                "count": count,
                "read_by": sorted({op for op, _ in readers}),
            }
    return constants, weights
