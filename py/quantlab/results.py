"""The one owner of results.json: its schema version, the variant row every producer writes, and
reading it back with a version check.

Schema history: 1 = the demos (variants, metrics, weight_error, parity, tune); 2 = adds `kind`
("demo" | "model"), a user model's `source`, `inputs`, `outputs`, per-variant `fidelity`; optional
(no version change): per-variant `delivery` (bytes over the wire) and a `delivery` section."""

from __future__ import annotations

from pathlib import Path

from .analysis.delivery import delivery_sizes
from .artifacts import Artifact, artifact_summary
from .errors import ArtifactError, QuantlabError
from .infra.fsutil import read_json, write_json_atomic
from .runtimes.base import PredictTimings, Runtime

RESULTS_FILE = "results.json"
SCHEMA_VERSION = 2


def results_path(out_dir: Path, name: str) -> Path:
    return Path(out_dir) / name / RESULTS_FILE


def artifact_sizes(art: Artifact) -> dict:
    """A variant's byte figures (artifact summary and bytes over the wire): compressing a large
    float32 model takes seconds, so callers may compute these early, beside the predictions."""
    return {**artifact_summary(art), "delivery": delivery_sizes(art.folder)}


def variant_row(
    name: str,
    art: Artifact,
    metrics: dict,
    runtime: Runtime,
    load_ms: float,
    t: PredictTimings,
    sizes: dict | None = None,
) -> dict:
    """One variant's entry: sizes (`sizes`: artifact_sizes(art) computed already), metrics, and
    how the runtime did."""
    info = runtime.describe()
    return {
        "name": name,
        **(sizes or artifact_sizes(art)),
        "metrics": metrics,
        "runtime": {
            "name": runtime.name,
            "backend": info["backend"],
            "tfjs_version": info.get("tfjs_version"),
            "load_ms": round(load_ms, 2),
            "predict_ms_per_example": round(t.predict_ms / max(1, t.examples), 4),
            "examples_per_second": round(1000 * t.examples / t.predict_ms, 2) if t.predict_ms else None,
            "transfer_ms": round(t.transfer_ms, 2),
            "n_examples": t.examples,
        },
    }


def write_results(out_dir: Path, name: str, record: dict) -> Path:
    """Atomically (strict JSON, schema stamped)."""
    path = results_path(out_dir, name)
    write_json_atomic(path, {"schema": SCHEMA_VERSION, **{k: v for k, v in record.items() if k != "schema"}})
    return path


def check_schema(record: dict, path: Path) -> dict:
    version = record.get("schema", 1)
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise QuantlabError(
            f"{path}: results schema {version!r} is newer than this quantlab reads ({SCHEMA_VERSION}); "
            f"upgrade quantlab or re-run"
        )
    return record


def read_results(path: Path) -> dict:
    """A results.json, non-finite numbers restored, schema checked; exit 4 naming the file when it
    is not a results object (before a command merges its record into it)."""
    try:
        record = read_json(path)
    except (OSError, ValueError, RecursionError) as e:
        raise ArtifactError(
            f"{path}: not readable JSON ({type(e).__name__}); re-create it with `quantlab evaluate` "
            f"or remove it"
        ) from None
    if not isinstance(record, dict):
        raise ArtifactError(
            f"{path}: expected a JSON object, got {type(record).__name__}; re-create it with "
            f"`quantlab evaluate` or remove it"
        )
    return check_schema(record, path)


def results_or_none(path: Path) -> dict | None:
    return read_results(path) if Path(path).is_file() else None


def attach_section(out_dir: Path, name: str, key: str, section: dict) -> None:
    """Put a parity/tune record into the results it belongs to (the report reads it from there)."""
    record = results_or_none(results_path(out_dir, name))
    if record is not None:
        record[key] = section
        write_results(out_dir, name, record)
