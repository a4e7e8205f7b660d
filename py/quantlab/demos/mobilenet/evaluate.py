"""The MobileNetV2 demos' `evaluate` step: every variant in tfjs on the sample images, Keras
float32 beside them, scored by mode, written to OUT/<demo>/results.json."""

from __future__ import annotations

import resource
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...analysis.evaluate import measure_variants
from ...analysis.run_record import add_intervals, run_record, scored_rows, tfjs_rows
from ...analysis.weight_error import weights_section
from ...convert.converter import VARIANTS
from ...errors import QuantlabError
from ...results import write_results
from ...runtimes.base import Runtime
from ...workspace import keras_dir, model_root, variant_dir
from ..datasets.imagenet import DecodedImages, class_files, find_image_folder, list_images
from .model import NAME, WeightsChoice
from .scoring import score, score_per_example, unseen_by_calibration
from .variants import EQUALIZE_RECORD, EQUALIZED, WEIGHT_REFERENCES

# tfjs batch for 224x224 images: on 2 cores tfjs-node ran MobileNetV2 at 35 img/s with batches
# of 4 to 16 against 21 img/s with 32 (activations fall out of cache); wasm does not care.
TFJS_IMAGE_BATCH = 8
SEED = {  # the seed's README (preprocessing pixels / 255, seed scoring rule)
    "top1": {"float32": 0.618, "uint16": 0.624, "uint8": 0.280},
    "top5": {"float32": 0.788, "uint16": 0.789, "uint8": 0.490},
}


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
    from ..train import load_trained

    t_start = time.perf_counter()
    folder = find_image_folder(data_dir)
    samples, bad_names = list_images(folder)
    model, record = load_trained(keras_dir(models_dir, name))
    choice = WeightsChoice(
        None if record.get("weights") in (None, "None", "keras:imagenet") else Path(record["weights"]),
        record.get("mode", "full" if model.output_shape[-1] == 1000 else "backbone"),
        record.get("mode_reason", "from the prepared model"),
    )
    alpha, size = record.get("alpha", 1.0), int(model.input_shape[1])
    class_info = class_files(data_dir) if choice.mode == "full" else None
    paths = {v: variant_dir(models_dir, name, v) for v in variants}
    with tempfile.TemporaryDirectory(prefix="quantlab-images-") as tmp:
        images = DecodedImages(samples, size, Path(tmp) / "decoded.npy", limit)
        if len(images) < 2:
            raise QuantlabError(f"{folder}: fewer than 2 decodable images; nothing to evaluate")
        # Keras float32 in-process: the reference the tfjs float32 figures should reproduce.
        from ...runtimes.keras import KerasRuntime

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
    mode = choice.mode
    rows, scores = scored_rows(
        measured,
        lambda outs: (
            score(mode, outs[0], ref32, images, class_info),
            score_per_example(mode, outs[0], ref32, images, class_info),
        ),
        tfjs_rows(runtime),
        name,
    )
    add_intervals(rows, scores)
    keras_metrics = score(choice.mode, keras_out, ref32, images, class_info)
    equalization = _equalization(model_root(models_dir, name), variants)
    if equalization and equalization["bias_correction"] and choice.mode == "backbone":
        equalization["bias_correction"]["unseen"] = unseen_by_calibration(
            equalization, images, outputs, [s.wnid for s in images.samples]
        )
    node_rss = getattr(runtime, "peak_rss_mb", lambda: None)()
    primary = "top1" if choice.mode == "full" else "loo_1nn"
    results = run_record(
        kind="demo",
        name=name,
        title=title,
        task="classification" if choice.mode == "full" else "features",
        primary_metric=primary,
        dataset={
            "name": "imagenet-samples",
            "source": "ajschumacher/imagen sample: 5 images for each of 200 ILSVRC synsets",
            "folder": str(folder),
            "n_test": len(images),
            "n_skipped": len(bad_names) + len(images.skipped),
            "skipped": bad_names + images.skipped,
            "n_train": 0,
        },
        variants=rows,
        weight_error=weights_section(model_root(models_dir, name), variants, references=WEIGHT_REFERENCES)
        if "float32" in variants
        else {},
        seed=SEED["top1"] if choice.mode == "full" else {},
        note=(
            "Seed: pixels / 255 (the model expects [-1, 1]) and substring scoring on file-name words. "
            f"This run: preprocessing '{preprocessing}', mode '{choice.mode}' ({choice.reason})."
        ),
        runtime_info=runtime.describe(),
        config={
            "alpha": alpha,
            "image_size": size,
            "batch": batch,
            "limit": limit,
            "workers": getattr(runtime, "ran", 1),
            "wall_seconds": round(time.perf_counter() - t_start, 1),
            **(config or {}),
        },
        mode=choice.mode,
        mode_reason=choice.reason,
        model_format=next(iter(measured.values())).artifact.format,
        sibling=sibling,  # the same weights in the other tfjs format: shown side by side
        weights=str(choice.path) if choice.path else "keras:imagenet",
        preprocessing=preprocessing,
        scoring=(
            {"rule": "seed (top1/top5) and wnid (top1_wnid/top5_wnid)", "preprocessing": preprocessing}
            if choice.mode == "full"
            else {"rule": "leave-one-out 1-NN by wnid, cosine", "preprocessing": preprocessing}
        ),
        keras_reference={"metrics": keras_metrics, "images_per_second": round(keras_ips, 2)},
        equalization=equalization,
        seed_top5=SEED["top5"],
        memory={"python_peak_rss_mb": round(_peak_rss_mb(), 1), "node_peak_rss_mb": node_rss},
    )
    write_results(out_dir, name, results)
    return results
