"""LiteRT variants (`.tflite`) of a Keras model or SavedModel, written by TensorFlow's own
`tf.lite.TFLiteConverter`, for LiteRT.js beside the tfjs variants:

  litert-float32        the model as it is
  litert-float16        float16 weights (`target_spec.supported_types = [tf.float16]`)
  litert-dynamic-int8   per-channel int8 weights, float activations (`Optimize.DEFAULT`)
  litert-int8           full integer: int8 weights and activations, calibrated on a representative
                        set (`representative_dataset`, `TFLITE_BUILTINS_INT8`); float inputs and
                        outputs, which LiteRT.js takes (it refuses int8 tensors)

LiteRT.js needs a fixed batch (a -1 batch fails at run): the model is converted through a
concrete function whose inputs have batch `batch`. Each variant's folder holds `model.tflite` and
`litert.json` (the recipe: the Python calls that make it, and the calibration set's size)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import QuantlabError
from ..infra.fsutil import write_json_atomic
from ..infra.progress import log

LITERT_VARIANTS = ("litert-float32", "litert-float16", "litert-dynamic-int8", "litert-int8")
MODEL_FILE = "model.tflite"
RECIPE_FILE = "litert.json"

RECIPES = {
    "litert-float32": [],
    "litert-float16": ["converter.optimizations = [tf.lite.Optimize.DEFAULT]",
                       "converter.target_spec.supported_types = [tf.float16]"],
    "litert-dynamic-int8": ["converter.optimizations = [tf.lite.Optimize.DEFAULT]"],
    "litert-int8": ["converter.optimizations = [tf.lite.Optimize.DEFAULT]",
                    "converter.representative_dataset = calibration  # batches of the calibration set",
                    "converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]"],
}  # fmt: skip


def _concrete(model, batch: int):
    """The model's call as a concrete function with a fixed batch (Keras model or a loaded
    SavedModel's serving signature)."""
    import tensorflow as tf

    if hasattr(model, "inputs") and hasattr(model, "call"):  # Keras
        specs = [
            tf.TensorSpec([batch, *t.shape[1:]], t.dtype, name=t.name.split(":")[0]) for t in model.inputs
        ]
        fn = tf.function(lambda *xs: model(list(xs) if len(xs) > 1 else xs[0], training=False))
        return fn.get_concrete_function(*specs)
    signature = model.signatures["serving_default"]
    args = signature.structured_input_signature[1]
    specs = {k: tf.TensorSpec([batch, *v.shape[1:]], v.dtype, name=k) for k, v in args.items()}
    fn = tf.function(lambda **kw: signature(**kw))
    return fn.get_concrete_function(**specs)


@contextlib.contextmanager
def _quiet():
    """The converter's C++ logs (absl warnings, "fully_quantize: ...") written straight to the
    process's stdout and stderr: kept off the user's terminal and out of --json output."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)


def convert_one(model, variant: str, batch: int, calibration: Sequence[np.ndarray] | None) -> bytes:
    """One variant's .tflite bytes. calibration: per input, an array of calibration examples."""
    import tensorflow as tf

    concrete = _concrete(model, batch)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], model)
    if variant in ("litert-float16", "litert-dynamic-int8", "litert-int8"):
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if variant == "litert-float16":
        converter.target_spec.supported_types = [tf.float16]
    if variant == "litert-int8":
        if not calibration or len(calibration[0]) < batch:
            raise QuantlabError(
                f"litert-int8 needs a calibration set of at least one batch ({batch} examples)", exit_code=2
            )
        n = len(calibration[0]) - len(calibration[0]) % batch

        def representative():
            for k in range(0, n, batch):
                yield [np.asarray(c[k : k + batch], dtype=np.float32) for c in calibration]

        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    try:
        with _quiet():
            return converter.convert()
    except Exception as e:  # the converter's own message names the op it refuses
        raise QuantlabError(
            f"{variant}: the TFLite converter refused the model: {refusal(str(e))}", exit_code=4
        ) from None


def refusal(message: str) -> str:
    """The converter's reason in a line: the ops it names (MLIR's "'tf.MatrixDeterminant' op is
    neither a custom op nor a flex op"), else its first line that mentions an op."""
    ops = dict.fromkeys(re.findall(r"'((?:tf|tfl)\.\w+)' op ([^\n]*)", message))
    if ops:
        named = sorted({op for op, _ in ops})
        why = next(iter(ops))[1].strip().rstrip(".")
        return f"op {', '.join(named)}: {why}"[:300]
    lines = [ln.strip() for ln in message.splitlines() if ln.strip()] or ["(no message)"]
    return next((ln for ln in lines if " op" in ln.lower()), lines[0])[:300]


def write_litert_variants(
    model, root: Path, batch: int, calibration: Sequence[np.ndarray] | None, variants=LITERT_VARIANTS,
    calibration_note: str = "",
) -> dict[str, Path]:  # fmt: skip
    """MODELS/<name>/<variant>/model.tflite + litert.json for each variant (atomic per file)."""
    log.info("writing %s with tf.lite.TFLiteConverter (batch %d)", ", ".join(variants), batch)
    paths = {}
    for variant in variants:
        folder = Path(root) / variant
        folder.mkdir(parents=True, exist_ok=True)
        data = convert_one(model, variant, batch, calibration)
        tmp = folder / f".{MODEL_FILE}.part"
        tmp.write_bytes(data)
        tmp.replace(folder / MODEL_FILE)
        recipe = {
            "variant": variant,
            "batch": batch,
            "python": [
                "converter = tf.lite.TFLiteConverter.from_concrete_functions([fixed_batch_fn], model)",
                *RECIPES[variant],
                "open('model.tflite', 'wb').write(converter.convert())",
            ],
            "calibration": calibration_note if variant == "litert-int8" else None,
            "bytes": len(data),
        }
        write_json_atomic(folder / RECIPE_FILE, recipe)
        paths[variant] = folder
    return paths


def litert_folders(root: Path) -> dict[str, Path]:
    """The LiteRT variants under MODELS/<name>/ (folders with a model.tflite), in LITERT_VARIANTS'
    order, then any other."""
    root = Path(root)
    found = {p.name: p for p in sorted(root.iterdir()) if (p / MODEL_FILE).is_file()} if root.is_dir() else {}
    order = [v for v in LITERT_VARIANTS if v in found] + [v for v in found if v not in LITERT_VARIANTS]
    return {v: found[v] for v in order}


def read_recipe(folder: Path) -> dict:
    return json.loads((Path(folder) / RECIPE_FILE).read_text())
