"""The MobileNetV2 demo: Keras' ImageNet MobileNetV2, no training; the four variants evaluated
on the ImageNet sample images. Two modes, chosen by which weights file is found:
  full     (classifier weights): top-1 / top-5 under the seed's rule and by exact wnid;
  backbone (no-top weights):     pooled-feature fidelity (cosine to float32, leave-one-out 1-NN)."""

from __future__ import annotations

import resource
import shlex
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..analysis.evaluate import measure_variants
from ..analysis.weight_error import weights_section
from ..convert.converter import VARIANTS
from ..errors import ArtifactError, QuantlabError
from ..infra.environment import environment
from ..infra.progress import log
from ..metrics import (
    cosine_to_reference,
    loo_1nn_accuracy,
    loo_1nn_hits,
    topk_seed_rule,
    topk_seed_rule_hits,
    topk_wnid,
    topk_wnid_hits,
)
from ..results import variant_row, write_results
from ..runtimes.base import Runtime
from ..stats import uncertainty
from ..workspace import STEP_MARKER
from .datasets.imagenet import DecodedImages, class_files, find_image_folder, list_images
from .datasets.resolver import search_dirs

NAME = "mobilenetv2"
# tfjs batch for 224x224 images: on 2 cores tfjs-node ran MobileNetV2 at 35 img/s with batches
# of 4 to 16 against 21 img/s with 32 (activations fall out of cache); wasm does not care.
TFJS_IMAGE_BATCH = 8
SEED = {  # the seed's README (preprocessing pixels / 255, seed scoring rule)
    "top1": {"float32": 0.618, "uint16": 0.624, "uint8": 0.280},
    "top5": {"float32": 0.788, "uint16": 0.789, "uint8": 0.490},
}


def weights_file_name(alpha: float, size: int, include_top: bool) -> str:
    suffix = "" if include_top else "_no_top"
    return f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{alpha}_{size}{suffix}.h5"


@dataclass(frozen=True)
class WeightsChoice:
    path: Path | None  # None: Keras' own weights='imagenet' download
    mode: str  # "full" or "backbone"
    reason: str


def weights_mode(path: Path) -> str:
    """'full' when the .h5 holds the classifier layer ('predictions'), else 'backbone'."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            group = f["model_weights"] if "model_weights" in f else f
            names = [n.decode() if isinstance(n, bytes) else n for n in group.attrs["layer_names"]]
    except (OSError, KeyError) as e:
        raise ArtifactError(f"{path}: not a readable Keras HDF5 weights file ({e})") from e
    return "full" if "predictions" in names else "backbone"


def resolve_weights(
    weights: Path | None, data_dir: Path | None, alpha: float = 1.0, size: int = 224
) -> WeightsChoice:
    """--weights, then Keras' file names under the data folders and ~/.keras/models, then
    Keras' own download. A full (classifier) file is preferred to a no-top one anywhere."""
    if weights:
        if not Path(weights).is_file():
            raise ArtifactError(f"{weights}: weights file not found")
        return WeightsChoice(Path(weights), weights_mode(Path(weights)), f"--weights {weights}")
    folders = [(how, d / "mobilenet_v2") for how, d in search_dirs(data_dir)]
    folders.append(("Keras cache", Path.home() / ".keras" / "models"))
    for include_top in (True, False):
        name = weights_file_name(alpha, size, include_top)
        for how, folder in folders:
            if (folder / name).is_file():
                mode = "full" if include_top else "backbone"
                why = (
                    f"found {name} in {how} ({folder})"
                    if include_top
                    else (
                        f"found only the no-top file {name} in {how} ({folder}): no classifier "
                        f"weights, so class accuracy cannot be measured; feature fidelity instead"
                    )
                )
                return WeightsChoice(folder / name, mode, why)
    return WeightsChoice(None, "full", "no local weights file; using Keras' weights='imagenet' download")


