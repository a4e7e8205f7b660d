"""Keras (TensorFlow in Python) as a runtime: the reference. Loads the tfjs artifact itself via
tensorflowjs' loader, which dequantizes from the same manifest and shards that tfjs reads."""

from __future__ import annotations

import time
from pathlib import Path

from ..artifacts import read_artifact
from .base import LoadedModel, PredictTimings, Runtime


class KerasRuntime(Runtime):
    name = "keras"

    def load(self, model_dir: Path) -> LoadedModel:
        from ..tfcompat import import_tensorflow

        import_tensorflow()
        from tensorflowjs.converters import load_keras_model

        read_artifact(model_dir)
        t0 = time.perf_counter()
        model = load_keras_model(str(Path(model_dir) / "model.json"))
        layers = [{"name": layer.name, "class_name": type(layer).__name__} for layer in model.layers]
        return LoadedModel(
            model,
            Path(model_dir),
            (time.perf_counter() - t0) * 1000,
            [{"shape": list(model.input_shape)}],
            layers,
        )

    @staticmethod
    def from_keras_model(model, model_dir: Path | None = None) -> LoadedModel:
        return LoadedModel(
            model,
            model_dir or Path("."),
            0.0,
            [{"shape": list(model.input_shape)}],
            [{"name": la.name, "class_name": type(la).__name__} for la in model.layers],
        )

    def predict(self, model, x, batch_size=256, layers=None):
        from ..tfcompat import keras

        net = model.handle
        if layers:
            net = keras().Model(net.inputs, [net.get_layer(name).output for name in layers])
        t0 = time.perf_counter()
        out = net.predict(x, batch_size=batch_size, verbose=0)
        ms = (time.perf_counter() - t0) * 1000
        outputs = out if isinstance(out, list) else [out]
        return outputs, PredictTimings(predict_ms=ms, total_ms=ms, examples=len(x))

    def describe(self) -> dict:
        from ..tfcompat import import_tensorflow

        import_tensorflow()
        import tensorflow as tf

        return {"runtime": self.name, "backend": "tensorflow", "tensorflow_version": tf.__version__}
