"""A user's model as a subject: its source (any format analyze takes), its inputs (--inputs or
synthetic), MODELS/<name>/<variant>/ as `quantlab analyze` writes them (reused when there,
converted when missing), and the reference for parity, which depends on the source (the record
names it):
  keras-h5, keras-v3       "keras": the Keras model loaded from the file is the original; each
                           layers variant V runs in Keras with V's dequantized weights
  saved-model              "tensorflow-savedmodel": TensorFlow runs the SavedModel's serving
                           signature as the original
  tfjs-layers, tfjs-graph  "node-cpu float32": the user's own files in tfjs' node-cpu backend
Graph variants (and every variant of a bare tfjs model) run as the reference on V in node-cpu,
the reference backend, which also gives the input names every tfjs runtime takes."""

from __future__ import annotations

import contextlib
from pathlib import Path

from .. import workspace
from ..convert.converter import VARIANTS, dtype_map_for
from ..errors import QuantlabError
from ..infra.progress import log
from ..input_spec import InputOptions, fixed_batch
from ..inputs import InputSet, load_inputs
from ..runtimes import make_runtime
from ..runtimes.base import Inputs, LoadedModel, Runtime, head, input_specs, n_examples
from ..runtimes.keras import KerasRuntime
from ..sources import ModelSource
from ..tfjs import MODEL_JSON
from ..tfjs.artifacts import read_artifact
from .analyze import AnalyzeOptions, write_variants
from .evaluate import pad_to
from .jobs import BATCH_BYTES, sized, values_per_example
from .parity import NOT_LOCALISED, Reference
from .subject import ParitySetup, Subject, TuneSetup

REFERENCE_BACKEND = "node-cpu"
NOT_VARIANTS = {"keras", "source", "index.html"}  # names under MODELS/<name>/ that are no variant


def model_inputs(specs, inputs: InputSet) -> Inputs:
    """One array for a single-input model, else {input name: array}; images scaled."""
    named = {s.name: inputs.batch(s.name, 0, inputs.n) for s in specs}
    return next(iter(named.values())) if len(named) == 1 else named