def build_mobilenet(choice: WeightsChoice, alpha: float = 1.0, size: int = 224):
    from ..infra.tfcompat import keras

    k = keras()
    include_top = choice.mode == "full"
    try:
        return k.applications.MobileNetV2(
            input_shape=(size, size, 3),
            alpha=alpha,
            include_top=include_top,
            weights=str(choice.path) if choice.path else "imagenet",
            pooling=None if include_top else "avg",
        )
    except Exception as e:  # Keras raises ValueError/OSError/… for a mismatched or broken file
        what = choice.path or "Keras' imagenet download"
        first = str(e).strip().splitlines()[0][:300] if str(e).strip() else type(e).__name__
        if choice.path is None:
            expected = ", ".join(str(d / "mobilenet_v2") for _, d in search_dirs(None))
            raise QuantlabError(
                f"MobileNetV2 weights: download failed ({first}); put "
                f"{weights_file_name(alpha, size, True)} (or the _no_top file) in one of {expected} "
                f"or ~/.keras/models, or pass --weights"
            ) from e
        raise ArtifactError(
            f"{what}: does not fit MobileNetV2(alpha={alpha}, input {size}x{size}, "
            f"include_top={include_top}): {first}"
        ) from e


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class ImageExamples:
    """Decoded images as the engine's Examples: preprocessed one chunk at a time."""

    images: DecodedImages
    preprocessing: str

    @property
    def n(self) -> int:
        return len(self.images)

    def chunks(self, size: int):
        for x in self.images.batches(size, self.preprocessing):
            yield {"image": x}


def score(
    mode: str, outputs: np.ndarray, ref32: np.ndarray, images: DecodedImages, class_info
) -> dict[str, float | int | None]:
    wnids = [s.wnid for s in images.samples]
    if mode == "backbone":
        cos = cosine_to_reference(outputs, ref32)
        return {
            "loo_1nn": loo_1nn_accuracy(outputs, wnids),
            "cosine_mean": float(cos.mean()),
            "cosine_min": float(cos.min()),
        }
    names, class_wnids = class_info
    tokens = [s.label_token for s in images.samples]
    top1_w, n_w = topk_wnid(outputs, wnids, class_wnids, 1)
    top5_w, _ = topk_wnid(outputs, wnids, class_wnids, 5)
    return {
        "top1": topk_seed_rule(outputs, tokens, names, 1),
        "top5": topk_seed_rule(outputs, tokens, names, 5),
        "top1_wnid": top1_w,
        "top5_wnid": top5_w,
        "n_scored_wnid": n_w,
    }


def score_per_example(
    mode: str, outputs: np.ndarray, ref32: np.ndarray, images: DecodedImages, class_info
) -> dict[str, np.ndarray]:
    """score's figures per image, where they are means: hits (bool) and cosines."""
    wnids = [s.wnid for s in images.samples]
    if mode == "backbone":
        return {"loo_1nn": loo_1nn_hits(outputs, wnids), "cosine_mean": cosine_to_reference(outputs, ref32)}
    names, class_wnids = class_info
    tokens = [s.label_token for s in images.samples]
    return {
        "top1": topk_seed_rule_hits(outputs, tokens, names, 1),
        "top5": topk_seed_rule_hits(outputs, tokens, names, 5),
        "top1_wnid": topk_wnid_hits(outputs, wnids, class_wnids, 1),
        "top5_wnid": topk_wnid_hits(outputs, wnids, class_wnids, 5),
    }


def prepare_mobilenet(
    models_dir: Path,
    data_dir: Path | None,
    weights: Path | None = None,
    alpha: float = 1.0,
    size: int = 224,
    name: str = NAME,
) -> dict:
    """The demo's `prepare` step: Keras' pretrained model, saved to MODELS/<name>/keras/ with
    a record of which weights file and mode (full or backbone) it came from."""
    from .train import TrainResult, save_trained

    list_images(find_image_folder(data_dir))  # images first: cheap to check, no download
    choice = resolve_weights(weights, data_dir, alpha, size)
    log.info("MobileNetV2 %s mode: %s", choice.mode, choice.reason)
    model = build_mobilenet(choice, alpha, size)
    record = {
        "demo": name,
        "mode": choice.mode,
        "mode_reason": choice.reason,
        "weights": str(choice.path) if choice.path else "keras:imagenet",
        "alpha": alpha,
        "image_size": size,
        "profile": "pretrained",
    }
    save_trained(TrainResult(model, record), Path(models_dir) / name / "keras")
    return record


