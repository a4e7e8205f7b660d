"""The seed's architectures (tfjs-examples quantization/model_*.js), rebuilt in tf-keras."""

from __future__ import annotations

from .tfcompat import keras


def housing_mlp(n_features: int = 8):
    """80-120-20-10-1 MLP with dropout; MAE loss, adam (model_housing.js)."""
    k = keras()
    L = k.layers
    model = k.Sequential(name="housing_mlp")
    model.add(L.InputLayer(input_shape=(n_features,)))
    for units, rate in ((80, 0.2), (120, 0.1), (20, 0.1), (10, 0.1)):
        model.add(L.Dense(units, activation="relu"))
        model.add(L.Dropout(rate))
    model.add(L.Dense(1))
    model.compile(loss="mean_absolute_error", optimizer="adam")
    return model


def mnist_convnet():
    """conv32-conv32-pool-conv64-conv64-pool-flatten-dropout.25-dense512-dropout.5-dense10,
    rmsprop (model_mnist.js)."""
    k = keras()
    L = k.layers
    model = k.Sequential(name="mnist_convnet")
    model.add(L.InputLayer(input_shape=(28, 28, 1)))
    for filters in (32, 32, None, 64, 64, None):
        model.add(L.MaxPooling2D(2) if filters is None else L.Conv2D(filters, 3, activation="relu"))
    model.add(L.Flatten())
    model.add(L.Dropout(0.25))
    model.add(L.Dense(512, activation="relu"))
    model.add(L.Dropout(0.5))
    model.add(L.Dense(10, activation="softmax"))
    model.compile(loss="sparse_categorical_crossentropy", optimizer="rmsprop", metrics=["accuracy"])
    return model


def fashion_convnet():
    """BN-conv64(4,same)-pool-drop.1-conv64(4)-pool-drop.3-flatten-dense256-drop.5-dense64-BN-
    dense10, adam (model_fashion_mnist.js)."""
    k = keras()
    L = k.layers
    model = k.Sequential(name="fashion_convnet")
    model.add(L.InputLayer(input_shape=(28, 28, 1)))
    model.add(L.BatchNormalization())
    model.add(L.Conv2D(64, 4, padding="same", activation="relu"))
    model.add(L.MaxPooling2D(2))
    model.add(L.Dropout(0.1))
    model.add(L.Conv2D(64, 4, activation="relu"))
    model.add(L.MaxPooling2D(2))
    model.add(L.Dropout(0.3))
    model.add(L.Flatten())
    model.add(L.Dense(256, activation="relu"))
    model.add(L.Dropout(0.5))
    model.add(L.Dense(64, activation="relu"))
    model.add(L.BatchNormalization())
    model.add(L.Dense(10, activation="softmax"))
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    return model
