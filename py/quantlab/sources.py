"""Model sources: find out what a user's MODEL path is from its content, not its name.

Formats: a tfjs layers model or tfjs graph model (a folder or its model.json), a Keras HDF5
(.h5) or Keras v3 zip (.keras) file, a TensorFlow SavedModel folder (Keras or plain
`tf.saved_model.save`). Detection reads only a few bytes and small JSON files, so a bad MODEL
fails in milliseconds, before TensorFlow or Node start."""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .errors import ArtifactError, QuantlabError
from .tfjs import MODEL_JSON
from .tfjs.artifacts import model_format

FORMATS = ("tfjs-layers", "tfjs-graph", "keras-h5", "keras-v3", "saved-model")
TF_FORMATS = ("keras-h5", "keras-v3", "saved-model")  # what TensorFlow itself loads and runs
ACCEPTED = (
    "a tfjs layers or graph model (a folder, or its manifest: model.json or NAME.json), "
    "a Keras .h5 or .keras file, or a TensorFlow SavedModel folder"
)
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_ZIP_MAGIC = b"PK\x03\x04"


@dataclass(frozen=True)
class ModelSource:
    path: Path  # the folder for tfjs models and SavedModels, the file otherwise
    format: str  # one of FORMATS
    detail: str = ""  # e.g. "Keras SavedModel" or "already quantized: uint8"
    manifest: Path | None = None  # tfjs: the manifest file (model.json, or NAME.json as shipped)

    @property
    def model_json(self) -> Path | None:
        """The tfjs manifest file (None for other formats)."""
        return (
            self.manifest if self.manifest is not None else (self.path / MODEL_JSON if self.is_tfjs else None)
        )

    @property
    def is_tfjs(self) -> bool:
        return self.format.startswith("tfjs-")

    @property
    def natural_output(self) -> str:
        """The tfjs format a conversion of this source produces unless told otherwise."""
        return "graph" if self.format in ("tfjs-graph", "saved-model") else "layers"

    def describe(self) -> dict:
        out = {"path": str(self.path), "format": self.format, "detail": self.detail}
        if self.manifest is not None:
            out["manifest"] = str(self.manifest)
        return out


def _describe_bytes(head: bytes) -> str:
    text = head.lstrip()[:40].lower()
    if text.startswith((b"<!doctype html", b"<html")):
        return "an HTML page"
    if head.startswith(_ZIP_MAGIC):
        return "a zip archive"
    if head.startswith(_HDF5_MAGIC):
        return "an HDF5 file"
    if not head:
        return "an empty file"
    printable = sum(32 <= b < 127 or b in (9, 10, 13) for b in head)
    return "a text file" if printable > 0.95 * len(head) else "binary data"


def tfjs_model_format(model_json: dict) -> str | None:
    """'layers' or 'graph' from a parsed tfjs manifest (tfjs.artifacts.model_format's rule), None
    when it is no manifest or says neither."""
    if not isinstance(model_json.get("weightsManifest"), list):
        return None
    return model_format(model_json)


def _quantized_dtypes(model_json: dict) -> list[str]:
    found = set()
    for group in model_json.get("weightsManifest", []):
        for w in group.get("weights", []) if isinstance(group, dict) else []:
            q = w.get("quantization") if isinstance(w, dict) else None
            if isinstance(q, dict):
                found.add(str(q.get("dtype")))
    return sorted(found)


def _read_model_json(path: Path) -> dict:
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise ArtifactError(f"{path}: cannot read ({e.strerror or e})") from e
    try:
        model_json = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise ArtifactError(
            f"{path}: not a tfjs model.json, found {_describe_bytes(raw[:512])}; accepted: {ACCEPTED}"
        ) from None
    if not isinstance(model_json, dict):
        raise ArtifactError(f"{path}: JSON but not a tfjs model.json (top level is not an object)")
    return model_json


def _tfjs_source(model_json_path: Path) -> ModelSource:
    model_json = _read_model_json(model_json_path)
    kind = tfjs_model_format(model_json)
    if kind is None:
        keys = ", ".join(sorted(model_json)[:6]) or "nothing"
        raise ArtifactError(
            f"{model_json_path}: JSON without a tfjs modelTopology and weightsManifest (has {keys}); "
            f"accepted: {ACCEPTED}"
        )
    quantized = _quantized_dtypes(model_json)
    detail = f"already quantized: {', '.join(quantized)}" if quantized else ""
    return ModelSource(model_json_path.parent, f"tfjs-{kind}", detail, model_json_path)