def write_graph_variants(
    model, root: Path, variants=VARIANTS, data_dir: Path | None = None
) -> dict[str, Path]:
    """The graph demo's variants, as a user would make them: the Keras model saved as a
    SavedModel, converted by the stock tensorflowjs_converter to a float32 tfjs graph model
    (BatchNorm folded into the conv kernels), then quantized by the converter's own weight writer
    (byte-identical to the converter's --quantize_* flags on the SavedModel: tests/analyze)."""
    from ..convert.converter import dtype_map_for
    from ..convert.requantize import requantize
    from ..convert.source import run_converter
    from ..convert.weight_checks import check_weights_quantizable
    from ..sources import ModelSource

    root = Path(root)
    with tempfile.TemporaryDirectory(prefix="quantlab-sm-") as tmp:
        model.save(tmp, save_format="tf")
        run_converter(ModelSource(Path(tmp), "saved-model", "Keras SavedModel"), root / "float32", "graph")
    paths = {"float32": root / "float32"}
    for v in variants:
        if v not in ("float32", *EQUALIZED):
            paths[v] = requantize(root / "float32", root / v, dtype_map_for(v), check_weights_quantizable)
    if any(v in EQUALIZED for v in variants):
        paths |= write_equalized(root, variants, data_dir, int(model.input_shape[1]))
    return {v: paths[v] for v in variants if v in paths}


# The graph demo's extra variants: cross-layer equalization (quantlab.convert.equalize) of its float32
# weights, that model all-uint8, and all-uint8 after bias correction too (quantlab.convert.
# bias_correction, its float32 biases corrected for uint8 on calibration images, kept in
# BIAS_CORRECTED beside the variants): what each step buys per-tensor uint8, measured in tfjs.
EQUALIZED = ("equalized", "equalized-uint8", "equalized-bc-uint8")
BIAS_CORRECTED = "equalized-bc"  # float32 with corrected biases: a step, not a variant to ship
EQUALIZE_RECORD = "equalize.json"
# Calibration for bias correction: every CALIBRATION_STRIDE-th sample image (63 of the 1000), label
# free (channel means only); the results also score the images it did not see.
CALIBRATION_STRIDE = 16
# whose weights each variant's per-tensor error is measured against (default float32)
WEIGHT_REFERENCES = {
    EQUALIZED[0]: None,
    EQUALIZED[1]: EQUALIZED[0],
    EQUALIZED[2]: BIAS_CORRECTED,
    f"tuned-{EQUALIZED[0]}": EQUALIZED[0],
}


def calibration_indices(n: int) -> list[int]:
    return list(range(0, n, CALIBRATION_STRIDE))


def write_equalized(
    root: Path, variants=EQUALIZED, data_dir: Path | None = None, size: int = 224
) -> dict[str, Path]:
    from ..convert.converter import dtype_map_for
    from ..convert.equalize import equalize_artifact
    from ..convert.requantize import requantize
    from ..convert.weight_checks import check_weights_quantizable
    from ..infra.fsutil import write_json_atomic

    t0 = time.perf_counter()
    report = equalize_artifact(root / "float32", root / EQUALIZED[0])
    if report is None:
        raise ArtifactError(f"{root / 'float32'}: no equalizable conv pairs found")
    seconds = time.perf_counter() - t0
    log.info("equalized %d conv pairs in %.1f s", len(report.pairs), seconds)
    record = report.as_dict() | {"seconds": round(seconds, 2)}
    eq = root / EQUALIZED[0]
    _mark_step(eq)
    paths = {EQUALIZED[0]: eq}
    paths[EQUALIZED[1]] = requantize(
        eq, root / EQUALIZED[1], dtype_map_for("uint8"), check_weights_quantizable
    )
    if EQUALIZED[2] in variants:
        record["bias_correction"] = write_bias_corrected(root, data_dir, size)
        paths[EQUALIZED[2]] = requantize(
            root / BIAS_CORRECTED, root / EQUALIZED[2], dtype_map_for("uint8"), check_weights_quantizable
        )
    write_json_atomic(eq / EQUALIZE_RECORD, record)
    return paths


def _mark_step(folder: Path) -> None:
    """A float32 model to quantize, not to ship: `quantlab delivery` leaves it out."""
    (folder / STEP_MARKER).write_text("a float32 step of the graph demo's equalization\n")


