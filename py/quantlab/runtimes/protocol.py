"""The Python side of the evaluator protocol. The definition lives in js/protocol.json, read by
both sides; this module only locates files and encodes tensors (where the evaluator and its npm
packages are: infra/node_packages)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np

from ..errors import EvaluatorError
from ..infra.node_packages import JS_DIR_ENV, layout

# The protocol version this client speaks (js/protocol.json "version"). 2: named multi-input
# predict (`inputs`), graph models, outputs with names and int32 dtypes.
PROTOCOL_VERSION = 2


def js_dir() -> Path:
    """The evaluator's own files (protocol.json, evaluator.mjs, browser/): $QUANTLAB_JS_DIR, else
    the copy packaged in an installed quantlab, else js/ at the top of the checkout. Node runs
    them from npm_install.evaluator_dir(), beside their npm packages."""
    return layout().js


@cache
def protocol() -> dict:
    path = js_dir() / "protocol.json"
    try:
        definition = json.loads(path.read_text())
    except OSError as e:
        raise EvaluatorError(
            f"{path}: evaluator protocol file missing ({e}); set ${JS_DIR_ENV} to the quantlab js/ folder"
        ) from e
    if definition.get("version") != PROTOCOL_VERSION:
        raise EvaluatorError(
            f"{path}: protocol version {definition.get('version')}, but this quantlab speaks "
            f"{PROTOCOL_VERSION}; point ${JS_DIR_ENV} at the js/ folder of this checkout"
        )
    return definition


def write_tensor(path: Path, array: np.ndarray, name: str | None = None) -> dict:
    """Raw little-endian payload (float32, or int32 for integer/bool arrays); the returned
    header ({name, path, shape, dtype}) travels in the JSON request."""
    array = np.asarray(array)
    arr = np.ascontiguousarray(array, dtype="<f4" if array.dtype.kind == "f" else "<i4")
    arr.tofile(path)
    header = {
        "path": str(path),
        "shape": list(arr.shape),
        "dtype": "float32" if arr.dtype.kind == "f" else "int32",
    }
    return {"name": name, **header} if name is not None else header


def read_tensor(header: dict) -> np.ndarray:
    dtype = {"float32": "<f4", "int32": "<i4"}[header["dtype"]]
    arr = np.fromfile(header["path"], dtype=dtype)
    expected = int(np.prod(header["shape"]))
    if arr.size != expected:
        raise EvaluatorError(f"{header['path']}: evaluator output has {arr.size} values, expected {expected}")
    return arr.reshape(header["shape"])
