"""Tiny user models in every format a user may bring, made once per session (seconds)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="session")
def user_models(tmp_path_factory) -> dict[str, Path]:
    """A trained-ish two-class-plus classifier with BatchNorm as .h5, .keras and Keras SavedModel;
    a plain tf.Module SavedModel; a two-input two-output Keras model; and test data as npz."""
    from quantlab.infra.tfcompat import import_tensorflow, keras, seed_everything

    import_tensorflow()
    import tensorflow as tf

    k = keras()
    seed_everything(7)
    root = tmp_path_factory.mktemp("user_models")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 8)).astype(np.float32)
    y = np.argmax(x[:, :4], axis=1)
    inp = k.Input((8,), name="features")
    h = k.layers.Dense(32, activation="relu", name="hidden")(inp)
    h = k.layers.BatchNormalization(name="norm")(h)
    out = k.layers.Dense(4, activation="softmax", name="probs")(h)
    model = k.Model(inp, out)
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=30, batch_size=32, verbose=0)
    model.save(root / "clf.h5")
    model.save(root / "clf.keras")
    model.save(root / "clf_savedmodel", save_format="tf")
    np.savez(root / "clf.npz", features=x, y=y)
    np.save(root / "clf_x.npy", x)

    module = tf.Module()
    module.w = tf.Variable(rng.normal(size=(8, 3)).astype(np.float32))
    module.serve = tf.function(
        lambda x: {"scores": tf.nn.relu(tf.matmul(x, module.w))},
        input_signature=[tf.TensorSpec([None, 8], tf.float32, name="x")],
    )
    tf.saved_model.save(module, str(root / "plain_savedmodel"), signatures=module.serve)

    a, b = k.Input((3,), name="a"), k.Input((2,), name="b")
    joined = k.layers.Concatenate(name="join")([a, b])
    two = k.Model([a, b], [k.layers.Dense(2, name="out1")(joined), k.layers.Dense(1, name="out2")(joined)])
    two.save(root / "two_io.h5")
    np.savez(root / "two_io.npz", a=rng.normal(size=(20, 3)), b=rng.normal(size=(20, 2)))
    return {p.name: p for p in root.iterdir()}


@pytest.fixture(scope="session")
def clf_graph(user_models, tmp_path_factory) -> Path:
    """clf's Keras SavedModel as the stock converter writes it (a float32 tfjs graph model), made
    once: the tests that need a converted graph model, not the conversion."""
    from tests.conftest import stock_converter

    dest = tmp_path_factory.mktemp("clf_graph") / "float32"
    args = ["--input_format", "tf_saved_model", "--output_format", "tfjs_graph_model"]
    stock_converter([*args, user_models["clf_savedmodel"], dest])
    return dest