def write_bias_corrected(root: Path, data_dir: Path | None, size: int) -> dict:
    """root/equalized's biases corrected for uint8 (BIAS_CORRECTED), calibrated in node-wasm on
    every CALIBRATION_STRIDE-th sample image with Keras' preprocessing."""
    from ..convert.bias_correction import bias_correct_artifact
    from ..runtimes import make_runtime

    samples, _ = list_images(find_image_folder(data_dir))
    picked = [samples[i] for i in calibration_indices(len(samples))]
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="quantlab-calib-") as tmp:
        images = DecodedImages(picked, size, Path(tmp) / "calibration.npy")
        with make_runtime("node-wasm") as runtime:
            report = bias_correct_artifact(
                root / EQUALIZED[0], root / BIAS_CORRECTED, runtime, images.batches(16, "keras"), "uint8"
            )
    _mark_step(root / BIAS_CORRECTED)
    seconds = time.perf_counter() - t0
    log.info(
        "bias-corrected %d layers for uint8 on %d images in %.1f s",
        len(report.layers),
        report.n_calibration,
        seconds,
    )
    return report.as_dict() | {
        "calibration": {
            "images": [s.path.name for s in images.samples],
            "rule": f"every {CALIBRATION_STRIDE}th sample image, Keras preprocessing",
        },
        "seconds": round(seconds, 2),
    }


def _equalization(root: Path, variants) -> dict | None:
    """What write_equalized did (pairs, seconds), when the run measured its variants."""
    record = root / EQUALIZED[0] / EQUALIZE_RECORD
    if EQUALIZED[0] not in variants or not record.is_file():
        return None
    import json

    r = json.loads(record.read_text())
    bc = r.get("bias_correction")
    return {
        "method": r.get("method"),
        "relu6": r.get("relu6"),
        "n_pairs": len(r.get("pairs") or []),
        "n_skipped": len(r.get("skipped") or []),
        "sweeps": r.get("sweeps"),
        "seconds": r.get("seconds"),
        "variants": [v for v in EQUALIZED if v in variants],
        "bias_correction": None
        if not bc or EQUALIZED[2] not in variants
        else {
            "method": bc["method"],
            "target": bc["target"],
            "n_layers": bc["n_layers"],
            "n_calibration": bc["n_calibration"],
            "calibration_rule": bc["calibration"]["rule"],
            "calibration_images": bc["calibration"]["images"],
            "seconds": bc["seconds"],
        },
    }


def unseen_by_calibration(equalization: dict | None, images, outputs: dict, wnids: list[str]) -> dict | None:
    """Leave-one-out 1-NN of each variant on the images bias correction did not calibrate on
    (neighbours among those images only): the check that its figure is not the calibration's."""
    bc = (equalization or {}).get("bias_correction")
    if not bc:
        return None
    seen = set(bc["calibration_images"])
    keep = np.array([s.path.name not in seen for s in images.samples])
    if keep.sum() < 2:
        return None
    kept = [w for w, k in zip(wnids, keep, strict=True) if k]
    return {
        "n_images": int(keep.sum()),
        "loo_1nn": {v: loo_1nn_accuracy(y[keep], kept) for v, y in outputs.items()},
    }


