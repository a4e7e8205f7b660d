"""A user's model source -> its float32 tfjs artifact, by the stock converter's own code.

Keras files go to a layers model through `save_keras_model` (the function behind
`tensorflowjs_converter`; byte-identical, DESIGN 2.2) or to a graph model through the converter
CLI; SavedModels through the converter's own entry point in this process (`tf_saved_model ->
tfjs_graph_model`); an existing tfjs model is rewritten from its own
weights. Quantized variants are then written from that float32 artifact (requantize.py)."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from ..errors import ArtifactError, QuantlabError
from ..infra.fsutil import atomic_dir
from ..infra.progress import log
from ..infra.tfcompat import save_for_converter
from ..sources import ModelSource
from ..tfjs import MODEL_JSON

OUTPUT_FORMATS = ("layers", "graph")


def converter_args(source: ModelSource, output_format: str) -> list[str]:
    """The stock converter's --input_format/--output_format for this source, or a usage error."""
    fmt = source.format
    if output_format == "graph":
        if fmt == "saved-model":
            return ["--input_format", "tf_saved_model", "--output_format", "tfjs_graph_model"]
        if fmt == "keras-h5":
            return ["--input_format", "keras", "--output_format", "tfjs_graph_model"]
    elif output_format == "layers":
        if fmt == "keras-h5":
            return ["--input_format", "keras", "--output_format", "tfjs_layers_model"]
    raise QuantlabError(
        f"--output-format {output_format}: the converter cannot turn a {fmt} ({source.detail or fmt}) "
        f"into a tfjs {output_format} model; use --output-format {source.natural_output}",
        exit_code=2,
    )


def source_converter_command(
    source: ModelSource, output_format: str, dest: Path, dtype_map: dict | None
) -> list[str] | None:
    """The stock converter command that makes `dest` (the float32 conversion of `source`,
    quantized by `dtype_map`) straight from the user's own file, or None when the converter
    cannot read that source (a .keras v3 file, a tfjs model: tensorflow/tfjs#6154)."""
    try:
        args = converter_args(source, output_format)
    except QuantlabError:
        return None
    from .converter import quantize_flags

    return ["tensorflowjs_converter", *args, str(source.path), str(dest), *quantize_flags(dtype_map)]


def _unknown_class(message: str) -> str | None:
    m = re.search(r"Unknown (?:layer|object|class)[^'\"`]*['\"`]?([A-Za-z_][\w.]*)", message)
    return m.group(1) if m else None


def load_keras_file(path: Path):
    """A Keras 2 (tf_keras) model from .h5 or .keras, uncompiled; an unknown class is named."""
    from ..infra.tfcompat import keras

    k = keras()
    try:
        return k.models.load_model(str(path), compile=False)
    except Exception as e:  # Keras raises ValueError, TypeError, OSError... for foreign files
        msg = " ".join(str(e).split())
        cls = _unknown_class(msg)
        if cls:
            raise ArtifactError(
                f"{path}: uses a layer class Keras does not know: {cls} (custom layers cannot run in "
                f"tfjs without registering them in JavaScript)"
            ) from e
        raise ArtifactError(f"{path}: Keras could not load it ({msg[:300]})") from e


def run_converter(source: ModelSource, dest: Path, output_format: str) -> list[str]:
    """Run the real converter on `source`, a SavedModel; returns the equivalent CLI command (for
    the record). Through the CLI's own entry point (`converter.convert(argv)`) in this process,
    which has TensorFlow loaded already: the same code and bytes as the CLI, without a second
    interpreter importing TensorFlow (~8 s a conversion). Keras files never come here: they are
    loaded and saved as a SavedModel first (`write_float32`), as the converter itself does."""
    args = converter_args(source, output_format)
    with atomic_dir(dest) as tmp:
        log.info("converting %s with tensorflowjs_converter %s", source.path, " ".join(args))
        ok, errors = convert_in_process([*args, str(source.path), str(tmp)])
        if not ok or not (tmp / MODEL_JSON).is_file():
            lines = [ln for ln in errors.strip().splitlines() if ln.strip()] or ["no output"]
            detail = next((ln for ln in reversed(lines) if "Error" in ln or "error" in ln), lines[-1])
            cls = _unknown_class(errors)
            if cls:
                raise ArtifactError(f"{source.path}: uses a class the converter does not know: {cls}")
            raise ArtifactError(f"{source.path}: tensorflowjs_converter failed: {detail.strip()[:300]}")
    return ["tensorflowjs_converter", *args, str(source.path), str(dest)]


