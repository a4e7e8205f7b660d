"""`quantlab parity MODEL` for a user's own model: variants, inputs and the reference.

Variants are MODELS/<name>/<variant>/ as `quantlab analyze` writes them (reused when there,
converted when missing). The reference depends on the source (the record names it):
  keras-h5, keras-v3       "keras": the Keras model loaded from the file is the original; each
                           layers variant V runs in Keras with V's dequantized weights
  saved-model              "tensorflow-savedmodel": TensorFlow runs the SavedModel's serving
                           signature as the original
  tfjs-layers, tfjs-graph  "node-cpu float32": the user's own files in tfjs' node-cpu backend
Graph variants (and every variant of a bare tfjs model) run as the reference on V in node-cpu,
the reference backend, which also gives the input names every tfjs runtime takes."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import workspace
from ..convert.converter import VARIANTS, dtype_map_for
from ..errors import QuantlabError
from ..infra.progress import log
from ..input_spec import InputOptions, fixed_batch
from ..inputs import InputSet, load_inputs
from ..runtimes import make_runtime
from ..runtimes.base import Inputs, LoadedModel, Runtime, input_specs, n_examples
from ..runtimes.keras import KerasRuntime
from ..sources import ModelSource
from ..tfjs.artifacts import read_artifact
from .analyze import AnalyzeOptions, write_variants
from .evaluate import pad_to
from .parity import DEFAULT_ATOL, DEFAULT_RTOL, NOT_LOCALISED, Reference, compare, save_parity

REFERENCE_BACKEND = "node-cpu"


@dataclass
class ParityModelOptions:
    name: str
    variants: list[str] = field(default_factory=lambda: list(VARIANTS))
    runtimes: list[str] = field(default_factory=list)
    inputs: InputOptions = field(default_factory=InputOptions)
    output_format: str | None = None
    atol: float = DEFAULT_ATOL
    rtol: float = DEFAULT_RTOL
    timeout: float = 600.0
    batch_size: int = 256
    models_dir: Path = Path("models")
    out_dir: Path = Path("reports")
    workers: int | None = None  # Node runtimes: evaluator pool (None: pool.default_workers)
    executor: str = "local"
    ray_address: str | None = None


def ensure_variants(source: ModelSource, opts: ParityModelOptions, root: Path) -> dict[str, Path]:
    """MODELS/<name>/<variant>/ for every variant asked for: reused when its model.json is there
    (as analyze wrote it), else converted (float32 from the source, the others from float32)."""
    from ..convert.requantize import requantize
    from ..convert.weight_checks import check_weights_quantizable

    paths = {v: root / v for v in opts.variants}
    missing = [v for v in opts.variants if not (root / v / "model.json").is_file()]
    unknown = [v for v in missing if v not in VARIANTS]
    if unknown:
        raise QuantlabError(
            f"--variant {unknown[0]}: not in {root} and not one quantlab makes ({', '.join(VARIANTS)})",
            exit_code=2,
        )
    have32 = (root / "float32" / "model.json").is_file()
    for v in [*missing, *([] if have32 else ["float32"])]:
        if workspace.is_inside(source.path, root / v):
            raise QuantlabError(
                f"{source.path}: MODEL lies inside {root / v}, which this run would write; "
                f"copy it elsewhere or pass another --name",
                exit_code=2,
            )
    if have32:
        fmt = read_artifact(root / "float32").format
        if opts.output_format and opts.output_format != fmt:
            raise QuantlabError(
                f"--output-format {opts.output_format}: {root / 'float32'} is a tfjs {fmt} model "
                f"(written earlier); pass another --name or remove {root}",
                exit_code=2,
            )
        reused = [v for v in opts.variants if v not in missing]
        if reused:
            log.info("reusing %s (%s); remove it to convert again", root, ", ".join(reused))
        for v in missing:
            requantize(root / "float32", root / v, dtype_map_for(v), check_weights_quantizable)
    else:
        plan = AnalyzeOptions(name=opts.name, variants=missing, output_format=opts.output_format)
        write_variants(source, plan, root)
    return paths


def _original(
    source: ModelSource, float32: LoadedModel, node_cpu: Runtime | None
) -> tuple[str, Runtime, LoadedModel, str, str]:
    """(reference name, runtime, loaded original, row label, description) for the source."""
    if source.format in ("keras-h5", "keras-v3"):
        from ..convert.source import load_keras_file

        model = load_keras_file(source.path)
        return (
            "keras",
            KerasRuntime(),
            KerasRuntime.from_keras_model(model, source.path),
            "keras original",
            f"Keras on {source.path.name}",
        )
    if source.format == "saved-model":
        from ..runtimes.saved_model import SIGNATURE, SavedModelRuntime

        rt = SavedModelRuntime()
        loaded = rt.load(source.path, output_order=float32.output_names)
        return (
            "tensorflow-savedmodel",
            rt,
            loaded,
            "tensorflow original",
            f"TensorFlow on {source.path.name} ({source.detail}), signature {SIGNATURE!r}",
        )
    # A bare tfjs model: its own files (dequantized when already quantized) in node-cpu.
    folder = source.path if (source.path / "model.json").is_file() else float32.model_dir
    return (
        "node-cpu float32",
        node_cpu,
        node_cpu.load(folder),
        "node-cpu original",
        f"tfjs {REFERENCE_BACKEND} on {folder}",
    )


def model_inputs(specs, inputs: InputSet) -> Inputs:
    """One array for a single-input model, else {input name: array}; images scaled."""
    named = {s.name: inputs.batch(s.name, 0, inputs.n) for s in specs}
    return next(iter(named.values())) if len(named) == 1 else named


def parity_model(source: ModelSource, opts: ParityModelOptions) -> dict:
    """Run parity for a user's model; writes OUT/<name>/parity.json (and into its results.json)."""
    t_start = time.perf_counter()
    root = Path(opts.models_dir) / opts.name
    result_dir = Path(opts.out_dir) / opts.name
    workspace.claim(root, "models folder")
    workspace.claim(result_dir, "results folder")
    with workspace.locked(root), workspace.locked(result_dir):
        with contextlib.ExitStack() as stack:
            paths = ensure_variants(source, opts, root)
            fmt = read_artifact(root / "float32").format
            tfjs_reference = fmt == "graph" or source.is_tfjs
            node_cpu = None
            if tfjs_reference:
                node_cpu = stack.enter_context(make_runtime(REFERENCE_BACKEND, timeout=opts.timeout))
            per_variant = node_cpu if tfjs_reference else KerasRuntime()
            float32 = per_variant.load(root / "float32")  # the names and shapes tfjs runtimes take
            per_variant.unload(float32)
            name, rt, original, label, detail = _original(source, float32, node_cpu)
            if rt is node_cpu:
                stack.callback(lambda: node_cpu.evaluator.alive() and node_cpu.unload(original))
            specs = input_specs(float32)
            inputs = load_inputs(specs, opts.inputs)
            if inputs.synthetic:
                log.warning(
                    "no --inputs: %d synthetic examples in %s (seed %d)",
                    inputs.n,
                    inputs.description["range"],
                    inputs.description["seed"],
                )
            how = "Keras with each variant's dequantized weights" if per_variant.name == "keras" else (
                f"tfjs {REFERENCE_BACKEND} on each variant"
            )  # fmt: skip
            ref = Reference(
                name,
                per_variant,
                REFERENCE_BACKEND if per_variant is node_cpu else "keras",
                original,
                rt,
                label,
                f"{detail} for float32 and the quantization rows; {how} for the other runtime rows",
            )
            x, batch = model_inputs(specs, inputs), opts.batch_size
            fixed = fixed_batch(specs)
            if fixed:  # the model takes exactly `fixed` examples per call: whole batches, padded
                x, batch = pad_to(x, fixed), fixed
                if n_examples(x) != inputs.n:
                    log.info("batch fixed at %d: %d examples padded to %d (repeats of the last)",
                             fixed, inputs.n, n_examples(x))  # fmt: skip
            record = compare(
                paths, ref, x, opts.runtimes, opts.atol, opts.rtol, opts.timeout,
                batch, opts.workers, opts.executor, opts.ray_address,
            )  # fmt: skip
        record.update(
            {
                "model": opts.name,
                "source": source.describe(),
                "artifact_format": fmt,
                "inputs": {**inputs.description, "names": [s.name for s in specs]},
                "seconds": round(time.perf_counter() - t_start, 1),
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            }
        )
        if fmt == "graph":
            record["localisation"] = NOT_LOCALISED
        save_parity(opts.out_dir, opts.name, record)
    return record
