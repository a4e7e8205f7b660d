"""The seed's architectures (tfjs-examples quantization/model_*.js), rebuilt in tf-keras.

Every layer is named: Keras' default names count up per process (conv2d_4 when another model was
built first), and these names are what users read in reports and pass to the converter."""

from __future__ import annotations

from ..infra.tfcompat import keras


def housing_mlp(n_features: int = 8):
    """80-120-20-10-1 MLP with dropout; MAE loss, adam (model_housing.js)."""
    k = keras()
    L = k.layers
    model = k.Sequential(name="housing_mlp")
    model.add(L.InputLayer(input_shape=(n_features,)))
    for i, (units, rate) in enumerate(((80, 0.2), (120, 0.1), (20, 0.1), (10, 0.1)), 1):
        model.add(L.Dense(units, activation="relu", name=f"hidden{i}"))
        model.add(L.Dropout(rate, name=f"dropout{i}"))
    model.add(L.Dense(1, name="price"))
    model.compile(loss="mean_absolute_error", optimizer="adam")
    return model


def mnist_convnet():
    """conv32-conv32-pool-conv64-conv64-pool-flatten-dropout.25-dense512-dropout.5-dense10,
    rmsprop (model_mnist.js)."""
    k = keras()
    L = k.layers
    model = k.Sequential(name="mnist_convnet")
    model.add(L.InputLayer(input_shape=(28, 28, 1)))
    model.add(L.Conv2D(32, 3, activation="relu", name="conv1"))
    model.add(L.Conv2D(32, 3, activation="relu", name="conv2"))
    model.add(L.MaxPooling2D(2, name="pool1"))
    model.add(L.Conv2D(64, 3, activation="relu", name="conv3"))
    model.add(L.Conv2D(64, 3, activation="relu", name="conv4"))
    model.add(L.MaxPooling2D(2, name="pool2"))
    model.add(L.Flatten(name="flatten"))
    model.add(L.Dropout(0.25, name="dropout1"))
    model.add(L.Dense(512, activation="relu", name="dense1"))
    model.add(L.Dropout(0.5, name="dropout2"))
    model.add(L.Dense(10, activation="softmax", name="digit"))
    model.compile(loss="sparse_categorical_crossentropy", optimizer="rmsprop", metrics=["accuracy"])
    return model


def fashion_convnet():
    """BN-conv64(4,same)-pool-drop.1-conv64(4)-pool-drop.3-flatten-dense256-drop.5-dense64-BN-
    dense10, adam (model_fashion_mnist.js)."""
    k = keras()
    L = k.layers
    model = k.Sequential(name="fashion_convnet")
    model.add(L.InputLayer(input_shape=(28, 28, 1)))
    model.add(L.BatchNormalization(name="input_bn"))
    model.add(L.Conv2D(64, 4, padding="same", activation="relu", name="conv1"))
    model.add(L.MaxPooling2D(2, name="pool1"))
    model.add(L.Dropout(0.1, name="dropout1"))
    model.add(L.Conv2D(64, 4, activation="relu", name="conv2"))
    model.add(L.MaxPooling2D(2, name="pool2"))
    model.add(L.Dropout(0.3, name="dropout2"))
    model.add(L.Flatten(name="flatten"))
    model.add(L.Dense(256, activation="relu", name="dense1"))
    model.add(L.Dropout(0.5, name="dropout3"))
    model.add(L.Dense(64, activation="relu", name="dense2"))
    model.add(L.BatchNormalization(name="dense2_bn"))
    model.add(L.Dense(10, activation="softmax", name="item"))
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    return model
