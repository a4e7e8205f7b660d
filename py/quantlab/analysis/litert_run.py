"""`quantlab analyze MODEL --litert`: the LiteRT variants (convert/litert.py) run in LiteRT.js on
the same inputs as the tfjs variants, as rows of the same results (judged against the same
float32 outputs, with the same intervals and deltas), and the sentence that answers "tfjs uint8
or LiteRT.js int8?". Full int8 is calibrated on examples held out of --inputs before anything is
scored (InputSet.split_off): no variant is scored on what it was calibrated on."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..convert.litert import read_recipe, write_litert_variants
from ..errors import QuantlabError
from ..runtimes.litert import signature_name
from ..sources import TF_FORMATS
from .delivery import delivery_sizes
from .evaluate import Measured
from .variant_row import runtime_entry

LITERT_BATCH = 1  # what a page does per image; LiteRT.js needs a fixed batch


def check_litert_source(source) -> None:
    """Refuse, before any work, a source the TFLite converter cannot read (exit 2)."""
    if source.format not in TF_FORMATS:
        raise QuantlabError(
            f"--litert: {source.path} is a {source.format} model; LiteRT variants are made from a Keras file "
            "or a SavedModel by tf.lite.TFLiteConverter, which cannot read tfjs models (convert the "
            "original model, not its tfjs export)",
            exit_code=2,
        )


def check_litert_runtime(runtime_name: str, timeout: float) -> None:
    """Before any work: LiteRT.js and Chromium installed, and for WebGPU an adapter here (a page is
    started and closed to ask). Unavailable is exit 5 with the reason, never a model's failure."""
    from ..errors import RuntimeUnavailable
    from ..infra.chromium import browser_unavailable_reason
    from ..runtimes.litert import LiteRTRuntime, litert_missing

    reason = browser_unavailable_reason("wasm") or litert_missing()
    if reason:
        raise RuntimeUnavailable(f"--litert: {runtime_name} unavailable: {reason}")
    if runtime_name == "browser-litert-webgpu":
        LiteRTRuntime("webgpu", timeout=timeout).close()  # RuntimeUnavailable without an adapter


def _load(source):
    if source.format == "saved-model":
        import tensorflow as tf

        return tf.saved_model.load(str(source.path))
    from ..convert.source import load_keras_file

    return load_keras_file(source.path)


def litert_sizes(folder: Path) -> dict:
    """The .tflite's bytes raw, gzip and brotli (one request: the whole model is one file)."""
    delivery = delivery_sizes(folder)
    total = delivery["total"]
    return {
        "weight_bytes": total["raw"],
        "model_json_bytes": 0,
        # as tfjs variants' (artifact_summary): bytes / gzipped bytes, > 1 when gzip helps
        "gzip_ratio": round(total["raw"] / max(1, total["gzip"]), 4),
        "delivery": delivery,
    }


def _order(
    outputs: list[np.ndarray],
    names: list[str],
    reference: list[np.ndarray],
    out_names: list[str] | None = None,
) -> list[np.ndarray]:
    """LiteRT's outputs in the reference's order. LiteRT.js names them by the signature: the
    SavedModel's own output names, or output_0, output_1, ... for a Keras model's outputs in
    order; where neither tells, by shape where shapes differ."""
    if len(outputs) != len(reference) or len(outputs) < 2:
        return outputs
    by_name = {signature_name(n): o for n, o in zip(names, outputs, strict=True)}
    wanted = [signature_name(n) for n in out_names or []]
    if wanted and all(n in by_name for n in wanted):
        return [by_name[n] for n in wanted]
    numbered = [f"output_{k}" for k in range(len(outputs))]
    if all(n in by_name for n in numbered):
        return [by_name[n] for n in numbered]
    shapes = [o.shape for o in outputs]
    if len(set(shapes)) < len(shapes):
        return outputs  # nothing to match on: the converter keeps the signature's order
    by_shape = {o.shape: o for o in outputs}
    return [by_shape.get(r.shape, o) for r, o in zip(reference, outputs, strict=True)]


def tensorflow_reference(source, model, x: dict, specs, out_names: list[str]) -> tuple[list, str]:
    """The original model's outputs as TensorFlow itself computes them (Keras, or the SavedModel's
    serving signature), and that reference's name."""
    if source.format == "saved-model":
        from ..runtimes.saved_model import SavedModelRuntime

        rt = SavedModelRuntime()
        reference, _ = rt.predict(rt.load(source.path, output_order=out_names), x)
        return reference, "tensorflow-savedmodel"
    return keras_outputs(model, [x[s.name] for s in specs]), "keras"


def keras_outputs(model, arrays: list[np.ndarray]) -> list[np.ndarray]:
    out = model.predict(arrays if len(arrays) > 1 else arrays[0], batch_size=256, verbose=0)
    return out if isinstance(out, list) else [out]


def float32_parity(litert_float32: list, reference: list, name: str) -> dict:
    """litert-float32 against the original model run by TensorFlow itself, with parity's
    tolerances: does LiteRT.js compute what TensorFlow did, before any quantization?"""
    from ..metrics import error_stats, within_tolerance
    from .parity import DEFAULT_ATOL, DEFAULT_RTOL

    passed, failed, worst = True, 0, 0.0
    for a, r in zip(litert_float32, reference, strict=True):
        ok, bad = within_tolerance(np.asarray(a), np.asarray(r), DEFAULT_ATOL, DEFAULT_RTOL)
        passed, failed = passed and ok, failed + bad
        worst = max(worst, error_stats(np.asarray(a), np.asarray(r))["max_abs"])
    return {"reference": name, "atol": DEFAULT_ATOL, "rtol": DEFAULT_RTOL, "passed": passed,
            "n_failed": failed, "max_abs": worst}  # fmt: skip


