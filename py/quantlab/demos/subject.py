"""A demo as a subject: MODELS/<demo>/<variant>/ as `quantlab run` made them, its test set (or the
ImageNet sample images) as the inputs, and its trained Keras model as the parity reference."""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

import numpy as np

from ..analysis.parity import keras_reference
from ..analysis.subject import ParitySetup, Subject, TuneSetup
from ..convert.converter import dtype_map_for
from ..errors import ArtifactError
from ..infra.progress import log
from ..tfjs import MODEL_JSON
from ..workspace import keras_dir, variant_dir
from .registry import get_demo, is_image_demo

PARITY_EXAMPLES = 1000  # examples compared by default (0: all)
PARITY_IMAGES = 100  # MobileNetV2's default: 100 of the sample images


class DemoSubject(Subject):
    kind = "demo"

    def __init__(
        self,
        name: str,
        models_dir: Path,
        out_dir: Path,
        data_dir: Path | None = None,
        limit: int | None = None,
    ):
        super().__init__(name, models_dir, out_dir)
        self.data_dir = data_dir
        self.limit = limit  # None: the default above; 0: every example

    @property
    def extra_variants(self) -> tuple[str, ...]:
        return tuple(getattr(get_demo(self.name), "extra_variants", ()))

    def tune_limits(self) -> tuple[int, int]:
        """MobileNetV2 decodes and runs 224x224 images: 200 to search, 64 to rank on."""
        return (200, 64) if is_image_demo(self.name) else super().tune_limits()

    def check_variants(self, variants: list[str]) -> None:
        for v in variants:
            dtype_map_for(v)

    def claim(self) -> None:
        """OUT/<demo>/ is the demo's own, and a section is stored in a file of its own: nothing to
        claim or read first."""

    def claim_models(self) -> None:
        """MODELS/<demo>/ is the demo's own: nothing to claim."""

    def quantize(self, dtype_map: dict | None, custom_name: str | None) -> list[str]:
        import shlex

        if not dtype_map:
            get_demo(self.name).quantize(self.models_dir, data_dir=self.data_dir)
            return []
        from .pipeline import quantize_custom

        cmd = quantize_custom(self.name, self.models_dir, custom_name or "custom", dtype_map)
        return ["same as: " + shlex.join(cmd)] if cmd else []  # none for a graph model

    def variant_dirs(self, variants: list[str]) -> dict[str, Path]:
        paths = {v: variant_dir(self.models_dir, self.name, v) for v in variants}
        for folder in paths.values():
            if not (folder / MODEL_JSON).is_file():
                raise ArtifactError(f"{folder / 'model.json'}: missing; run `quantlab run {self.name}` first")
        return paths

    def _inputs(self, tmp: Path, limit: int | None = None) -> np.ndarray:
        limit = self.limit if limit is None else limit
        if is_image_demo(self.name):
            from .datasets.imagenet import DecodedImages, find_image_folder, list_images

            samples, _ = list_images(find_image_folder(self.data_dir))
            n = PARITY_IMAGES if limit is None else (limit or None)
            images = DecodedImages(samples, 224, tmp / "decoded.npy", n)
            return np.concatenate(list(images.batches(32, "keras")))
        data = get_demo(self.name).load(self.data_dir)
        n = PARITY_EXAMPLES if limit is None else (limit or len(data.x_test))
        return data.x_test[:n]

    def _keras_original(self):
        from .train import KERAS_FILE, load_trained

        folder = keras_dir(self.models_dir, self.name)
        if not (folder / KERAS_FILE).is_file():
            log.warning("%s: no trained Keras model; float32 is compared with its own artifact", folder)
            return None
        return load_trained(folder)[0]

    def parity_setup(self, stack: contextlib.ExitStack, timeout: float) -> ParitySetup:
        with tempfile.TemporaryDirectory(prefix="quantlab-parity-") as tmp:
            x = self._inputs(Path(tmp))
        return ParitySetup(keras_reference(self._keras_original()), x, 256)

    def diagnose_inputs(self, float32, limit: int) -> tuple[np.ndarray, dict]:
        with tempfile.TemporaryDirectory(prefix="quantlab-diagnose-") as tmp:
            x = self._inputs(Path(tmp), limit)
        what = "ImageNet sample images" if is_image_demo(self.name) else "test set"
        return x, {"inputs": {"kind": f"the demo's {what}", "n": len(x)}}

    def tune_runtime(self, opts):
        from ..analysis.executors import make_pool

        return make_pool(f"node-{opts.backend}", opts.workers, opts.timeout, opts.executor, opts.ray_address)

    def tune_setup(self, runtime, opts) -> TuneSetup:
        """The demo's test set (or the sample images) split into search and held-out probes."""
        from .train import KERAS_FILE, load_trained

        keras = keras_dir(self.models_dir, self.name)
        if not (keras / KERAS_FILE).is_file():
            load_trained(keras)  # the one line naming the command that trains it
        if is_image_demo(self.name):
            from .datasets.imagenet import class_files
            from .probes import MobilenetProbeFactory

            keras_model, _ = load_trained(keras)
            full_mode = keras_model.output_shape[-1] == 1000
            factory = MobilenetProbeFactory(
                self.data_dir,
                keras_model.input_shape[1],
                "full" if full_mode else "backbone",
                class_files(self.data_dir) if full_mode else None,
            )
            probe, held, split = factory.probes(opts.limit, opts.holdout, opts.seed)
            rank = factory.rank_probe(opts.rank_limit, opts.holdout, opts.seed) if opts.rank_limit else None
            return TuneSetup(probe, held, split, rank, close=factory.close)
        from .probes import trained_demo_probes, trained_demo_rank_probe

        probe, held, split = trained_demo_probes(
            self.name, self.data_dir, opts.limit, opts.holdout, opts.seed
        )
        rank = None
        if opts.rank_limit:
            rank = trained_demo_rank_probe(self.name, self.data_dir, opts.rank_limit, opts.holdout, opts.seed)
        return TuneSetup(probe, held, split, rank)

    def reproduce_tune(self, record: dict, base: str) -> None:
        from ..analysis.tune_model import quantlab_command

        if record.get("converter_command"):  # a layers model: the converter's command is there
            return
        # quantize DEMO --map starts from the demo's float32; another base is a tfjs model of its own
        source = Path(self.name) if base == "float32" else self.root / base
        record["quantlab_command"] = quantlab_command(source, record["verified"]["dtype_map"])
