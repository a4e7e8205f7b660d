"""Parity's comparison of outputs: a runtime's outputs against the reference's, every output of
a multi-output model (an element fails only past both atol and rtol, so a pair passes only when
every output does; `stats` over all outputs flattened and concatenated per example, `outputs`
each output's own), outputs put in the reference's order by name, and the first layer out of
tolerance of a failing pair of layers models (`localise`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..metrics import parity_stats, within_tolerance
from ..runtimes.base import Inputs, LoadedModel, Runtime, n_examples


@dataclass
class PairResult:
    variant: str
    kind: str  # "runtime" or "quantization"
    actual: str
    reference: str
    stats: dict
    passed: bool | None  # None: informational (quantization of a quantized variant)
    n_failing: int = 0
    first_bad_layer: dict | None = None
    timings: dict = field(default_factory=dict)
    outputs: dict | None = None  # multi-output models: {output name: stats}

    def as_dict(self) -> dict:
        d = dict(self.__dict__)
        if d["outputs"] is None:
            del d["outputs"]
        return d


def _layer_names(loaded: LoadedModel) -> list[str]:
    return [la["name"] for la in loaded.layers if la["class_name"] != "InputLayer"]


def localisable(a: LoadedModel, b: LoadedModel) -> bool:
    return a.format == "layers" and b.format == "layers" and bool(a.layers) and bool(b.layers)


def localise(
    runtime: Runtime,
    loaded: LoadedModel,
    ref_runtime: Runtime,
    ref_loaded: LoadedModel,
    x: Inputs,
    atol: float,
    rtol: float,
) -> dict | None:
    """Run every layer's output in both and return the first layer out of tolerance."""
    names = _layer_names(ref_loaded)
    n = n_examples(x)
    actual, _ = runtime.predict(loaded, x, batch_size=n, layers=names)
    expected, _ = ref_runtime.predict(ref_loaded, x, batch_size=n, layers=names)
    for name, a, e in zip(names, actual, expected, strict=True):
        ok, n_bad = within_tolerance(a, e, atol, rtol)
        if not ok:
            return {"layer": name, "n_failing": n_bad, **parity_stats(a, e)}
    return None


def align(outputs: list[np.ndarray], names: list, to: list) -> list[np.ndarray]:
    """`outputs` (named `names`) reordered to the order of names `to`, when both name every
    output and they are the same set; else as they are (same order assumed)."""
    if len(names) == len(to) == len(outputs) and all(names) and all(to) and set(names) == set(to):
        index = {n: k for k, n in enumerate(names)}
        return [outputs[index[n]] for n in to]
    return outputs


def compare_outputs(
    actual: list[np.ndarray], reference: list[np.ndarray], names: list[str], atol: float, rtol: float
) -> tuple[dict, bool, int, dict | None]:
    """(stats, passed, failing elements, per-output stats or None) over every output."""
    if len(actual) != len(reference):
        raise ValueError(f"{len(actual)} outputs against {len(reference)} in the reference")
    if len(actual) == 1:
        ok, n_bad = within_tolerance(actual[0], reference[0], atol, rtol)
        return parity_stats(actual[0], reference[0]), ok, n_bad, None

    def flat(outs):
        return np.concatenate([o.reshape(len(o), -1) for o in outs], axis=1)

    ok, n_bad = within_tolerance(flat(actual), flat(reference), atol, rtol)
    stats = parity_stats(flat(actual), flat(reference))
    for key in ("cosine_mean", "cosine_min", "top1_agreement"):  # they would mix outputs
        stats.pop(key, None)
    labels = (
        names if len(names) == len(actual) and all(names) else [f"output_{k}" for k in range(len(actual))]
    )
    per_output = {}
    for name, a, r in zip(labels, actual, reference, strict=True):
        ok_k, bad_k = within_tolerance(a, r, atol, rtol)
        per_output[name] = {**parity_stats(a, r), "passed": ok_k, "n_failing": bad_k}
    return stats, ok, n_bad, per_output


def runtime_pair(
    name: str, variant: str, outputs: list[np.ndarray], output_names: list[str], ref_entry: tuple,
    load_ms: float, predict_ms: float, n: int, atol: float, rtol: float,
) -> PairResult:  # fmt: skip
    """The runtime row of tfjs runtime `name` on `variant` against its reference (`ref_entry`:
    reference outputs, runtime, model, label), with load and predict timings; not localised."""
    ref_out, _, _, ref_name = ref_entry
    stats, ok, n_bad, per_out = compare_outputs(outputs, ref_out, output_names, atol, rtol)
    return PairResult(
        variant, "runtime", f"{name} {variant}", ref_name, stats, ok, n_bad,
        timings={"load_ms": round(load_ms, 1), "predict_ms": round(predict_ms, 1),
                 "predict_ms_per_example": round(predict_ms / n, 4)},
        outputs=per_out,
    )  # fmt: skip
