"""The graph demo's variants: the Keras model converted by the stock converter to a graph model,
quantized by the converter's weight writer; and its extra variants, cross-layer equalized and
bias-corrected."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from ...convert.converter import VARIANTS
from ...errors import ArtifactError
from ...infra.progress import log
from ...workspace import STEP_MARKER
from ..datasets.imagenet import DecodedImages, find_image_folder, list_images


def write_graph_variants(
    model, root: Path, variants=VARIANTS, data_dir: Path | None = None
) -> dict[str, Path]:
    """The graph demo's variants, as a user would make them: the Keras model saved as a
    SavedModel, converted by the stock tensorflowjs_converter to a float32 tfjs graph model
    (BatchNorm folded into the conv kernels), then quantized by the converter's own weight writer
    (byte-identical to the converter's --quantize_* flags on the SavedModel: tests/analyze)."""
    from ...convert.converter import dtype_map_for
    from ...convert.requantize import requantize
    from ...convert.source import run_converter
    from ...convert.weight_checks import check_weights_quantizable
    from ...infra.tfcompat import save_for_converter
    from ...sources import ModelSource

    root = Path(root)
    with tempfile.TemporaryDirectory(prefix="quantlab-sm-") as tmp:
        save_for_converter(model, tmp)
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
    from ...convert.converter import dtype_map_for
    from ...convert.equalize import equalize_artifact
    from ...convert.requantize import requantize
    from ...convert.weight_checks import check_weights_quantizable
    from ...infra.fsutil import write_json_atomic

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
    from ...convert.bias_correction import bias_correct_artifact
    from ...runtimes import make_runtime

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
