"""Keras (TensorFlow in Python) as a runtime: the reference. Loads the tfjs artifact itself via
tensorflowjs' loader, which dequantizes from the same manifest and shards that tfjs reads."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path

from ..errors import ArtifactError, QuantlabError
from ..tfjs import MODEL_JSON
from ..tfjs.artifacts import read_artifact
from .base import LoadedModel, PredictTimings, Runtime, n_examples, named_inputs


class KerasRuntime(Runtime):
    name = "keras"

    def load(self, model_dir: Path) -> LoadedModel:
        from ..infra.tfcompat import import_tensorflow

        import_tensorflow()
        from tensorflowjs.converters import load_keras_model

        art = read_artifact(model_dir)
        if art.format != "layers":
            raise ArtifactError(
                f"{model_dir}: the keras runtime reads layers models only, not {art.format} models"
            )
        t0 = time.perf_counter()
        model = load_keras_model(str(Path(model_dir) / MODEL_JSON))
        return KerasRuntime.from_keras_model(model, Path(model_dir), (time.perf_counter() - t0) * 1000)

    @staticmethod
    def from_keras_model(model, model_dir: Path | None = None, load_ms: float = 0.0) -> LoadedModel:
        def info(tensors, names):
            return [
                {"name": name, "shape": list(t.shape), "dtype": t.dtype.name}
                for t, name in zip(tensors, names, strict=True)
            ]

        return LoadedModel(
            model,
            model_dir or Path("."),
            load_ms,
            info(model.inputs, model.input_names),
            [{"name": la.name, "class_name": type(la).__name__} for la in model.layers],
            outputs=info(model.outputs, model.output_names),
            format="layers",
        )

    def predict(self, model, x, batch_size=256, layers=None, feeds=None):
        if feeds:
            raise QuantlabError(f"{self.name}: only tfjs runtimes take intermediate feeds", exit_code=2)
        from ..infra.tfcompat import keras

        net = model.handle
        x = named_inputs(model, x) if isinstance(x, Mapping) else x
        if layers:
            net = keras().Model(net.inputs, [net.get_layer(name).output for name in layers])
        t0 = time.perf_counter()
        out = net.predict(x, batch_size=batch_size, verbose=0)
        ms = (time.perf_counter() - t0) * 1000
        outputs = out if isinstance(out, list) else [out]
        return outputs, PredictTimings(predict_ms=ms, total_ms=ms, examples=n_examples(x))

    def describe(self) -> dict:
        from ..infra.tfcompat import import_tensorflow

        import_tensorflow()
        import tensorflow as tf

        return {"runtime": self.name, "backend": "tensorflow", "tensorflow_version": tf.__version__}
