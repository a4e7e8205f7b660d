"""Import TensorFlow lazily (so `quantlab --help` stays fast) and quietly: legacy Keras 2 is
selected in quantlab/__init__.py; C++ start-up chatter (CUDA probes, absl warnings printed before
logging is initialised) is dropped unless QUANTLAB_TF_LOGS=1."""

from __future__ import annotations

import contextlib
import os
import sys

_imported = False


@contextlib.contextmanager
def _fd2_to_devnull():
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def quiet_native_logs():
    """A context in which TensorFlow's C++ logging (grappler's absl lines on fd 2) is dropped,
    unless QUANTLAB_TF_LOGS=1. Python's own sys.stderr is untouched."""
    return _fd2_to_devnull() if os.environ.get("QUANTLAB_TF_LOGS") != "1" else contextlib.nullcontext()


def import_tensorflow() -> None:
    """Import tensorflow, tf_keras and tensorflowjs once, with the C++ noise silenced."""
    global _imported
    if _imported:
        return
    with quiet_native_logs():
        import tensorflow as tf
        import tensorflowjs  # noqa: F401  (imports TF-DF and more: do it while quiet)
        import tf_keras  # noqa: F401

    from .signals import check_pending

    check_pending()  # a SIGTERM during the import is raised now, whatever the import did with it
    tf.get_logger().setLevel("ERROR")
    import warnings

    warnings.filterwarnings("ignore", message="You are saving your model as an HDF5 file")
    _imported = True


def keras():
    """The tf_keras module (Keras 2)."""
    import_tensorflow()
    import tf_keras

    return tf_keras


def save_for_converter(model, path) -> None:
    """`model.save(path, save_format="tf")` with the serving signature the converter reads, but not
    the per-layer call traces only a Keras reload uses: MobileNetV2 saves in 5 s instead of 16 and
    converts in 5 s instead of 11, to the same graph model (same weights, same model.json)."""
    from tf_keras.src.saving.legacy import saving_utils

    model.save(path, save_format="tf", save_traces=False, signatures=saving_utils.trace_model_call(model))


def seed_everything(seed: int) -> None:
    import random

    import numpy as np

    import_tensorflow()
    import tensorflow as tf

    random.seed(seed)
    np.random.seed(seed)
    tf.random.set_seed(seed)
