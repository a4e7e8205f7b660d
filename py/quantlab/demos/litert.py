"""`quantlab run|evaluate DEMO --litert`: the trained demo's Keras model as LiteRT variants
(convert/litert.py), run in LiteRT.js on the same test examples as the tfjs variants, scored with
the demo's own metric. Full int8 is calibrated on the demo's training data, never on the test set
it is scored on."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..analysis.litert_run import (
    LITERT_BATCH,
    float32_parity,
    keras_outputs,
    litert_row,
    run_litert,
)
from ..analysis.run_record import Scorer, scored_rows
from ..convert.litert import write_litert_variants
from ..inputs import evenly_spaced
from ..workspace import keras_dir, model_root
from .base import DemoSpec

CALIBRATION = 100  # training examples, evenly spaced


def demo_litert(
    demo: DemoSpec, models_dir: Path, data, x: np.ndarray, score: Scorer, runtime_name: str, timeout: float
) -> tuple[list[dict], dict, dict[str, Path], dict]:
    """(rows, per-example scores, variant folders, runtime description with float32 parity)."""
    from .train import load_trained

    model, _ = load_trained(keras_dir(models_dir, demo.name))
    calib = np.asarray(data.x_train[evenly_spaced(len(data.x_train), CALIBRATION)], dtype=np.float32)
    note = f"{len(calib)} training examples of {demo.name}, evenly spaced (the test set is what is scored)"
    paths = write_litert_variants(
        model, model_root(models_dir, demo.name), LITERT_BATCH, [calib], calibration_note=note
    )
    reference = keras_outputs(model, [x])  # Keras' own outputs: their order is the one kept
    measured, info = run_litert(paths, {"x": x}, reference, runtime_name, timeout)
    info["float32_parity"] = float32_parity(measured["litert-float32"].outputs, reference, "keras")
    rows, scores = scored_rows(
        measured, score, lambda v, m, metrics: litert_row(v, paths[v], metrics, m, info), demo.name
    )
    return rows, scores, paths, info
