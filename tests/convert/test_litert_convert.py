"""The TFLite converter refusing a model: one line naming the op, exit 4, for every variant."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow")


@pytest.mark.parametrize("variant", ["litert-float32", "litert-int8"])
def test_an_op_tflite_lacks_is_named(variant):
    import tensorflow as tf
    import tf_keras as k

    from quantlab.convert.litert import convert_one
    from quantlab.errors import QuantlabError

    x = k.Input((4, 4))
    model = k.Model(x, k.layers.Lambda(lambda t: tf.linalg.det(t))(x))
    with pytest.raises(QuantlabError) as e:
        convert_one(model, variant, 1, [np.random.default_rng(0).random((4, 4, 4), dtype=np.float32)])
    assert e.value.exit_code == 4
    assert str(e.value) == (
        f"{variant}: the TFLite converter refused the model: op tf.MatrixDeterminant: is neither a custom "
        "op nor a flex op"
    )
