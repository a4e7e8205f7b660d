"""Read and check tfjs layers-model folders (model.json + shards) before any runtime sees them,
so a broken artifact gets a message that names the file instead of a fetch error."""

from __future__ import annotations

import io
import json
import math
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ArtifactError
from . import MODEL_JSON

# Bytes per element as stored: the quantized dtype when present, else the weight's own dtype.
_STORED_BYTES = {"float32": 4, "int32": 4, "uint8": 1, "uint16": 2, "float16": 2, "bool": 1}


def model_format(model_json: dict) -> str | None:
    """The one rule for "layers or graph?" (js/browser/runner.js's detectFormat mirrors it): the
    declared `format` (graph-model, layers-model) first, then the topology's keys (a GraphDef has
    node/library, a Keras topology class_name/model_config); None when it says neither."""
    topology = model_json.get("modelTopology") if isinstance(model_json, dict) else None
    if not isinstance(topology, dict):
        return None
    declared = model_json.get("format")
    if declared == "graph-model":
        return "graph"
    if declared == "layers-model":
        return "layers"
    if "node" in topology or "library" in topology:
        return "graph"
    if "class_name" in topology or "model_config" in topology:
        return "layers"
    return None


@dataclass
class WeightEntry:
    name: str
    shape: list[int]
    dtype: str  # dtype after dequantization (what the model computes with)
    quantization: dict | None  # {"dtype", "min", "scale", ...} or None
    shard_group: int

    @property
    def layer(self) -> str:
        return self.name.rsplit("/", 1)[0]

    @property
    def stored_dtype(self) -> str:
        return self.quantization["dtype"] if self.quantization else self.dtype

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * _STORED_BYTES[self.stored_dtype]


@dataclass
class Artifact:
    folder: Path
    model_json: dict
    weights: list[WeightEntry]
    shard_paths: list[Path]
    manifest: Path | None = None  # the manifest file (folder/model.json unless shipped as NAME.json)

    @property
    def manifest_path(self) -> Path:
        return self.manifest or self.folder / MODEL_JSON

    @property
    def weight_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.shard_paths)

    @property
    def model_json_bytes(self) -> int:
        return self.manifest_path.stat().st_size

    def gzip_ratio(self) -> float:
        """Total bytes / bytes of a gzipped tar of the folder (the seed's `tar czf` figure)."""
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as tar:
            for path in [self.manifest_path, *self.shard_paths]:
                tar.add(path, arcname=path.name)
        return (self.weight_bytes + self.model_json_bytes) / len(buf.getvalue())

    def weights_by_layer(self) -> dict[str, list[WeightEntry]]:
        """Layer name -> its weights, in manifest order."""
        layers: dict[str, list[WeightEntry]] = {}
        for w in self.weights:
            layers.setdefault(w.layer, []).append(w)
        return layers

    @property
    def format(self) -> str:
        """ "graph" or "layers", by model_format's rule; "layers" when the topology says neither
        (js/browser/runner.js does the same)."""
        return model_format(self.model_json) or "layers"


# What tfjs computes with (a weight's own dtype) and what a quantized weight may be stored as.
_WEIGHT_DTYPES = ("float32", "int32", "bool")
_QUANT_DTYPES = ("uint8", "uint16", "float16")
_INT64_MAX = 2**63 - 1
_UNSAFE_IN_NAME = set('/\\?#%:"<>|*') | {chr(c) for c in range(32)} | {chr(127)}