def convert_in_process(argv: list[str]) -> tuple[bool, str]:
    """`tensorflowjs_converter ARGV` through its own `convert(argv)`; (ok, what it printed and the
    error). Its prints are captured, not mixed into quantlab's terminal."""
    import contextlib
    import io

    from ..infra.tfcompat import import_tensorflow, quiet_native_logs

    import_tensorflow()  # quietly, as everywhere: the converter imports TF-DF and more
    from tensorflowjs.converters import converter

    said = io.StringIO()
    try:
        with contextlib.redirect_stdout(said), contextlib.redirect_stderr(said), quiet_native_logs():
            converter.convert(argv)
    except (Exception, SystemExit) as e:  # argparse exits; the converter raises ValueError...
        return False, f"{said.getvalue()}\n{type(e).__name__}: {e}"
    return True, said.getvalue()


def check_output_format(source: ModelSource, output_format: str | None) -> str:
    """The tfjs format `source` becomes (default: its natural one); exit 2 for one it cannot."""
    output_format = output_format or source.natural_output
    if output_format not in OUTPUT_FORMATS:
        raise QuantlabError(
            f"--output-format {output_format!r}: valid: {', '.join(OUTPUT_FORMATS)}", exit_code=2
        )
    have = source.format.removeprefix("tfjs-")
    if source.is_tfjs and output_format != have:
        raise QuantlabError(
            f"--output-format {output_format}: {source.path} is a tfjs {have} model; "
            "tfjs models keep their format",
            exit_code=2,
        )
    return output_format


def write_float32(source: ModelSource, dest: Path, output_format: str | None = None) -> dict:
    """Write the float32 tfjs artifact of `source` to `dest`; returns how it was made."""
    from ..infra.tfcompat import import_tensorflow
    from .requantize import requantize

    output_format = check_output_format(source, output_format)
    import_tensorflow()
    if source.is_tfjs:
        requantize(source.model_json, dest, None)
        how = "rewritten from its own weights (tensorflowjs.read_weights / write_weights)"
        if source.detail.startswith("already quantized"):
            how += f"; {source.detail}: the float32 reference is its dequantized weights"
            log.warning(
                "%s: its weights are %s; float32 here means its dequantized weights, so the figures "
                "say what re-quantizing it costs, not what quantizing the original model did",
                source.model_json,  # the manifest: its folder may hold other models
                source.detail,
            )
        return {"output_format": output_format, "how": how, "command": None}
    keras_sm = source.format == "saved-model" and "Keras" in source.detail
    if (source.format in ("keras-h5", "keras-v3") or keras_sm) and output_format == "layers":
        # Through save_keras_model: the converter's keras_saved_model path fails on TF 2.19 with
        # "numpy() is only available when eager execution is enabled".
        from .converter import save_tfjs

        save_tfjs(load_keras_file(source.path), dest)
        return {"output_format": "layers", "how": "tensorflowjs.converters.save_keras_model", "command": None}
    if source.format in ("keras-v3", "keras-h5"):
        # The converter has no .keras input: go through a SavedModel of the loaded model. For an
        # .h5 that is what `--input_format keras --output_format tfjs_graph_model` does itself
        # (load_model, save as a SavedModel, convert it), here without a second TensorFlow import.
        model = load_keras_file(source.path)
        with tempfile.TemporaryDirectory(prefix="quantlab-sm-") as tmp:
            save_for_converter(model, tmp)
            cmd = run_converter(ModelSource(Path(tmp), "saved-model", "Keras SavedModel"), dest, "graph")
        if source.format == "keras-h5":
            cmd = ["tensorflowjs_converter", *converter_args(source, "graph"), str(source.path), str(dest)]
        return {"output_format": "graph", "how": "Keras SavedModel -> tensorflowjs_converter", "command": cmd}
    cmd = run_converter(source, dest, output_format)
    return {"output_format": output_format, "how": "tensorflowjs_converter", "command": cmd}
