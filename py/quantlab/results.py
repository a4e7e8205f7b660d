"""The one owner of results.json: its path, its schema version, writing it atomically and reading
it back with a version check (the variant row every producer writes: analysis/variant_row.py).

Schema history: 1 = the demos (variants, metrics, weight_error, parity, tune); 2 = adds `kind`
("demo" | "model"), a user model's `source`, `inputs`, `outputs`, per-variant `fidelity`; optional
(no version change): per-variant `delivery` (bytes over the wire) and a `delivery` section."""

from __future__ import annotations

from pathlib import Path

from .errors import ArtifactError, QuantlabError
from .infra.fsutil import read_json, write_json_atomic
from .records.fields import refuse_wrong_types
from .records.run import RunRecord
from .workspace import results_dir

RESULTS_FILE = "results.json"
SCHEMA_VERSION = 2


def results_path(out_dir: Path, name: str) -> Path:
    return results_dir(out_dir, name) / RESULTS_FILE


def write_results(out_dir: Path, name: str, record: dict) -> Path:
    """Atomically (strict JSON, schema stamped), after RunRecord has checked every field's type:
    the class that reads results.json back for the report checks what is written (NaN/Inf
    figures are measurements, written as null + "<key>_nonfinite", and pass)."""
    refuse_wrong_types(RunRecord.from_json(record, name)[1], f"results record for {name}")
    return _write(out_dir, name, record)


def _write(out_dir: Path, name: str, record: dict) -> Path:
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
    """Put a parity/tune record into the results it belongs to (the report reads it from there).
    The file is written back as it was read, plus the section (checked by its own writer): a
    hand-edited field elsewhere in it is the report's to name, not a reason to fail after the run."""
    record = results_or_none(results_path(out_dir, name))
    if record is not None:
        record[key] = section
        _write(out_dir, name, record)
