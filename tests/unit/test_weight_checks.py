import numpy as np
import pytest

from quantlab.convert.weight_checks import (
    FLOAT16_MAX,
    check_weights_quantizable,
    float16_overflows,
    nonfinite_weights,
)
from quantlab.errors import ArtifactError


def _arrays(**named):
    return [(name.replace("__", "/"), np.asarray(v, np.float32)) for name, v in named.items()]


def test_float16_max_is_65504():
    assert FLOAT16_MAX == 65504.0


def test_float16_overflow_is_named_with_its_max():
    weights = _arrays(dense__kernel=[1.0, -70000.0, 3.0], dense__bias=[65504.0], bn__gamma=[1e6])
    dtypes = {"dense/kernel": "float16", "dense/bias": "float16", "bn/gamma": "uint8"}
    # 65504 itself fits; bn/gamma goes to uint8, where range is no problem
    assert float16_overflows(weights, dtypes) == {"dense/kernel": 70000.0}
    with pytest.raises(ArtifactError, match=r"dense/kernel \(max \|x\| 70000\)") as e:
        check_weights_quantizable(weights, dtypes)
    assert e.value.exit_code == 4 and "bn/gamma" not in str(e.value) and "65504" in str(e.value)
    # the same weights without float16 pass
    check_weights_quantizable(weights, {"dense/kernel": "uint16"})
    check_weights_quantizable(weights, None)


def test_float16_overflow_ignores_integer_tensors():
    weights = [("counter", np.array([100000], np.int32))]
    assert float16_overflows(weights, {"counter": "float16"}) == {}
    check_weights_quantizable(weights, {"counter": "float16"})


def test_nonfinite_weights_fail_even_in_float32():
    weights = _arrays(a__kernel=[1.0, np.nan, np.inf], b__bias=[0.0], c__kernel=[-np.inf])
    assert nonfinite_weights(weights) == {"a/kernel": 2, "c/kernel": 1}
    with pytest.raises(ArtifactError, match=r"a/kernel \(2 of 3\), c/kernel \(1 of 1\)") as e:
        check_weights_quantizable(weights, None)
    assert e.value.exit_code == 4 and "b/bias" not in str(e.value)


def test_many_offenders_are_summarised():
    weights = [(f"w{i}", np.array([np.nan], np.float32)) for i in range(7)]
    with pytest.raises(ArtifactError, match="w4 \\(1 of 1\\) and 2 more"):
        check_weights_quantizable(iter(weights), {})
    big = [(f"w{i}", np.array([1e5], np.float32)) for i in range(6)]
    with pytest.raises(ArtifactError, match="and 1 more"):
        check_weights_quantizable(big, {f"w{i}": "float16" for i in range(6)})
