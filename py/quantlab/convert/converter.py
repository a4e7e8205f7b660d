"""Keras -> tfjs layers model, plus the quantized variants the converter makes.

Variants are written with `tensorflowjs.converters.save_keras_model(..., quantization_dtype_map)`,
the function behind `tensorflowjs_converter`; tests check byte identity with the real CLI's
layers->layers conversion (DESIGN 2.2)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ..errors import QuantlabError
from ..infra.fsutil import atomic_dir
from ..infra.test_hooks import hold
from .weight_checks import check_weights_quantizable

VARIANTS = ("float32", "float16", "uint16", "uint8")
QUANT_DTYPES = ("float16", "uint16", "uint8")


def dtype_map_for(variant: str) -> dict | None:
    """The converter's quantization_dtype_map for a whole-model variant."""
    if variant == "float32":
        return None
    if variant not in QUANT_DTYPES:
        raise QuantlabError(
            f"unknown variant {variant!r}; valid variants: {', '.join(VARIANTS)}", exit_code=2
        )
    return {variant: True}


def inference_copy(model):
    """The model without its compile state. The converter's layers->layers path reloads the model
    uncompiled, so a compiled model's training_config would make our bytes differ from its."""
    if getattr(model, "optimizer", None) is None:
        return model
    from ..infra.tfcompat import keras

    clone = keras().models.clone_model(model)
    clone.set_weights(model.get_weights())
    return clone


def weight_names(model) -> list[str]:
    """Weight names as the converter writes them into the manifest."""
    return [w.name.split(":")[0] for w in model.weights]


def check_dtype_map(dtype_map: dict | None, names: list[str]) -> dict[str, str]:
    """Weight name -> dtype for a converter map; a pattern that matches no weight, or a weight
    that two dtypes claim, is an error (the converter silently ignores the first)."""
    import fnmatch

    from ..infra.tfcompat import import_tensorflow

    import_tensorflow()
    from tensorflowjs.quantization import map_layers_to_quantization_dtype

    for dtype, patterns in (dtype_map or {}).items():
        if dtype not in QUANT_DTYPES:
            raise QuantlabError(f"unknown quantization dtype {dtype!r}; valid: {', '.join(QUANT_DTYPES)}")
        if patterns is True:
            continue
        for pattern in [patterns] if isinstance(patterns, str) else patterns:
            if not fnmatch.filter(names, pattern):
                raise QuantlabError(
                    f"--quantize_{dtype} pattern {pattern!r} matches no weight; weights are named like "
                    f"{', '.join(names[:4])}, ..."
                )
    try:
        mapping = map_layers_to_quantization_dtype(names, dtype_map)
    except ValueError as e:
        raise QuantlabError(f"quantization map {dtype_map}: {e}") from e
    return {name: np_dtype.__name__ for name, np_dtype in mapping.items()}


def save_tfjs(model, folder: Path, quantization_dtype_map: dict | None = None) -> Path:
    """Write model.json + shards atomically. A map is {dtype: True | [weight-name patterns]}."""
    from ..infra.tfcompat import import_tensorflow

    import_tensorflow()
    from tensorflowjs.converters import save_keras_model

    model = inference_copy(model)
    names = weight_names(model)
    dtypes = check_dtype_map(quantization_dtype_map, names)
    # NaN/Inf weights, or float16-bound values beyond 65504, would be written silently wrong.
    check_weights_quantizable(zip(names, model.get_weights(), strict=True), dtypes)
    with atomic_dir(folder) as tmp:
        try:
            save_keras_model(model, str(tmp), quantization_dtype_map=quantization_dtype_map)
        except ValueError as e:  # e.g. two dtypes matching one weight
            raise QuantlabError(f"quantization map {quantization_dtype_map}: {e}") from e
        hold("convert")
    return folder


def write_variants(model, models_dir: Path, variants=VARIANTS) -> dict[str, Path]:
    model = inference_copy(model)
    return {v: save_tfjs(model, models_dir / v, dtype_map_for(v)) for v in variants}


def converter_command(src_model_json: Path, out_dir: Path, dtype_map: dict | None) -> list[str]:
    """The stock `tensorflowjs_converter` command that makes the same artifact from float32."""
    cmd = [
        "tensorflowjs_converter",
        "--input_format",
        "tfjs_layers_model",
        "--output_format",
        "tfjs_layers_model",
        str(src_model_json),
        str(out_dir),
    ]
    return cmd + quantize_flags(dtype_map)


def quantize_flags(dtype_map: dict | None) -> list[str]:
    """The converter's --quantize_* flags for a dtype map. They go after the positionals: a bare
    --quantize_* flag (all weights) placed before them would swallow the input path (DESIGN 2.2)."""
    flags = []
    for dtype, patterns in (dtype_map or {}).items():
        flags.append(f"--quantize_{dtype}")
        if patterns is not True:
            flags.append(",".join(patterns))
    return flags


def run_converter_cli(src_model_json: Path, out_dir: Path, dtype_map: dict | None) -> None:
    """Run the real converter CLI in a subprocess (it leaves Keras state unusable in-process)."""
    cmd = converter_command(src_model_json, out_dir, dtype_map)
    exe = Path(sys.executable).with_name("tensorflowjs_converter")
    cmd[0] = str(exe) if exe.exists() else cmd[0]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise QuantlabError(f"tensorflowjs_converter failed for {src_model_json}: {tail}")
