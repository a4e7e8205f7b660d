"""Our variants are the converter's variants, byte for byte."""

import filecmp

import pytest

from quantlab.convert.converter import QUANT_DTYPES, converter_command, dtype_map_for
from quantlab.errors import QuantlabError
from tests.conftest import stock_converter


@pytest.fixture(scope="module")
def converted(small_convnet_dir, tmp_path_factory):
    """The converter's --quantize_<dtype> outputs of the float32 artifact (converter_command's
    arguments, run by the stock converter), one folder per dtype."""
    root = tmp_path_factory.mktemp("converted")
    src = small_convnet_dir / "float32" / "model.json"
    stock_converter(*(converter_command(src, root / d, {d: True})[1:] for d in QUANT_DTYPES))
    return root


@pytest.mark.parametrize("dtype", QUANT_DTYPES)
def test_variant_is_byte_identical_to_tensorflowjs_converter(small_convnet_dir, converted, dtype):
    out = converted / dtype
    ours = small_convnet_dir / dtype
    names = sorted(p.name for p in ours.iterdir())
    assert names == sorted(p.name for p in out.iterdir())
    match, mismatch, errors = filecmp.cmpfiles(ours, out, names, shallow=False)
    assert mismatch == [] and errors == [] and len(match) == len(names)


def test_converter_command_puts_bare_flags_after_positionals():
    cmd = converter_command("in/model.json", "out", {"uint8": True})
    assert cmd[-3:] == ["in/model.json", "out", "--quantize_uint8"]
    cmd = converter_command("in/model.json", "out", {"uint8": ["conv*/kernel"], "float16": True})
    assert cmd[-5:] == ["in/model.json", "out", "--quantize_uint8", "conv*/kernel", "--quantize_float16"]


def test_unknown_variant_lists_valid_ones():
    with pytest.raises(QuantlabError, match="valid variants: float32, float16, uint16, uint8"):
        dtype_map_for("int4")
