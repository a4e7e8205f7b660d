"""Import TensorFlow with legacy Keras 2: tfjs 4.22 cannot load Keras 3 topologies (DESIGN 2.2).
Imported lazily so `quantlab --help` stays fast."""

from __future__ import annotations


def keras():
    """The tf_keras module (Keras 2), with TensorFlow quiet."""
    import tensorflow as tf
    import tf_keras

    tf.get_logger().setLevel("ERROR")
    return tf_keras


def seed_everything(seed: int) -> None:
    import random

    import numpy as np
    import tensorflow as tf

    random.seed(seed)
    np.random.seed(seed)
    tf.random.set_seed(seed)
