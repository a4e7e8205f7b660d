"""Cross-runtime parity: the same artifact and inputs in a reference and in every tfjs runtime.

Two questions, kept apart:
  runtime      - tfjs runtime R on variant V  vs  the reference on V. For float32 the reference
                 is the original model itself (a corrupted artifact must show); for quantized V
                 it runs V's own manifest and shards (Keras dequantizes them in Python; for graph
                 models and bare tfjs models tfjs' node-cpu backend runs V). Pass/fail against
                 atol/rtol.
  quantization - the reference on V  vs  the original float32 model. What quantizing V costs, with
                 no tfjs runtime in between (for float32 it must be exact: it checks the artifact).

The reference (`Reference`): Keras for the demos and for Keras sources; TensorFlow itself
(SavedModelRuntime, the serving signature) for SavedModel sources; node-cpu on the user's own
files for a bare tfjs model. Every output of a multi-output model is compared: an element fails
only past both atol and rtol, so a pair passes only when every output does; `stats` are over all
outputs flattened and concatenated per example, and `outputs` holds each output's own stats.
A failing pair of layers models is compared layer by layer to name the first layer out of
tolerance (graph models have no layers to compare: not localised, and the record says so).

Here: the runs of each pair and the record; the comparison itself is parity_outputs."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import RuntimeUnavailable
from ..infra.progress import log
from ..results import write_section
from ..runtimes import make_runtime
from ..runtimes.base import Inputs, LoadedModel, Runtime, head, n_examples
from ..runtimes.keras import KerasRuntime
from .parity_outputs import PairResult, align, compare_outputs, localisable, localise, runtime_pair

# tfjs' own e2e tests compare layers models with 0.005 absolute tolerance; rtol at the same
# value lets large logits differ by 0.5% (float32 kernels on different backends differ by ~1e-6).
DEFAULT_ATOL = 0.005
DEFAULT_RTOL = 0.005
LOCALISE_EXAMPLES = 16
NOT_LOCALISED = "graph model: no layers to compare one by one, so a failing pair is not localised"


@dataclass
class Reference:
    """What parity compares with. `runtime` runs each variant V as the reference on V (rows
    labelled "<label> V"); `original` (in `original_runtime`) is the model before conversion, the
    reference of every float32 row and of the quantization rows ("<original_label>"). Without an
    original, float32 is compared with its own artifact and there are no quantization rows."""

    name: str  # recorded as parity["reference"]: "keras" | "tensorflow-savedmodel" | "node-cpu float32"
    runtime: Runtime
    label: str
    original: LoadedModel | None = None
    original_runtime: Runtime | None = None
    original_label: str = "keras original"
    detail: str = ""


def unavailable_reason(name: str) -> str | None:
    """None when runtime `name` can run here, else why and how to install it."""
    if name.startswith("browser-"):
        from ..infra.chromium import browser_unavailable_reason

        return browser_unavailable_reason(name.removeprefix("browser-"))
    if name == "node-tensorflow":
        from ..infra.setup_tfjs_node import tfjs_node_unavailable_reason

        return tfjs_node_unavailable_reason()
    return None


def keras_reference(keras_original) -> Reference:
    """The demos' (and Keras sources') reference: Keras on V, the trained model for float32."""
    rt = KerasRuntime()
    original = KerasRuntime.from_keras_model(keras_original) if keras_original is not None else None
    return Reference(
        "keras",
        rt,
        "keras",
        original,
        rt if original is not None else None,
        "keras original",
        "Keras: the original model for float32, Keras with each variant's dequantized weights for the others",
    )


def run_parity(
    variant_dirs: dict[str, Path],
    keras_original,
    x: Inputs,
    runtimes: list[str],
    atol: float = DEFAULT_ATOL,
    rtol: float = DEFAULT_RTOL,
    timeout: float = 600.0,
    batch_size: int = 256,
    workers: int | None = None,
    executor: str = "local",
    ray_address: str | None = None,
) -> dict:
    """Parity against Keras (the demos)."""
    return compare(
        variant_dirs, keras_reference(keras_original), x, runtimes, atol, rtol, timeout, batch_size,
        workers, executor, ray_address,
    )  # fmt: skip


def compare(
    variant_dirs: dict[str, Path],
    ref: Reference,
    x: Inputs,
    runtimes: list[str],
    atol: float = DEFAULT_ATOL,
    rtol: float = DEFAULT_RTOL,
    timeout: float = 600.0,
    batch_size: int = 256,
    workers: int | None = None,
    executor: str = "local",
    ray_address: str | None = None,
) -> dict:
    pairs: list[PairResult] = []
    refs: dict[str, tuple[list[np.ndarray], Runtime, LoadedModel, str]] = {}
    ref_loaded: list[LoadedModel] = []  # unloaded at the end (tfjs references hold memory)
    original, ref32 = ref.original, None
    if original is not None:
        ref32, _ = ref.original_runtime.predict(original, x, batch_size=batch_size)
    not_localised = False
    out_names: list[str] = []
    try:
        for v, folder in variant_dirs.items():
            loaded = ref.runtime.load(folder)
            ref_loaded.append(loaded)
            out_names = out_names or loaded.output_names
            out, _ = ref.runtime.predict(loaded, x, batch_size=batch_size)
            if v == "float32" and original is not None:
                # For float32 the original is the reference: a corrupted artifact must show.
                aligned = align(ref32, original.output_names, loaded.output_names)
                refs[v] = (aligned, ref.original_runtime, original, ref.original_label)
            else:
                refs[v] = (out, ref.runtime, loaded, f"{ref.label} {v}")
            if ref32 is not None:
                exact = v == "float32"
                aligned = align(ref32, original.output_names, loaded.output_names)
                stats, ok, n_bad, per_out = compare_outputs(out, aligned, loaded.output_names, atol, rtol)
                pair = PairResult(
                    v, "quantization", f"{ref.label} {v}", ref.original_label, stats,
                    ok if exact else None, n_bad if exact else 0, outputs=per_out,
                )  # fmt: skip
                if exact and not ok:
                    if localisable(loaded, original):
                        pair.first_bad_layer = localise(
                            ref.runtime, loaded, ref.original_runtime, original,
                            head(x, LOCALISE_EXAMPLES), atol, rtol,
                        )  # fmt: skip
                    else:
                        not_localised = True
                pairs.append(pair)
        unavailable: dict[str, str] = {}
        runtime_info: dict[str, dict] = {}
        for name in runtimes:
            if name == "keras":
                continue
            reason = unavailable_reason(name)
            if reason:
                unavailable[name] = reason
                log.warning("%s unavailable: %s", name, reason)
                continue
            t0 = time.perf_counter()
            reuse = getattr(ref.runtime, "name", None) == name
            if name.startswith("node-") and not reuse and workers != 1:
                # Node runtimes through the evaluator pool (decided before any runtime of its own
                # is started): variants and input shards spread over every core, outputs
                # bit-identical to one process (tests/analysis/test_pool.py).
                not_localised |= _pooled_pairs(
                    name, variant_dirs, x, refs, pairs, runtime_info, atol, rtol, timeout, batch_size,
                    workers, executor, ray_address,
                )  # fmt: skip
                log.info("%s done in %.1f s", name, time.perf_counter() - t0)
                continue
            try:
                started = (
                    contextlib.nullcontext(ref.runtime) if reuse else make_runtime(name, timeout=timeout)
                )
            except RuntimeUnavailable as e:  # found only once started (e.g. no WebGPU adapter)
                unavailable[name] = str(e)
                log.warning("%s", e)
                continue
            with started as rt:
                start_ms = (time.perf_counter() - t0) * 1000
                runtime_info[name] = {**rt.describe(), "start_ms": round(start_ms, 1)}
                if reuse:  # started earlier, as the reference: its own start time
                    runtime_info[name] = {**rt.describe(), "reference_backend": True}
                for v, folder in variant_dirs.items():
                    loaded = rt.load(folder)
                    try:
                        out, t = rt.predict(loaded, x, batch_size=batch_size)
                        _, ref_rt, ref_model, _ = refs[v]
                        pair = runtime_pair(
                            name, v, out, loaded.output_names, refs[v], loaded.load_ms, t.predict_ms,
                            n_examples(x), atol, rtol,
                        )  # fmt: skip
                        if not pair.passed:
                            if localisable(loaded, ref_model):
                                pair.first_bad_layer = localise(
                                    rt, loaded, ref_rt, ref_model, head(x, LOCALISE_EXAMPLES), atol, rtol
                                )
                            else:
                                not_localised = True
                        pairs.append(pair)
                    finally:
                        rt.unload(loaded)
                runtime_info[name].update(
                    {k: v for k, v in rt.describe().items() if k.endswith(("requests", "errors"))}
                )
                log.info("%s done in %.1f s", name, time.perf_counter() - t0)
    finally:
        for loaded in ref_loaded:
            with contextlib.suppress(Exception):  # the reference runtime may be gone (Ctrl-C)
                ref.runtime.unload(loaded)
    failed = [p for p in pairs if p.passed is False]
    record = {
        "reference": ref.name,
        "reference_detail": ref.detail,
        "atol": atol,
        "rtol": rtol,
        "n_examples": n_examples(x),
        "outputs": out_names,
        "pairs": [p.as_dict() for p in pairs],
        "runtimes": runtime_info,
        "unavailable": unavailable,
        "passed": not failed,
        "n_failed": len(failed),
    }
    if not_localised:
        record["localisation"] = NOT_LOCALISED
    return record


def _pooled_pairs(
    name, variant_dirs, x, refs, pairs, runtime_info, atol, rtol, timeout, batch_size,
    workers, executor, ray_address,
) -> bool:  # fmt: skip
    """The runtime rows of Node runtime `name`, measured on an evaluator pool; appends to `pairs`
    and `runtime_info`; True when a failing pair could not be localised."""
    from .evaluate import ArrayExamples, measure_variants
    from .executors import make_pool

    examples = ArrayExamples(dict(x) if isinstance(x, Mapping) else {"input": x})
    t0 = time.perf_counter()
    not_localised = False
    with make_pool(name, workers, timeout, executor, ray_address) as pool:
        measured = measure_variants(pool, variant_dirs, examples, f"parity {name}", batch_size)
        runtime_info[name] = {**pool.describe(), "workers": pool.ran, "executor": pool.executor}
    runtime_info[name]["seconds"] = round(time.perf_counter() - t0, 1)
    for v, m in measured.items():
        _, ref_rt, ref_model, _ = refs[v]
        pair = runtime_pair(
            name, v, m.outputs, m.model.output_names, refs[v], m.load_ms, m.timings.predict_ms,
            n_examples(x), atol, rtol,
        )  # fmt: skip
        if not pair.passed:
            if localisable(m.model, ref_model):  # layer by layer needs one runtime holding the model
                with make_runtime(name, timeout=timeout) as rt:
                    loaded = rt.load(variant_dirs[v])
                    pair.first_bad_layer = localise(
                        rt, loaded, ref_rt, ref_model, head(x, LOCALISE_EXAMPLES), atol, rtol
                    )
            else:
                not_localised = True
        pairs.append(pair)
    return not_localised


def save_parity(out: Path, name: str, record: dict) -> None:
    """OUT/<name>/parity.json (the report joins it to the run's results)."""
    write_section(out, name, "parity", record)