def is_manifest(path: Path) -> bool:
    """A small .json file holding a tfjs modelTopology and weightsManifest (read only when it
    is under 64 MB: a manifest is topology text; shards hold the weights)."""
    try:
        if path.suffix.lower() != ".json" or not path.is_file() or path.stat().st_size > 64 << 20:
            return False
        return tfjs_model_format(json.loads(path.read_text("utf-8"))) is not None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError, AttributeError):
        return False


def folder_manifest(folder: Path) -> Path | None:
    """The tfjs manifest of a folder: model.json, else its one manifest whatever its name (a
    package ships NAME.json + NAME.bin); several manifests: an error listing them."""
    if (folder / MODEL_JSON).is_file():
        return folder / MODEL_JSON
    found = sorted(p for p in folder.iterdir() if is_manifest(p))
    if len(found) > 1:
        names = ", ".join(p.name for p in found[:8]) + (
            f" and {len(found) - 8} more" if len(found) > 8 else ""
        )
        raise ArtifactError(
            f"{folder}: {len(found)} tfjs manifests ({names}); name one file as MODEL, "
            f"e.g. {folder / found[0].name}"
        )
    return found[0] if found else None


def _h5_source(path: Path) -> ModelSource:
    import h5py

    try:
        with h5py.File(path, "r") as f:
            has_config = "model_config" in f.attrs
    except OSError as e:
        raise ArtifactError(f"{path}: HDF5 but not readable ({e})") from e
    if not has_config:
        raise ArtifactError(
            f"{path}: a Keras weights-only HDF5 file (no model_config); save the whole model with "
            f"model.save('model.h5')"
        )
    return ModelSource(path, "keras-h5")


def _keras_v3_source(path: Path) -> ModelSource | None:
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
    except (zipfile.BadZipFile, OSError):
        return None
    if "config.json" in names and ("model.weights.h5" in names or "model.weights.npz" in names):
        return ModelSource(path, "keras-v3")
    return None


def detect(path: Path | str, format_override: str | None = None) -> ModelSource:
    """The ModelSource at `path`; raises ArtifactError (exit 4) naming what was found instead.

    `format_override` (--format) chooses between two models in one folder (a SavedModel beside a
    model.json: the SavedModel) and insists on a format; the content still decides, so a model
    that is not of that format is refused, never relabelled (a record saying tfjs-layers for a
    graph model would be wrong, and the loaders read the content anyway)."""
    path = Path(path)
    check_format(format_override)
    if not path.exists():
        raise ArtifactError(f"{path}: no such file or folder; MODEL is {ACCEPTED}")
    if format_override == "saved-model" and path.is_dir() and _has_saved_model(path):
        return _saved_model_source(path)
    source = _detect(path)
    if format_override and format_override != source.format:
        raise ArtifactError(
            f"{path}: --format {format_override}, but its content is a {source.format} model; "
            "leave --format out, or point MODEL at a model of that format"
        )
    return source


def check_format(format_override: str | None) -> None:
    """--format: None or one of FORMATS (exit 2 naming them)."""
    if format_override is not None and format_override not in FORMATS:
        raise QuantlabError(f"--format {format_override!r}: valid formats: {', '.join(FORMATS)}", exit_code=2)


def _has_saved_model(folder: Path) -> bool:
    return (folder / "saved_model.pb").is_file() or (folder / "saved_model.pbtxt").is_file()


def _saved_model_source(folder: Path) -> ModelSource:
    keras = (folder / "keras_metadata.pb").is_file()
    return ModelSource(folder, "saved-model", "Keras SavedModel" if keras else "plain SavedModel")


def _detect(path: Path) -> ModelSource:
    if path.is_dir():
        if _has_saved_model(path) and not (path / MODEL_JSON).is_file():
            return _saved_model_source(path)
        manifest = folder_manifest(path)
        if manifest is not None:
            return _tfjs_source(manifest)
        if _has_saved_model(path):
            return _saved_model_source(path)
        listing = ", ".join(sorted(p.name for p in path.iterdir())[:6]) or "nothing"
        raise ArtifactError(
            f"{path}: a folder without model.json or saved_model.pb (has {listing}); accepted: {ACCEPTED}"
        )
    try:
        with open(path, "rb") as f:
            head = f.read(512)
    except OSError as e:
        raise ArtifactError(f"{path}: cannot read ({e.strerror or e})") from e
    if head.startswith(_HDF5_MAGIC):
        return _h5_source(path)
    if head.startswith(_ZIP_MAGIC) and (v3 := _keras_v3_source(path)) is not None:
        return v3
    if head.lstrip()[:1] == b"{":
        return _tfjs_source(path)
    raise ArtifactError(f"{path}: found {_describe_bytes(head)}; MODEL is {ACCEPTED}")
