"""Inputs for a user's model, as Polygraphy's data loaders: one .npy, an .npz of named arrays
(labels under a key), a folder of images, or seeded synthetic data from the model's signature.

Everything is checked against the model's named inputs before any prediction runs: a wrong
shape, dtype, a missing array or labels of the wrong length get one line naming the input."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import DataError, QuantlabError
from .image_inputs import load_images
from .input_checks import check_npy, check_npz, check_regular_file
from .input_spec import InputOptions, InputSpec
from .synthetic_inputs import check_shape_names, check_synthetic_size, synthetic_arrays


def evenly_spaced(n: int, count: int) -> np.ndarray:
    """The indices of `count` examples spread evenly over `n` (first and last included; fewer when
    count > n): a calibration set that samples the whole input, not its start."""
    return np.unique(np.linspace(0, n - 1, min(count, n)).round().astype(int))


@dataclass
class InputSet:
    """Named arrays (n examples each), optional labels, and what they were (for the report)."""

    arrays: dict[str, np.ndarray]
    labels: np.ndarray | None
    description: dict
    class_names: list[str] | None = None

    @property
    def n(self) -> int:
        return len(next(iter(self.arrays.values())))

    @property
    def synthetic(self) -> bool:
        return self.description.get("kind") == "synthetic"

    def chunks(self, size: int) -> Iterator[dict[str, np.ndarray]]:
        for start in range(0, self.n, size):
            yield {name: self.batch(name, start, min(self.n, start + size)) for name in self.arrays}

    def batch(self, name: str, start: int, stop: int) -> np.ndarray:
        return self._ready(self.arrays[name][start:stop])

    def batch_at(self, name: str, index: np.ndarray) -> np.ndarray:
        """The examples at `index` (a subset), ready for the model."""
        return self._ready(self.arrays[name][index])

    def split_off(self, count: int) -> tuple[dict[str, np.ndarray], InputSet]:
        """`count` evenly spaced examples, ready for the model (a calibration set), and an InputSet
        of the others (what is then scored: never the examples a variant was calibrated on)."""
        if self.n < 2:
            raise QuantlabError(
                f"--litert: full int8 needs examples to calibrate on and others to score, and --inputs "
                f"holds {self.n}; give at least 2",
                exit_code=2,
            )
        if not 0 < count < self.n:
            raise QuantlabError(
                f"--calibration {count}: needs 1 to {self.n - 1} of the {self.n} input examples "
                "(the rest are scored)",
                exit_code=2,
            )
        index = evenly_spaced(self.n, count)
        rest = np.setdiff1d(np.arange(self.n), index)
        held = {name: self.batch_at(name, index) for name in self.arrays}
        others = InputSet(
            {name: a[rest] for name, a in self.arrays.items()},
            None if self.labels is None else self.labels[rest],
            {**self.description, "calibration_held_out": int(len(index)), "n_before_calibration": self.n},
            self.class_names,
        )
        return held, others

    def _ready(self, a: np.ndarray) -> np.ndarray:
        if a.dtype == np.uint8 and "scale" in self.description:  # images kept as uint8
            lo, hi = self.description["scale"]
            return (a.astype(np.float32) * np.float32((hi - lo) / 255.0) + np.float32(lo)).astype(np.float32)
        return a


def parse_range(text: str, option: str) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in text.split(","))
    except ValueError:
        raise QuantlabError(f"{option} {text!r}: expected LO,HI (two numbers)", exit_code=2) from None
    if not (np.isfinite(lo) and np.isfinite(hi)) or lo >= hi:
        raise QuantlabError(f"{option} {text!r}: need finite LO < HI", exit_code=2)
    return lo, hi


def parse_input_shapes(items: list[str]) -> dict[str, list[int]]:
    shapes = {}
    for item in items:
        name, sep, dims = item.rpartition(":")
        try:
            values = [int(d) for d in dims.replace("x", ",").split(",") if d.strip()]
        except ValueError:
            values = []
        if not sep or not name or not values or any(v <= 0 for v in values):
            raise QuantlabError(
                f"--input-shape {item!r}: expected NAME:DIMS with positive sizes, e.g. input_1:1,224,224,3",
                exit_code=2,
            )
        shapes[name] = values
    return shapes


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _match_name(wanted: str, available: list[str]) -> str | None:
    """An array for input `wanted`: exact name, else the name without a ':0' tensor suffix."""
    base = wanted.split(":")[0]
    for candidate in (wanted, base):
        if candidate in available:
            return candidate
    return None


def _load_npy(path: Path, specs: list[InputSpec]) -> tuple[dict, None]:
    if len(specs) != 1:
        names = ", ".join(s.name for s in specs)
        raise DataError(f"{path}: one array, but the model has {len(specs)} inputs ({names}); use an .npz")
    try:
        return {specs[0].name: np.load(path, allow_pickle=False)}, None
    except (OSError, ValueError) as e:
        raise DataError(f"{path}: not a readable .npy array ({e})") from e


def _load_npz(path: Path, specs: list[InputSpec], labels_key: str) -> tuple[dict, np.ndarray | None]:
    try:
        with np.load(path, allow_pickle=False) as z:
            content = {k: z[k] for k in z.files}
    except (OSError, ValueError) as e:
        raise DataError(f"{path}: not a readable .npz archive ({e})") from e
    arrays_keys = [k for k in content if k != labels_key]
    arrays, missing = {}, []
    for spec in specs:
        key = _match_name(spec.name, arrays_keys)
        if key is None and len(specs) == 1 and len(arrays_keys) == 1:
            key = arrays_keys[0]  # one input, one array: no need to name it
        if key is None:
            missing.append(spec.name)
        else:
            arrays[spec.name] = content[key]
    if missing:
        raise DataError(
            f"{path}: no array for input {', '.join(missing)}; it has {', '.join(content) or 'nothing'}, "
            f"the model needs {', '.join(s.name for s in specs)} (labels under {labels_key!r})"
        )
    return arrays, content.get(labels_key)


def check_arrays(arrays: dict[str, np.ndarray], specs: list[InputSpec], where: str) -> dict[str, np.ndarray]:
    """Shapes and dtypes against the model's inputs; returns arrays in the dtype the model takes."""
    out, n = {}, None
    for spec in specs:
        a = arrays[spec.name]
        want = ["N" if d is None else d for d in spec.shape]
        got = list(a.shape)
        if a.ndim != len(spec.shape) or any(
            d is not None and d >= 0 and d != g for d, g in zip(spec.shape[1:], got[1:], strict=False)
        ):
            raise DataError(f"{where}: input {spec.name}: expected shape {want}, got {got}")
        if spec.is_int:
            if not np.issubdtype(a.dtype, np.integer) and a.dtype != np.bool_:
                raise DataError(
                    f"{where}: input {spec.name}: expected integers ({spec.dtype}), got {a.dtype}"
                )
            a = a.astype(np.int32)
        elif np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer):
            if a.dtype != np.uint8:
                a = a.astype(np.float32)
        else:
            raise DataError(f"{where}: input {spec.name}: expected numbers (float32), got {a.dtype}")
        if a.dtype != np.uint8 and not spec.is_int and not np.all(np.isfinite(a)):
            raise DataError(f"{where}: input {spec.name} holds NaN or Inf values")
        if n is not None and len(a) != n:
            raise DataError(f"{where}: inputs have different lengths ({n} and {len(a)} for {spec.name})")
        n = len(a)
        out[spec.name] = a
    if not n:
        raise DataError(f"{where}: no examples")
    return out


