"""Every data file the demos use, and where each was found."""

from __future__ import annotations

from pathlib import Path

from ...errors import DataError
from . import housing, idx
from .resolver import DataFile, locate, verify


def all_files() -> dict[str, list[DataFile]]:
    return {
        "california-housing": housing.FILES,
        "mnist": idx.idx_files("mnist"),
        "fashion-mnist": idx.idx_files("fashion-mnist"),
    }


def data_status(data_dir: Path | str | None = None) -> list[dict]:
    rows = []
    for dataset, files in all_files().items():
        for spec in files:
            found = locate(spec, data_dir)
            status = None
            if found:
                try:
                    verify(found[1], spec)
                    status = "ok"
                except DataError as e:
                    status = "mismatch" if "checksum" in str(e) else "unreadable"
            rows.append(
                {
                    "dataset": dataset,
                    "file": spec.name,
                    "found_in": found[0] if found else None,
                    "path": str(found[1]) if found else None,
                    "checksum": status if found else "missing",
                    "url": spec.url,
                }
            )
    return rows