class ModelSubject(Subject):
    kind = "model"

    def __init__(
        self,
        source: ModelSource,
        name: str,
        models_dir: Path,
        out_dir: Path,
        inputs: InputOptions | None = None,
        output_format: str | None = None,
        batch_size: int = 256,
        given: Path | None = None,
    ):
        super().__init__(name, models_dir, out_dir)
        self.source = source
        self.given = given or source.path  # MODEL as the user wrote it: what the printed commands name
        self.inputs = inputs or InputOptions()
        self.output_format = output_format
        self.batch_size = batch_size

    def check_variants(self, variants: list[str]) -> None:
        for v in variants:
            workspace.check_name(v, "--variant", NOT_VARIANTS)

    def claim(self) -> None:
        workspace.claim_model_root(self.root, self.source.model_json or self.source.path)
        workspace.claim(self.results_dir, "results folder")

    def check_made_from(self) -> None:
        workspace.check_model_root_source(
            self.root, self.source.model_json or self.source.path, "pass the --name it was analyzed under"
        )

    def claim_models(self) -> None:
        workspace.claim_model_root(self.root, self.source.model_json or self.source.path)

    def quantize(self, dtype_map: dict | None, custom_name: str | None) -> list[str]:
        import shlex

        from ..convert.converter import converter_command

        opts = AnalyzeOptions(
            name=self.name,
            custom_map=dtype_map,
            custom_name=custom_name or "custom",
            models_dir=self.models_dir,
        )
        if dtype_map:  # as for a demo: --map writes the one custom variant (beside its float32 source)
            opts.variants = ["float32"]
        paths, made = write_variants(self.source, opts, self.root)
        lines = [f"wrote {folder}" for folder in paths.values()]
        if not dtype_map:
            return lines
        if made["output_format"] == "layers":
            cmd = converter_command(paths["float32"] / MODEL_JSON, paths[opts.custom_name], dtype_map)
            return [*lines, "same as: " + shlex.join(cmd)]
        return [
            *lines,
            "graph models cannot be re-quantized by tensorflowjs_converter (tensorflow/tfjs#6154); "
            "this artifact was written with its weight writer (tensorflowjs.write_weights)",
        ]

    def variant_dirs(self, variants: list[str]) -> dict[str, Path]:
        """Reused when its model.json is there (as analyze wrote it), else converted (float32
        from the source, the others from float32)."""
        from ..convert.requantize import requantize
        from ..convert.weight_checks import check_weights_quantizable

        root = self.root
        paths = {v: workspace.variant_dir(self.models_dir, self.name, v) for v in variants}
        missing = [v for v in variants if not (root / v / MODEL_JSON).is_file()]
        unknown = [v for v in missing if v not in VARIANTS]
        if unknown:
            raise QuantlabError(
                f"--variant {unknown[0]}: not in {root} and not one quantlab makes ({', '.join(VARIANTS)})",
                exit_code=2,
            )
        have32 = (root / "float32" / MODEL_JSON).is_file()
        for v in [*missing, *([] if have32 else ["float32"])]:
            if workspace.is_inside(self.source.path, root / v):
                raise QuantlabError(
                    f"{self.source.path}: MODEL lies inside {root / v}, which this run would write; "
                    f"copy it elsewhere or pass another --name",
                    exit_code=2,
                )
        if have32:
            fmt = read_artifact(root / "float32").format
            if self.output_format and self.output_format != fmt:
                raise QuantlabError(
                    f"--output-format {self.output_format}: {root / 'float32'} is a tfjs {fmt} model "
                    f"(written earlier); pass another --name or remove {root}",
                    exit_code=2,
                )
            reused = [v for v in variants if v not in missing]
            if reused:
                log.info("reusing %s (%s); remove it to convert again", root, ", ".join(reused))
            for v in missing:
                requantize(root / "float32", root / v, dtype_map_for(v), check_weights_quantizable)
        else:
            plan = AnalyzeOptions(name=self.name, variants=missing, output_format=self.output_format)
            write_variants(self.source, plan, root)
        return paths

    def _original(
        self, float32: LoadedModel, node_cpu: Runtime | None
    ) -> tuple[str, Runtime, LoadedModel, str, str]:
        """(reference name, runtime, loaded original, row label, description) for the source."""
        source = self.source
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
        folder = source.path if (source.path / MODEL_JSON).is_file() else float32.model_dir
        return (
            "node-cpu float32",
            node_cpu,
            node_cpu.load(folder),
            "node-cpu original",
            f"tfjs {REFERENCE_BACKEND} on {folder}",
        )

    def parity_setup(self, stack: contextlib.ExitStack, timeout: float) -> ParitySetup:
        fmt = read_artifact(self.root / "float32").format
        tfjs_reference = fmt == "graph" or self.source.is_tfjs
        node_cpu = None
        if tfjs_reference:
            node_cpu = stack.enter_context(make_runtime(REFERENCE_BACKEND, timeout=timeout))
        per_variant = node_cpu if tfjs_reference else KerasRuntime()
        float32 = per_variant.load(self.root / "float32")  # the names and shapes tfjs runtimes take
        per_variant.unload(float32)
        name, rt, original, label, detail = self._original(float32, node_cpu)
        if rt is node_cpu:
            stack.callback(lambda: node_cpu.evaluator.alive() and node_cpu.unload(original))
        specs = input_specs(float32)
        inputs = self._load_inputs(specs)
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
        x = model_inputs(specs, inputs)
        batch = sized(self.batch_size, values_per_example(x), BATCH_BYTES)
        fixed = fixed_batch(specs)
        if fixed:  # the model takes exactly `fixed` examples per call: whole batches, padded
            x, batch = pad_to(x, fixed), fixed
            if n_examples(x) != inputs.n:
                log.info("batch fixed at %d: %d examples padded to %d (repeats of the last)",
                         fixed, inputs.n, n_examples(x))  # fmt: skip
        details = {
            "model": self.name,
            "source": self.source.describe(),
            "artifact_format": fmt,
            "inputs": {**inputs.description, "names": [s.name for s in specs]},
        }
        if fmt == "graph":
            details["localisation"] = NOT_LOCALISED
        return ParitySetup(ref, x, batch, details)

    def _load_inputs(self, specs) -> InputSet:
        inputs = load_inputs(specs, self.inputs)
        if inputs.synthetic:
            log.warning(
                "no --inputs: %d synthetic examples in %s (seed %d)",
                inputs.n,
                inputs.description["range"],
                inputs.description["seed"],
            )
        return inputs

    def diagnose_inputs(self, float32: LoadedModel, limit: int) -> tuple[Inputs, dict]:
        specs = input_specs(float32)
        inputs = self._load_inputs(specs)
        x = model_inputs(specs, inputs)
        if limit and n_examples(x) > limit:
            x = head(x, limit)
        return x, {
            "source": self.source.describe(),
            "inputs": {**inputs.description, "names": [s.name for s in specs]},
        }

    def tune_runtime(self, opts):
        return make_runtime(f"node-{opts.backend}", timeout=opts.timeout)

    def tune_setup(self, runtime, opts) -> TuneSetup:
        """float32 converted when missing; the inputs; the task and the outputs from a first
        prediction; the probes as for a demo (analysis/tune_model.py)."""
        import numpy as np

        from .. import tasks
        from .model_outputs import counted_outputs, output_names
        from .tune_model import ProbeOutputs, input_chunks, model_probes
        from .worker import load_model

        plan = AnalyzeOptions(name=self.name, variants=["float32"], models_dir=self.models_dir)
        write_variants(self.source, plan, self.root)
        loaded = load_model(runtime, self.root / "float32")
        try:
            specs = input_specs(loaded)
            inputs = load_inputs(specs, self.inputs)
            fixed = fixed_batch(specs)
            first = pad_to(next(input_chunks(inputs, np.arange(min(inputs.n, 8)))), fixed or 1)
            outs, _ = runtime.predict(loaded, first, batch_size=fixed or 256)
        finally:
            runtime.unload(loaded)
        task = tasks.detect_task(outs, inputs.labels, "auto")
        names = output_names(loaded.outputs, len(outs))
        chosen = ProbeOutputs(names, counted_outputs(names, opts.outputs), fixed)
        probe, held, split = model_probes(inputs, task, opts.limit, opts.holdout, outputs=chosen)
        return TuneSetup(
            probe, held, split, details={"source": self.source.describe(), "inputs": inputs.description}
        )

    def reproduce_tune(self, record: dict, base: str) -> None:
        from ..convert.source import source_converter_command
        from .tune_model import quantlab_command

        if record.get("converter_command"):
            return
        dtype_map = record["verified"]["dtype_map"]
        record["quantlab_command"] = quantlab_command(self.given, dtype_map)
        if not self.source.is_tfjs:  # a SavedModel or .h5 made into a graph model: the converter can, from it
            record["converter_command"] = source_converter_command(
                self.source, record["format"], self.root / "tuned", dtype_map
            )