def load_inputs(specs: list[InputSpec], opts: InputOptions) -> InputSet:
    """The InputSet for a model with inputs `specs`, per the options; raises DataError (exit 3)."""
    labels, class_names = None, None
    path = opts.path
    check_shape_names(specs, opts)
    if path is not None and path.exists():
        check_regular_file(path)
    if path is None:
        check_synthetic_size(specs, opts)
        arrays, how = synthetic_arrays(specs, opts)
        ranges = list(how["ranges"].values())
        lo, hi = ranges[0] if len(set(map(tuple, ranges))) == 1 else (opts.input_range or (0.0, 1.0))
        description = {"kind": "synthetic", "range": [lo, hi], "seed": opts.seed, "samples": opts.samples}
        description |= how
        description["range_source"] = "--input-range" if opts.input_range else "dtype and shape"
    elif not path.exists():
        raise DataError(f"--inputs {path}: no such file or folder")
    elif path.is_dir():
        if len(specs) != 1:
            raise DataError(f"--inputs {path}: an image folder feeds one input; the model has {len(specs)}")
        images, labels, (class_names, skipped) = load_images(path, specs[0], opts)
        arrays = {specs[0].name: images}
        description = {
            "kind": "images",
            "file": str(path),
            "image_size": int(images.shape[1]),
            "scale": list(opts.scale),
            "skipped": skipped,
            "labels": "subfolder names" if labels else None,
        }
    elif path.suffix == ".npz":
        check_npz(path)
        arrays, labels = _load_npz(path, specs, opts.labels_key)
        description = {
            "kind": "npz",
            "file": str(path),
            "sha256": _sha256(path),
            "labels_key": opts.labels_key,
        }
    elif path.suffix == ".npy":
        check_npy(path)
        arrays, labels = _load_npy(path, specs)
        description = {"kind": "npy", "file": str(path), "sha256": _sha256(path)}
    else:
        raise DataError(f"--inputs {path}: expected an .npy file, an .npz file or a folder of images")
    if opts.limit and path is not None and path.is_file():
        arrays = {k: v[: opts.limit] for k, v in arrays.items()}
        labels = labels[: opts.limit] if labels is not None else None
    arrays = check_arrays(arrays, specs, str(path) if path else "synthetic inputs")
    n = len(next(iter(arrays.values())))
    if labels is not None:
        labels = np.asarray(labels)
        if len(labels) != n:
            raise DataError(
                f"{path}: {len(labels)} labels for {n} examples (labels under {opts.labels_key!r})"
            )
        if not np.issubdtype(labels.dtype, np.number) and labels.dtype != np.bool_:
            raise DataError(f"{path}: labels must be numbers, got {labels.dtype}")
    description["n"] = n
    description["has_labels"] = labels is not None
    return InputSet(arrays, labels, description, class_names)
