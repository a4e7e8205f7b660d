"""Read and check tfjs layers-model folders (model.json + shards) before any runtime sees them,
so a broken artifact gets a message that names the file instead of a fetch error."""

from __future__ import annotations

import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import ArtifactError

# Bytes per element as stored: the quantized dtype when present, else the weight's own dtype.
_STORED_BYTES = {"float32": 4, "int32": 4, "uint8": 1, "uint16": 2, "float16": 2, "bool": 1}


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

    @property
    def weight_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.shard_paths)

    @property
    def model_json_bytes(self) -> int:
        return (self.folder / "model.json").stat().st_size

    def gzip_ratio(self) -> float:
        """Total bytes / bytes of a gzipped tar of the folder (the seed's `tar czf` figure)."""
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as tar:
            for path in [self.folder / "model.json", *self.shard_paths]:
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
        """ "graph" for a tfjs graph model (`format: graph-model`, or a GraphDef topology with
        node/library keys), else "layers" (the same rule as js/browser/runner.js)."""
        if self.model_json.get("format") == "graph-model":
            return "graph"
        if self.model_json.get("format") == "layers-model":
            return "layers"
        topology = self.model_json.get("modelTopology")
        return (
            "graph"
            if isinstance(topology, dict) and ("node" in topology or "library" in topology)
            else "layers"
        )

    def layer_names(self) -> list[str]:
        return [layer["config"]["name"] for layer in topology_layers(self.model_json)]


def read_artifact(folder: Path) -> Artifact:
    """Parse model.json and check every shard exists with the size its manifest implies."""
    path = Path(folder) / "model.json"
    if not path.is_file():
        raise ArtifactError(f"{path}: missing; run `quantlab quantize DEMO` to write the variants")
    try:
        model_json = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ArtifactError(f"{path}: not valid JSON ({e}); re-create it with `quantlab quantize`") from e
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
        try:
            entries = [
                WeightEntry(w["name"], list(w["shape"]), w["dtype"], w.get("quantization"), g)
                for w in group["weights"]
            ]
            group_paths = [Path(folder) / p for p in group["paths"]]
        except (KeyError, TypeError) as e:
            raise ArtifactError(f"{path}: malformed weightsManifest group {g} ({e!r})") from e
        for entry in entries:
            if entry.stored_dtype not in _STORED_BYTES:
                raise ArtifactError(f"{path}: weight {entry.name} has unknown dtype {entry.stored_dtype}")
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
    return Artifact(Path(folder), model_json, weights, shards)


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