def _is_number(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _weight_entry(w, where: str, group: int) -> WeightEntry:
    """One manifest entry, checked field by field as tfjs would read it; names file and field."""
    if not isinstance(w, dict):
        raise ArtifactError(f"{where}: expected an object with name, shape and dtype")
    name = w.get("name")
    if not isinstance(name, str) or not name:
        raise ArtifactError(f"{where}.name: expected a non-empty string, got {name!r:.60}")
    where = f"{where} ({name:.80})"
    shape = w.get("shape")
    if not isinstance(shape, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= _INT64_MAX for d in shape
    ):
        raise ArtifactError(f"{where}.shape: expected a list of non-negative integers, got {shape!r:.60}")
    dtype = w.get("dtype")
    if dtype not in _WEIGHT_DTYPES:
        raise ArtifactError(f"{where}.dtype: unknown dtype {dtype!r:.40}; valid: {', '.join(_WEIGHT_DTYPES)}")
    q = w.get("quantization")
    if q is not None:
        if not isinstance(q, dict):
            raise ArtifactError(f"{where}.quantization: expected an object, got {type(q).__name__}")
        if q.get("dtype") not in _QUANT_DTYPES:
            valid = ", ".join(_QUANT_DTYPES)
            raise ArtifactError(
                f"{where}.quantization.dtype: unknown dtype {q.get('dtype')!r:.40}; valid: {valid}"
            )
        if q["dtype"] != "float16":  # affine: value = q * scale + min
            for key in ("min", "scale"):
                if not _is_number(q.get(key)):
                    raise ArtifactError(
                        f"{where}.quantization.{key}: expected a finite number, got {q.get(key)!r:.40}"
                    )
    if math.prod(shape) * _STORED_BYTES[q["dtype"] if q else dtype] > _INT64_MAX:
        raise ArtifactError(f"{where}.shape: {shape} is too large for any weight")
    return WeightEntry(name, list(shape), dtype, q, group)


def _check_shard_name(p, where: str, folder: Path) -> None:
    """A shard path: one plain relative file name (tfjs fetches it beside model.json)."""
    if not isinstance(p, str):
        raise ArtifactError(f"{where}: expected a file name, got {p!r:.60}")
    if p.startswith(("/", "\\")) or ".." in p.replace("\\", "/").split("/"):
        raise ArtifactError(f"{where}: shard path {p!r:.80} points outside {folder}")
    if p in ("", ".") or _UNSAFE_IN_NAME & set(p):
        raise ArtifactError(f"{where}: {p!r:.80} is not a plain file name")


def manifest_of(where: Path) -> tuple[Path, Path]:
    """(folder, manifest file) for a folder (its model.json) or a manifest file (NAME.json)."""
    where = Path(where)
    if where.suffix.lower() == ".json" and not where.is_dir():
        return where.parent, where
    return where, where / MODEL_JSON


def read_artifact(folder: Path) -> Artifact:
    """Parse the manifest (a folder's model.json, or a NAME.json file given itself) and check
    every shard exists, beside it, with the size the manifest implies."""
    folder, path = manifest_of(folder)
    if not path.is_file():
        raise ArtifactError(f"{path}: missing; run `quantlab quantize DEMO` to write the variants")
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise ArtifactError(f"{path}: cannot be read ({e.strerror or e})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ArtifactError(
            f"{path}: not UTF-8 text (byte {e.start}); re-create it with `quantlab quantize`"
        ) from None
    try:
        model_json = json.loads(text)
    except json.JSONDecodeError as e:
        raise ArtifactError(f"{path}: not valid JSON ({e}); re-create it with `quantlab quantize`") from None
    except RecursionError:
        raise ArtifactError(f"{path}: JSON nested too deeply to be a tfjs model.json") from None
    if (
        not isinstance(model_json, dict)
        or "modelTopology" not in model_json
        or not isinstance(model_json.get("weightsManifest"), list)
    ):
        raise ArtifactError(
            f"{path}: not a tfjs layers model or graph model (needs modelTopology and weightsManifest)"
        )
    weights: list[WeightEntry] = []
    shards: list[Path] = []
    for g, group in enumerate(model_json["weightsManifest"]):
        where = f"{path}: weightsManifest[{g}]"
        if not isinstance(group, dict):
            raise ArtifactError(f"{where}: expected an object with paths and weights")
        if not isinstance(group.get("paths"), list):
            raise ArtifactError(f"{where}.paths: expected a list of shard file names")
        if not isinstance(group.get("weights"), list):
            raise ArtifactError(f"{where}.weights: expected a list of weight entries")
        entries = [_weight_entry(w, f"{where}.weights[{i}]", g) for i, w in enumerate(group["weights"])]
        group_paths = []
        for i, p in enumerate(group["paths"]):
            _check_shard_name(p, f"{where}.paths[{i}]", folder)
            group_paths.append(Path(folder) / p)
        for shard in group_paths:
            if Path(folder).resolve() not in shard.resolve().parents:
                raise ArtifactError(f"{path}: shard path {shard.name} points outside {folder}")
            if not shard.is_file():
                raise ArtifactError(f"{shard}: weight shard missing (listed in {path})")
        expected = sum(e.nbytes for e in entries)
        actual = sum(p.stat().st_size for p in group_paths)
        if actual != expected:
            names = ", ".join(p.name for p in group_paths)
            raise ArtifactError(
                f"{names}: {actual} bytes but the manifest in {path} needs "
                f"{expected}; the shard is truncated or from another model"
            )
        weights += entries
        shards += group_paths
    return Artifact(Path(folder), model_json, weights, shards, path)


def artifact_summary(art: Artifact) -> dict:
    return {
        "weight_bytes": art.weight_bytes,
        "model_json_bytes": art.model_json_bytes,
        "gzip_ratio": round(art.gzip_ratio(), 4),
    }


def topology_layers(model_json: dict) -> list[dict]:
    """Every layer config of a layers model, nested models flattened. Python's converter wraps the
    topology in `model_config`; tfjs' own `model.save()` does not (a graph model has none)."""
    topology = model_json.get("modelTopology")
    if not isinstance(topology, dict):
        return []
    root = topology.get("model_config", topology)
    found: list[dict] = []

    def walk(node) -> None:
        config = node.get("config") if isinstance(node, dict) else None
        if isinstance(config, list):  # old Sequential: config is the layer list
            config = {"layers": config}
        if not isinstance(config, dict):
            return
        for layer in config.get("layers") or []:
            if not isinstance(layer, dict) or not isinstance(layer.get("config"), dict):
                continue
            if isinstance(layer["config"].get("layers"), list):
                walk(layer)  # a model used as a layer
            elif isinstance(layer["config"].get("name"), str):
                found.append(layer)

    walk(root)
    return found
