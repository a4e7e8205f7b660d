"""Hostile or mistaken inputs are one line before anything is allocated (issue 23's findings):
huge synthetic sizes, an .npy header claiming 10^12 rows, a zip bomb, a FIFO as --inputs."""

from __future__ import annotations

import os
import zipfile

import numpy as np
import pytest

from quantlab import input_checks
from quantlab.errors import DataError, QuantlabError
from quantlab.input_spec import InputOptions, InputSpec
from quantlab.inputs import load_inputs


def test_huge_synthetic_inputs_are_refused_before_allocation():
    spec = [InputSpec("image", [None, 224, 224, 3])]
    with pytest.raises(QuantlabError, match=r"--samples 1000000000: synthetic inputs of .* exceed") as e:
        load_inputs(spec, InputOptions(samples=1_000_000_000))
    assert e.value.exit_code == 2
    dyn = [InputSpec("x", [None, None, None])]
    with pytest.raises(QuantlabError, match=r"--input-shape x") as e:
        load_inputs(dyn, InputOptions(samples=1, input_shapes={"x": [1, 100000, 100000]}))
    assert e.value.exit_code == 2


def test_an_npy_header_claiming_too_much_is_refused(tmp_path):
    path = tmp_path / "huge.npy"
    with open(path, "wb") as f:  # a valid header for 10^12 x 3 float32, and no data
        np.lib.format.write_array_header_1_0(
            f, {"descr": "<f4", "fortran_order": False, "shape": (10**12, 3)}
        )
    spec = [InputSpec("x", [None, 3])]
    with pytest.raises(DataError, match=r"huge\.npy: its header claims \(1000000000000, 3\)"):
        load_inputs(spec, InputOptions(path=path))
    small = tmp_path / "short.npy"
    with open(small, "wb") as f:  # 1000 rows claimed, 2 given
        np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False, "shape": (1000, 3)})
        f.write(np.zeros((2, 3), "<f4").tobytes())
    with pytest.raises(DataError, match=r"short\.npy: its header claims \(1000, 3\) \(12,000 bytes\)"):
        load_inputs(spec, InputOptions(path=small))


def test_an_npz_that_decompresses_far_beyond_its_size_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "bomb.npz"
    np.savez_compressed(path, x=np.zeros((4096, 256), np.float32))  # 4 MiB of zeros: ~4 KiB packed
    with zipfile.ZipFile(path) as z:
        ratio = sum(i.file_size for i in z.infolist()) / sum(i.compress_size for i in z.infolist())
    assert ratio > 100
    monkeypatch.setattr(input_checks, "NPZ_BOMB_MIN", 1 << 20)
    monkeypatch.setattr(input_checks, "MAX_NPZ_RATIO", 100)
    with pytest.raises(DataError, match=r"bomb\.npz: .* decompress to .*: not array data"):
        load_inputs([InputSpec("x", [None, 256])], InputOptions(path=path))
    monkeypatch.setenv("QUANTLAB_MAX_INPUT_BYTES", str(1 << 20))  # and the cap, whatever the ratio
    with pytest.raises(DataError, match=r"bomb\.npz: its arrays decompress to .* over the .* cap"):
        load_inputs([InputSpec("x", [None, 256])], InputOptions(path=path))


def test_a_fifo_as_inputs_is_refused_not_waited_on(tmp_path):
    fifo = tmp_path / "pipe.npy"
    os.mkfifo(fifo)
    with pytest.raises(DataError, match=r"--inputs .*pipe\.npy: not a regular file or folder"):
        load_inputs([InputSpec("x", [None, 3])], InputOptions(path=fifo))
