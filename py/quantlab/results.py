"""The one owner of results.json and the section files beside it: their paths, the schema version,
writing each atomically and reading a run back whole (the variant row every producer writes:
analysis/variant_row.py).

Each section a later command adds (parity, tune, delivery, diagnose) is stored once, in its own
file (workspace.section_path, diagnose/<variant>.json), and joined to the run when it is read:
`quantlab parity` needs no results.json, and re-running `evaluate` keeps them.

Schema history: 1 = the demos (variants, metrics, weight_error, parity, tune); 2 = adds `kind`
("demo" | "model"), a user model's `source`, `inputs`, `outputs`, per-variant `fidelity`; optional
(no version change): per-variant `delivery` (bytes over the wire) and a `delivery` section. Older
files that hold a section inside results.json still read (the section file wins)."""

from __future__ import annotations

from pathlib import Path

from .errors import ArtifactError, QuantlabError
from .infra.fsutil import read_json, write_json_atomic
from .infra.progress import log
from .records.fields import refuse_wrong_types
from .records.run import RunRecord
from .records.sections import SECTIONS, diagnose_entry
from .workspace import DIAGNOSE_FOLDER, results_dir, section_path

RESULTS_FILE = "results.json"
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S%z"  # every record's `created`


def created_now() -> str:
    """A record's `created`: local time with its offset, as read_run compares them."""
    import time

    return time.strftime(TIME_FORMAT)


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
    kept = {k: v for k, v in record.items() if k != "schema" and k not in SECTIONS}  # theirs: own files
    write_json_atomic(path, {"schema": SCHEMA_VERSION, **kept})
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
    is not a results object."""
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


def write_section(out_dir: Path, name: str, key: str, section: dict) -> Path:
    """OUT/<name>/<key>.json, after its record class has checked every declared field's type."""
    if key in SECTIONS:
        refuse_wrong_types(SECTIONS[key].from_json(section)[1], f"{key} record for {name}")
    path = section_path(out_dir, name, key)
    write_json_atomic(path, section)
    return path


def read_run(path: Path) -> tuple[dict, list[str], dict[str, str]]:
    """A results.json (schema checked) with the sections stored beside it joined in; the section
    files that could not be read (each named and logged; the run reads without them); and the
    sections measured before these results were ({key: when}): an older run's parity, tune or
    delivery stays beside a results.json that `evaluate` wrote again, and may describe variants
    made since, so the page says so."""
    record, folder, problems = read_results(path), Path(path).parent, []
    for key in SECTIONS:
        file = section_path(folder.parent, folder.name, key)
        if key == "diagnose" or not file.is_file():
            continue
        section = _section_file(file, problems)
        if section is not None:
            record[key] = section
    diagnosed = {}
    for file in sorted((folder / DIAGNOSE_FOLDER).glob("*.json")):
        entry = _section_file(file, problems)
        try:
            diagnosed[file.stem] = diagnose_entry(entry) if entry is not None else None
        except (KeyError, TypeError, AttributeError):
            problems.append(f"{file.name} (not a diagnose record)")
            log.warning("%s: not a diagnose record; the page goes without it", file)
    if any(diagnosed.values()):
        record["diagnose"] = {"variants": {k: v for k, v in diagnosed.items() if v is not None}}
    return record, problems, _earlier(record)


def _earlier(record: dict) -> dict[str, str]:
    """{section: its time} for each section measured before the run's own `created` (a diagnosis
    per variant: the section has no time of its own)."""
    run_time, earlier = record.get("created"), {}
    for key in SECTIONS:
        section = record.get(key) if isinstance(record.get(key), dict) else {}
        entries = section.get("variants") if key == "diagnose" else {"": section}
        for variant, entry in (entries if isinstance(entries, dict) else {}).items():
            if isinstance(entry, dict) and _before(entry.get("created"), run_time):
                earlier[f"{key} {variant}".strip()] = entry["created"]
    return earlier


def _before(a, b) -> bool:
    """a is a time before b (both as the records write them); False when either is not one."""
    from datetime import datetime

    try:
        return datetime.strptime(a, TIME_FORMAT) < datetime.strptime(b, TIME_FORMAT)
    except (TypeError, ValueError):
        return False


def _section_file(file: Path, problems: list[str]) -> dict | None:
    try:
        section = read_json(file)
    except (OSError, ValueError, RecursionError) as e:
        section = e
    if isinstance(section, dict):
        return section
    problems.append(f"{file.name} (not a JSON object)")
    log.warning("%s: not readable as a JSON object; the page goes without it", file)
    return None
