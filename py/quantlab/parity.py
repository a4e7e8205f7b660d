"""Cross-runtime parity: the same artifact and inputs in Keras and in every tfjs runtime.

Two questions, kept apart:
  runtime      - tfjs runtime R on variant V  vs  Keras on V (for float32: the trained Keras
                 model itself; for quantized V: Keras with V's weights dequantized in Python from
                 the very same manifest and shards). Pass/fail against atol/rtol.
  quantization - Keras on V  vs  the trained Keras float32 model. What quantizing V costs, with no
                 runtime in between (for float32 it must be exact: it checks the artifact).
A failing pair is compared layer by layer to name the first layer that exceeds tolerance."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import RuntimeUnavailable
from .metrics import parity_stats, within_tolerance
from .progress import log
from .runtimes import make_runtime
from .runtimes.base import LoadedModel, Runtime
from .runtimes.keras import KerasRuntime

# tfjs' own e2e tests compare layers models with 0.005 absolute tolerance; rtol at the same
# value lets large logits differ by 0.5% (float32 kernels on different backends differ by ~1e-6).
DEFAULT_ATOL = 0.005
DEFAULT_RTOL = 0.005
LOCALISE_EXAMPLES = 16


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

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items()}


def unavailable_reason(name: str) -> str | None:
    """None when runtime `name` can run here, else why and how to install it."""
    if name.startswith("browser-"):
        from .runtimes.browser import browser_unavailable_reason

        return browser_unavailable_reason(name.removeprefix("browser-"))
    if name == "node-tensorflow":
        from .setup_tfjs_node import tfjs_node_unavailable_reason

        return tfjs_node_unavailable_reason()
    return None


def _layer_names(loaded: LoadedModel) -> list[str]:
    return [la["name"] for la in loaded.layers if la["class_name"] != "InputLayer"]


def localise(
    runtime: Runtime,
    loaded: LoadedModel,
    ref_runtime: KerasRuntime,
    ref_loaded: LoadedModel,
    x: np.ndarray,
    atol: float,
    rtol: float,
) -> dict | None:
    """Run every layer's output in both and return the first layer out of tolerance."""
    names = _layer_names(ref_loaded)
    actual, _ = runtime.predict(loaded, x, batch_size=len(x), layers=names)
    expected, _ = ref_runtime.predict(ref_loaded, x, batch_size=len(x), layers=names)
    for name, a, e in zip(names, actual, expected, strict=True):
        ok, n_bad = within_tolerance(a, e, atol, rtol)
        if not ok:
            return {"layer": name, "n_failing": n_bad, **parity_stats(a, e)}
    return None


def run_parity(
    variant_dirs: dict[str, Path],
    keras_original,
    x: np.ndarray,
    runtimes: list[str],
    atol: float = DEFAULT_ATOL,
    rtol: float = DEFAULT_RTOL,
    timeout: float = 600.0,
    batch_size: int = 256,
) -> dict:
    keras_rt = KerasRuntime()
    original = KerasRuntime.from_keras_model(keras_original) if keras_original is not None else None
    pairs: list[PairResult] = []
    refs: dict[str, tuple[np.ndarray, LoadedModel]] = {}
    ref32 = None
    if original is not None:
        (ref32,), _ = keras_rt.predict(original, x, batch_size=batch_size)
    for v, folder in variant_dirs.items():
        loaded = keras_rt.load(folder)
        (out,), _ = keras_rt.predict(loaded, x, batch_size=batch_size)
        # For float32 the trained model is the reference: a corrupted artifact must show.
        refs[v] = (ref32, original) if (v == "float32" and original is not None) else (out, loaded)
        if ref32 is not None:
            exact = v == "float32"
            ok, n_bad = within_tolerance(out, ref32, atol, rtol) if exact else (None, 0)
            pair = PairResult(
                v, "quantization", f"keras {v}", "keras original", parity_stats(out, ref32), ok, n_bad
            )
            if exact and not ok:
                pair.first_bad_layer = localise(
                    keras_rt, loaded, keras_rt, original, x[:LOCALISE_EXAMPLES], atol, rtol
                )
            pairs.append(pair)
    unavailable = {}
    runtime_info = {}
    for name in runtimes:
        if name == "keras":
            continue
        reason = unavailable_reason(name)
        if reason:
            unavailable[name] = reason
            log.warning("%s unavailable: %s", name, reason)
            continue
        t0 = time.perf_counter()
        try:
            rt = make_runtime(name, timeout=timeout)
        except RuntimeUnavailable as e:  # found only once started (e.g. no WebGPU adapter)
            unavailable[name] = str(e)
            log.warning("%s", e)
            continue
        with rt:
            start_ms = (time.perf_counter() - t0) * 1000
            runtime_info[name] = {**rt.describe(), "start_ms": round(start_ms, 1)}
            for v, folder in variant_dirs.items():
                loaded = rt.load(folder)
                try:
                    (out,), t = rt.predict(loaded, x, batch_size=batch_size)
                    ref_out, ref_loaded = refs[v]
                    ok, n_bad = within_tolerance(out, ref_out, atol, rtol)
                    ref_name = "keras original" if ref_loaded is original else f"keras {v}"
                    pair = PairResult(
                        v, "runtime", f"{name} {v}", ref_name, parity_stats(out, ref_out), ok, n_bad,
                        timings={"load_ms": round(loaded.load_ms, 1), "predict_ms": round(t.predict_ms, 1),
                                 "predict_ms_per_example": round(t.predict_ms / len(x), 4)},
                    )  # fmt: skip
                    if not ok:
                        pair.first_bad_layer = localise(
                            rt, loaded, keras_rt, ref_loaded, x[:LOCALISE_EXAMPLES], atol, rtol
                        )
                    pairs.append(pair)
                finally:
                    rt.unload(loaded)
            runtime_info[name].update(
                {k: v for k, v in rt.describe().items() if k.endswith(("requests", "errors"))}
            )
            log.info("%s done in %.1f s", name, time.perf_counter() - t0)
    failed = [p for p in pairs if p.passed is False]
    return {
        "atol": atol,
        "rtol": rtol,
        "n_examples": int(len(x)),
        "pairs": [p.as_dict() for p in pairs],
        "runtimes": runtime_info,
        "unavailable": unavailable,
        "passed": not failed,
        "n_failed": len(failed),
    }