def evaluate_mobilenet(
    runtime: Runtime,
    models_dir: Path,
    out_dir: Path,
    data_dir: Path | None = None,
    preprocessing: str = "keras",
    limit: int | None = None,
    batch: int = 32,
    variants=VARIANTS,
    config: dict | None = None,
    name: str = NAME,
    title: str = "MobileNetV2",
    sibling: str | None = None,
) -> dict:
    """The demo's `evaluate` step: every variant in tfjs on the sample images, scored by mode."""
    from .train import load_trained

    t_start = time.perf_counter()
    folder = find_image_folder(data_dir)
    samples, bad_names = list_images(folder)
    model, record = load_trained(Path(models_dir) / name / "keras")
    choice = WeightsChoice(
        None if record.get("weights") in (None, "None", "keras:imagenet") else Path(record["weights"]),
        record.get("mode", "full" if model.output_shape[-1] == 1000 else "backbone"),
        record.get("mode_reason", "from the prepared model"),
    )
    alpha, size = record.get("alpha", 1.0), int(model.input_shape[1])
    class_info = class_files(data_dir) if choice.mode == "full" else None
    paths = {v: Path(models_dir) / name / v for v in variants}
    with tempfile.TemporaryDirectory(prefix="quantlab-images-") as tmp:
        images = DecodedImages(samples, size, Path(tmp) / "decoded.npy", limit)
        if len(images) < 2:
            raise QuantlabError(f"{folder}: fewer than 2 decodable images; nothing to evaluate")
        # Keras float32 in-process: the reference the tfjs float32 figures should reproduce.
        from ..runtimes.keras import KerasRuntime

        keras_rt = KerasRuntime()
        kmodel = KerasRuntime.from_keras_model(model)
        t0, kouts = time.perf_counter(), []
        for x in images.batches(batch, preprocessing):
            (y,), _ = keras_rt.predict(kmodel, x, batch_size=batch)
            kouts.append(y)
        keras_out = np.concatenate(kouts)
        keras_ips = len(images) / (time.perf_counter() - t0)
        measured = measure_variants(
            runtime, paths, ImageExamples(images, preprocessing), name, min(batch, TFJS_IMAGE_BATCH), batch
        )
        outputs = {v: m.outputs[0] for v, m in measured.items()}
    ref32 = outputs.get("float32", keras_out)
    results_rows, scores = [], {}
    for v, m in measured.items():
        metrics = score(choice.mode, outputs[v], ref32, images, class_info)
        scores[v] = score_per_example(choice.mode, outputs[v], ref32, images, class_info)
        results_rows.append(variant_row(v, m.artifact, metrics, runtime, m.load_ms, m.timings))
        results_rows[-1] |= uncertainty(scores[v], None if v == "float32" else scores.get("float32"))
        log.info("%s %s: %s", name, v, ", ".join(f"{k} {val}" for k, val in metrics.items()))
    keras_metrics = score(choice.mode, keras_out, ref32, images, class_info)
    equalization = _equalization(Path(models_dir) / name, variants)
    if equalization and equalization["bias_correction"] and choice.mode == "backbone":
        equalization["bias_correction"]["unseen"] = unseen_by_calibration(
            equalization, images, outputs, [s.wnid for s in images.samples]
        )
    node_rss = getattr(runtime, "peak_rss_mb", lambda: None)()
    primary = "top1" if choice.mode == "full" else "loo_1nn"
    results = {
        "kind": "demo",
        "demo": name,
        "title": title,
        "task": "classification" if choice.mode == "full" else "features",
        "primary_metric": primary,
        "mode": choice.mode,
        "mode_reason": choice.reason,
        "model_format": next(iter(measured.values())).artifact.format,
        "sibling": sibling,  # the same weights in the other tfjs format: shown side by side
        "weights": str(choice.path) if choice.path else "keras:imagenet",
        "preprocessing": preprocessing,
        "scoring": (
            {"rule": "seed (top1/top5) and wnid (top1_wnid/top5_wnid)", "preprocessing": preprocessing}
            if choice.mode == "full"
            else {"rule": "leave-one-out 1-NN by wnid, cosine", "preprocessing": preprocessing}
        ),
        "dataset": {
            "name": "imagenet-samples",
            "source": "ajschumacher/imagen sample: 5 images for each of 200 ILSVRC synsets",
            "folder": str(folder),
            "n_test": len(images),
            "n_skipped": len(bad_names) + len(images.skipped),
            "skipped": bad_names + images.skipped,
            "n_train": 0,
        },
        "variants": results_rows,
        "weight_error": weights_section(Path(models_dir) / name, variants, references=WEIGHT_REFERENCES)
        if "float32" in variants
        else {},
        "keras_reference": {"metrics": keras_metrics, "images_per_second": round(keras_ips, 2)},
        "equalization": equalization,
        "seed": SEED["top1"] if choice.mode == "full" else {},
        "seed_top5": SEED["top5"],
        "note": (
            "Seed: pixels / 255 (the model expects [-1, 1]) and substring scoring on file-name words. "
            f"This run: preprocessing '{preprocessing}', mode '{choice.mode}' ({choice.reason})."
        ),
        "memory": {"python_peak_rss_mb": round(_peak_rss_mb(), 1), "node_peak_rss_mb": node_rss},
        "environment": environment(runtime.describe()),
        "config": {
            "command": " ".join(shlex.quote(a) for a in sys.argv),
            "alpha": alpha,
            "image_size": size,
            "batch": batch,
            "limit": limit,
            "workers": getattr(runtime, "ran", 1),
            "wall_seconds": round(time.perf_counter() - t_start, 1),
            **(config or {}),
        },
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    write_results(out_dir, name, results)
    return results