def run_litert(
    paths: dict[str, Path], x: dict, reference: list, runtime_name: str, timeout, out_names=None
) -> tuple[dict, dict]:
    """({variant: Measured}, the runtime's description): every LiteRT variant in `paths` run on the
    named inputs `x` (in the model's input order) in LiteRT.js; outputs in `reference`'s order."""
    from ..infra.progress import progress
    from ..runtimes.base import PredictTimings, n_examples
    from ..runtimes.litert import LiteRTRuntime
    from .jobs import REQUEST_BYTES, sized, values_per_example

    n = n_examples(x)
    per = sized(n, values_per_example(x), REQUEST_BYTES)  # a page holds one request at a time
    measured = {}
    with (
        LiteRTRuntime(runtime_name.removeprefix("browser-litert-"), timeout=timeout) as rt,
        progress() as bar,
    ):
        task = bar.add_task(f"LiteRT.js ({runtime_name})", total=n * len(paths), info="")
        for variant, folder in paths.items():
            loaded = rt.load(folder)
            parts, timings = [], PredictTimings()
            for start in range(0, n, per):
                outs, t = rt.predict(loaded, {k: v[start : start + per] for k, v in x.items()})
                parts.append(outs)
                timings.add(t)
                bar.update(task, advance=n_examples(outs[0]) if outs else 0, info=variant)
            rt.unload(loaded)
            outs = [np.concatenate([p[k] for p in parts]) for k in range(len(parts[0]))]
            measured[variant] = Measured(
                variant,
                None,
                _order(outs, [o["name"] for o in loaded.outputs], reference, out_names),
                loaded.load_ms,
                timings,
                loaded,
            )
        return measured, rt.describe()


def measure_litert(
    source, root: Path, calibration: dict, specs, inputs, reference, out_names, runtime_name: str, timeout
):
    """{variant: Measured} for every LiteRT variant (artifact None; sizes apart: litert_sizes)."""
    model = _load(source)
    calib = [np.asarray(calibration[s.name], dtype=np.float32) for s in specs]
    note = f"{len(calib[0])} examples of --inputs, evenly spaced, held out of scoring"
    paths = write_litert_variants(model, root, LITERT_BATCH, calib, calibration_note=note)
    x = {s.name: inputs.batch(s.name, 0, inputs.n) for s in specs}
    measured, info = run_litert(paths, x, reference, runtime_name, timeout, out_names)
    tf_outputs, name = tensorflow_reference(source, model, x, specs, out_names)
    info["float32_parity"] = float32_parity(measured["litert-float32"].outputs, tf_outputs, name)
    return measured, paths, info


def litert_row(variant: str, folder: Path, metrics: dict, m: Measured, info: dict) -> dict:
    """A LiteRT variant's entry in results.json, shaped as variant_row's for a tfjs one."""
    return {
        "name": variant,
        **litert_sizes(folder),
        "metrics": metrics,
        "runtime": runtime_entry(info["runtime"], info["backend"], None, m.load_ms, m.timings),
    }


def litert_section(paths: dict[str, Path], info: dict, rows: list[dict], primary: str | None) -> dict:
    """results.json's `litert`: the recipes, the runtime, and the sentence comparing LiteRT.js
    int8 with tfjs uint8 on the headline, bytes and time per example."""
    by_name = {r["name"]: r for r in rows}

    def words(name: str, label: str) -> str | None:
        r = by_name.get(name)
        if r is None:
            return None
        value = r["metrics"].get(primary) if primary else None
        delta = (r.get("deltas") or {}).get(primary, {}).get("delta") if primary else None
        shown = f"{value:.4f}" if isinstance(value, float) else "–"
        if isinstance(delta, float):
            shown += f" ({delta:+.4f})"
        size = r["weight_bytes"]
        size_text = (
            f"{size / 1e6:.2f} MB" if size >= 1e6 else f"{size / 1e3:.1f} kB" if size >= 1e3 else f"{size} B"
        )
        ms = r["runtime"]["predict_ms_per_example"]
        return f"{label}: {shown}, {size_text}, {ms:.2f} ms/example"

    parts = [words("litert-int8", "LiteRT.js int8"), words("litert-dynamic-int8", "LiteRT.js dynamic int8"),
             words("uint8", "tfjs uint8")]  # fmt: skip
    return {
        "runtime": {k: v for k, v in info.items() if k != "float32_parity"},
        "float32_parity": info.get("float32_parity"),
        "batch": LITERT_BATCH,
        "variants": {v: read_recipe(p) for v, p in paths.items()},
        "metric": primary,
        "sentence": "; ".join(p for p in parts if p),
        "speed_note": _speed_note(by_name),
    }


def _speed_note(by_name: dict) -> str | None:
    """The sentence's ms/example are each runtime as this run used it, not a race: say so."""
    tfjs = by_name.get("uint8") or by_name.get("float32")
    if tfjs is None:
        return None
    return (
        f"ms/example as measured here: tfjs in {tfjs['runtime']['name']} in batches (and beside other "
        "evaluators when --workers ran several), LiteRT.js one example at a time in Chromium, one thread; "
        "for a fair race, `quantlab bench MODEL --inputs ...` times both one example at a time with 1 and "
        "N threads beside TensorFlow"
    )
