"""TensorFlow itself on a SavedModel: the reference for SavedModel sources (parity).

Loads with `tf.saved_model.load` and calls one signature (default `serving_default`) with named
inputs. Outputs come back in a given order of signature output names (the tfjs graph model's
order, whose outputs the converter names after the same signature keys), else sorted by name."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ..errors import ArtifactError, QuantlabError
from .base import LoadedModel, PredictTimings, Runtime, n_examples

SIGNATURE = "serving_default"


def _base(name: str) -> str:
    return name.split(":")[0]


class SavedModelRuntime(Runtime):
    name = "tensorflow-savedmodel"

    def __init__(self, signature: str = SIGNATURE):
        self.signature = signature

    def load(self, model_dir: Path, output_order: list[str] | None = None) -> LoadedModel:
        """`output_order`: signature output names (a ':0' suffix is ignored) in the order predict
        returns them; None: sorted by name."""
        from ..infra.tfcompat import import_tensorflow

        import_tensorflow()
        import tensorflow as tf

        t0 = time.perf_counter()
        try:
            obj = tf.saved_model.load(str(model_dir))
        except Exception as e:  # TF raises OSError, ValueError, NotFoundError... for foreign folders
            raise ArtifactError(f"{model_dir}: TensorFlow could not load the SavedModel ({e})") from e
        fn = obj.signatures.get(self.signature)
        if fn is None:
            have = ", ".join(obj.signatures) or "none"
            raise ArtifactError(f"{model_dir}: no {self.signature!r} signature (signatures: {have})")
        load_ms = (time.perf_counter() - t0) * 1000
        specs_in = fn.structured_input_signature[1]
        specs_out = fn.structured_outputs
        names = sorted(specs_out)
        if output_order:
            missing = [n for n in output_order if _base(n) not in specs_out]
            if missing:
                raise ArtifactError(
                    f"{model_dir}: signature {self.signature!r} has no output {', '.join(missing)} "
                    f"(it has {', '.join(names)})"
                )
            names = [_base(n) for n in output_order]

        def info(spec, key):
            shape = None if spec.shape.rank is None else list(spec.shape)
            return {"name": key, "shape": shape, "dtype": spec.dtype.name}

        return LoadedModel(
            (obj, fn),  # keep the loaded object alive: the function refers to its variables
            Path(model_dir),
            load_ms,
            [info(spec, key) for key, spec in specs_in.items()],
            outputs=[info(specs_out[k], k) for k in names],
            format="saved-model",
        )

    def predict(self, model, x, batch_size=256, layers=None, feeds=None):
        if feeds:
            raise QuantlabError(f"{self.name}: only tfjs runtimes take intermediate feeds", exit_code=2)
        import tensorflow as tf

        if layers:
            raise ArtifactError(f"{model.model_dir}: a SavedModel signature has no per-layer outputs")
        _, fn = model.handle
        specs = fn.structured_input_signature[1]
        if isinstance(x, Mapping):
            named = {_base(k): np.asarray(v) for k, v in x.items()}
        else:
            if len(specs) != 1:
                raise ArtifactError(f"{model.model_dir}: {len(specs)} inputs; pass {{name: array}}")
            named = {next(iter(specs)): np.asarray(x)}
        missing = [k for k in specs if k not in named]
        if missing:
            raise ArtifactError(
                f"{model.model_dir}: no array for signature input {', '.join(missing)} "
                f"(given {', '.join(named)})"
            )
        n = n_examples(named)
        parts: list[list[np.ndarray]] = [[] for _ in model.outputs]
        t0 = time.perf_counter()
        for start in range(0, n, batch_size):
            feed = {
                k: tf.constant(named[k][start : start + batch_size], dtype=spec.dtype)
                for k, spec in specs.items()
            }
            result = fn(**feed)
            for i, out in enumerate(model.outputs):
                parts[i].append(result[out["name"]].numpy())
        ms = (time.perf_counter() - t0) * 1000
        outputs = [np.concatenate(p) for p in parts]
        return outputs, PredictTimings(predict_ms=ms, total_ms=ms, examples=n)

    def describe(self) -> dict:
        from ..infra.tfcompat import import_tensorflow

        import_tensorflow()
        import tensorflow as tf

        return {
            "runtime": self.name,
            "backend": "tensorflow",
            "tensorflow_version": tf.__version__,
            "signature": self.signature,
        }
