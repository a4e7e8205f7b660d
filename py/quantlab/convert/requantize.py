"""tfjs artifact -> tfjs artifact with other weight dtypes, topology untouched.

The stock converter cannot take a graph model as input (tensorflow/tfjs#6154), so quantized
variants of an existing tfjs model are written here with the converter's own weight reader and
writer (`tensorflowjs.read_weights` dequantizes, `tensorflowjs.write_weights` quantizes and
shards): the same shards and manifest `tensorflowjs_converter --quantize_*` writes (DESIGN 2.7;
tests compare bytes)."""

from __future__ import annotations

import json
from collections.abc import Collection
from pathlib import Path

import numpy as np

from ..errors import ArtifactError, QuantlabError
from ..infra.fsutil import atomic_dir
from ..infra.test_hooks import hold
from ..tfjs import MODEL_JSON
from ..tfjs.artifacts import read_artifact

SHARD_SIZE_BYTES = 4 * 1024 * 1024  # the converter's default


def read_weight_groups(folder: Path) -> tuple[dict, list[list[dict]]]:
    """(model.json, weight groups as tensorflowjs' writer takes them), dequantized to float32."""
    from ..infra.tfcompat import import_tensorflow

    art = read_artifact(folder)  # checks the manifest and shard sizes, names a broken file
    import_tensorflow()
    from tensorflowjs.read_weights import read_weights

    try:
        groups = read_weights(_float_affine(art.model_json["weightsManifest"]), str(art.folder))
    except (ValueError, NotImplementedError, KeyError, TypeError) as e:
        raise ArtifactError(f"{art.manifest_path}: weights unreadable ({e})") from e
    # A dequantized scalar comes back as a numpy scalar, which the writer refuses (and crashes
    # while saying so): every weight as an array of its manifest shape.
    shapes = {w.name: w.shape for w in art.weights}
    for group in groups:
        for entry in group:
            entry["data"] = np.asarray(entry["data"]).reshape(
                shapes.get(entry["name"], np.shape(entry["data"]))
            )
    return art.model_json, groups


def _float_affine(manifest: list[dict]) -> list[dict]:
    """The manifest with every affine `min`/`scale` as a float: shipped models may store them as
    integers (min -1, scale 1), and tensorflowjs' `data * scale + min` then stays in uint8 under
    numpy 2's promotion rules and overflows. tfjs reads them as JS numbers: the same values."""
    out = []
    for group in manifest:
        weights = []
        for w in group["weights"]:
            q = w.get("quantization")
            if isinstance(q, dict) and q.get("dtype") in ("uint8", "uint16"):
                w = dict(w, quantization=dict(q, min=float(q["min"]), scale=float(q["scale"])))
            weights.append(w)
        out.append(dict(group, weights=weights))
    return out


def weight_names(groups: list[list[dict]]) -> list[str]:
    return [entry["name"] for group in groups for entry in group]


def write_artifact(
    dest: Path, model_json: dict, groups: list[list[dict]], dtype_map: dict | None = None
) -> Path:
    """Write `dest` (atomically): `model_json`'s topology with the weights of `groups`, sharded and
    stored as `dtype_map` says ({dtype: True | [name patterns]}; None = float32) by the
    converter's own writer, and model.json as the converter writes it."""
    from tensorflowjs.write_weights import write_weights

    with atomic_dir(Path(dest)) as tmp:
        try:
            manifest = write_weights(
                groups,
                str(tmp),
                shard_size_bytes=SHARD_SIZE_BYTES,
                write_manifest=False,
                quantization_dtype_map=dtype_map,
            )
        except ValueError as e:
            raise QuantlabError(f"quantization map {dtype_map}: {e}") from e
        # json.dump with default separators, as the converter writes model.json.
        with open(tmp / MODEL_JSON, "w", encoding="utf-8") as f:
            json.dump(dict(model_json, weightsManifest=manifest), f, allow_nan=False)
        hold("convert")
    return Path(dest)


def explicit_map(per_weight: dict[str, str]) -> dict | None:
    """{dtype: [exact names]} for the writer from {name: dtype} (names escaped: fnmatch patterns)."""
    import glob

    out: dict[str, list[str]] = {}
    for name, dtype in per_weight.items():
        out.setdefault(dtype, []).append(glob.escape(name))
    return out or None


def requantize(
    src: Path, dest: Path, dtype_map: dict | None, weight_check=None, keep_float32: Collection[str] = ()
) -> Path:
    """Write `dest` (atomically): `src`'s topology with weights stored as `dtype_map` says
    ({dtype: True | [name patterns]}; None = float32). `weight_check([(name, array)], {name: dtype})`
    may veto (e.g. float16 overflow, NaN weights). Constants a graph holds NaN/Inf in on purpose
    (tfjs/constants.py) and `keep_float32` stay float32 whatever the map says, and the check
    does not see them."""
    from ..tfjs.constants import split_nonfinite
    from .converter import check_dtype_map

    model_json, groups = read_weight_groups(src)
    per_weight = check_dtype_map(dtype_map, weight_names(groups))  # weight name -> dtype
    keep = set(keep_float32)
    keep |= set(split_nonfinite(model_json, [(e["name"], e["data"]) for g in groups for e in g])[0])
    if keep:
        per_weight = {n: d for n, d in per_weight.items() if n not in keep}
        dtype_map = explicit_map(per_weight) if dtype_map else None
    if weight_check is not None:
        weight_check([(e["name"], e["data"]) for g in groups for e in g if e["name"] not in keep], per_weight)
    return write_artifact(dest, model_json, groups, dtype_map)
