"""`quantlab equalize`: convert MODEL to a float32 graph model if needed, equalize it
(convert/equalize.py), optionally bias-correct it (convert/bias_correction.py), measure the float32
change and uint8's error before and after in tfjs, and write it (or refuse beyond the tolerance)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..convert.conv_pairs import find_pairs
from ..convert.equalize import EqualizeReport, equalize_artifact
from ..errors import QuantlabError
from ..infra.fsutil import atomic_dir
from ..tfjs import MODEL_JSON


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
        judged = per[f"output {k}"]
        out[name] = figures[k] | {
            "output_index": k,
            "output_kind": judged["kind"],
            # the output's own figure (a cosine over a one-value flag is always 1: never that)
            "metric": judged["metric"],
            "value": judged["value"],
            "score": judged["score"],
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

    from ..convert.requantize import requantize
    from ..convert.source import write_float32
    from ..infra.fsutil import write_json_atomic
    from ..input_spec import fixed_batch
    from ..inputs import load_inputs
    from ..runtimes import make_runtime
    from ..runtimes.base import input_specs

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
        as_is = source.model_json is not None and source.model_json.name == MODEL_JSON
        if source.format == "tfjs-graph" and as_is and not source.detail.startswith("already quantized"):
            src = source.path
        else:
            made = write_float32(source, tmp / "float32", "graph")
            src = tmp / "float32"
        named = source.model_json or source.path  # NAME.json: its folder may hold other models
        report = equalize_artifact(src, tmp / "equalized", relu6, snap, named=named)
        record: dict = {"model": str(named), "format": source.format, "converted": made}
        if report is None:
            n = len(find_pairs(json.loads((src / MODEL_JSON).read_text())))
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
            specs = input_specs(loaded)
            runtime.unload(loaded)
            inputs = load_inputs(specs, input_opts)
            bc = None
            if bias_correction:
                from ..convert.bias_correction import bias_correct_artifact, calibration_chunks

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
