"""Graph-model fixtures: tiny SavedModels converted by the real `tensorflowjs_converter` CLI,
with TensorFlow's own outputs of each SavedModel as the independent reference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


def _saved_models(root: Path) -> dict[str, dict]:
    """name -> {"saved_model", "inputs" {name: array}, "expected" {output name: array}}."""
    from quantlab.infra.tfcompat import import_tensorflow, keras

    import_tensorflow()
    import tensorflow as tf

    rng = np.random.default_rng(7)

    class TwoInTwoOut(tf.Module):
        """float32 features [None, 4] and int32 ids [None]; a float32 and an int32 output."""

        def __init__(self):
            self.w = tf.Variable(rng.normal(size=(4, 3)).astype("float32"))
            self.b = tf.Variable(rng.normal(size=(3,)).astype("float32"))
            self.emb = tf.Variable(rng.normal(size=(10, 3)).astype("float32"))

        @tf.function(
            input_signature=[
                tf.TensorSpec([None, 4], tf.float32, name="features"),
                tf.TensorSpec([None], tf.int32, name="ids"),
            ]
        )
        def serve(self, features, ids):
            # (matmul + rank-1 bias) * embedding: tfjs-wasm's fused MatMul takes only a rank-1
            # bias, so `matmul + gather(...)` (which the converter fuses) fails there.
            h = (tf.matmul(features, self.w) + self.b) * tf.gather(self.emb, ids)
            return {"scores": tf.nn.softmax(h), "best": tf.argmax(h, axis=1, output_type=tf.int32)}

    class Loop(tf.Module):
        """A tf.while_loop: a graph with control flow, which tfjs runs only with executeAsync."""

        @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32, name="x")])
        def serve(self, x):
            def body(i, y):
                return i + 1, tf.tanh(y * 1.5) + 0.25

            _, y = tf.while_loop(lambda i, y: i < 4, body, [tf.constant(0), x])
            return {"y": y}

    made = {}
    n = 37  # not a multiple of the batch sizes used: the last batch is short
    two = TwoInTwoOut()
    features = rng.normal(size=(n, 4)).astype("float32")
    inputs = {"features": features, "ids": rng.integers(0, 10, n).astype("int32")}
    loop = Loop()
    for name, module, x in (
        ("two_in_two_out", two, inputs),
        ("control_flow", loop, {"x": rng.normal(size=(n, 3)).astype("float32")}),
    ):
        sm = root / name / "saved_model"
        tf.saved_model.save(module, str(sm), signatures={"serving_default": module.serve})
        fn = tf.saved_model.load(str(sm)).signatures["serving_default"]
        expected = {k: v.numpy() for k, v in fn(**{k: tf.constant(v) for k, v in x.items()}).items()}
        made[name] = {"saved_model": sm, "inputs": x, "expected": expected}

    # A Keras-made (tf_keras 2) functional model with two inputs and two outputs, saved as a SavedModel.
    k = keras()
    a = k.Input((3,), name="a")
    b = k.Input((2,), name="b")
    h = k.layers.Dense(5, activation="relu", name="hidden")(k.layers.Concatenate(name="cat")([a, b]))
    out_reg = k.layers.Dense(1, name="reg")(h)
    out_cls = k.layers.Dense(4, activation="softmax", name="cls")(h)
    model = k.Model([a, b], [out_reg, out_cls])
    model.set_weights([rng.normal(size=w.shape).astype("float32") for w in model.get_weights()])
    x = {"a": rng.normal(size=(n, 3)).astype("float32"), "b": rng.normal(size=(n, 2)).astype("float32")}
    sm = root / "keras_two_in_two_out" / "saved_model"
    model.save(str(sm), save_format="tf")
    fn = tf.saved_model.load(str(sm)).signatures["serving_default"]
    expected = {k_: v.numpy() for k_, v in fn(**{k_: tf.constant(v) for k_, v in x.items()}).items()}
    made["keras_two_in_two_out"] = {"saved_model": sm, "inputs": x, "expected": expected}
    return made


@pytest.fixture(scope="session")
def graph_models(tmp_path_factory) -> dict[str, dict]:
    """Each entry gains "dir": the tfjs graph model that `tensorflowjs_converter --input_format
    tf_saved_model --output_format tfjs_graph_model` writes (its own convert(argv), run by
    quantlab's converter step in this process)."""
    from quantlab.convert.source import run_converter
    from quantlab.sources import ModelSource

    root = tmp_path_factory.mktemp("graph_models")
    made = _saved_models(root)
    for name, m in made.items():
        m["dir"] = root / name / "tfjs"
        run_converter(ModelSource(m["saved_model"], "saved-model", "SavedModel"), m["dir"], "graph")
    return made
