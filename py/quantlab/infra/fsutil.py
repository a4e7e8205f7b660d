"""Atomic writes: outputs appear whole or not at all (write to a temp path, then rename)."""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs are ordinary files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


NONFINITE_SUFFIX = "_nonfinite"
_SPELLING = {"inf": float("inf"), "-inf": float("-inf"), "nan": float("nan")}


def _spell(x: float) -> str:
    return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")


def strict_json_value(obj: Any) -> Any:
    """`obj` with every non-finite float replaced by None, so that it is strict JSON (RFC 8259 has
    no NaN or Infinity, and Node's JSON.parse rejects Python's bare `NaN`/`Infinity`).

    The one rule: a non-finite float becomes null; inside an object its meaning is kept in a
    sibling key `<key>_nonfinite` holding "inf", "-inf" or "nan", placed right after it. So a
    perfect SQNR is written `"sqnr_db": null, "sqnr_db_nonfinite": "inf"`, and an unknown one
    `"sqnr_db": null, "sqnr_db_nonfinite": "nan"`. An item of a list is only nulled (no list
    written here holds one when the data are finite). A sibling key that already exists is an
    error rather than a silent overwrite. `restore_nonfinite` is the inverse."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        out = {}
        for key, value in obj.items():
            out[key] = strict_json_value(value)
            if isinstance(value, float) and not math.isfinite(value):
                flag = f"{key}{NONFINITE_SUFFIX}"
                if flag in obj:
                    raise ValueError(f"cannot write {key}={value} as strict JSON: {flag} already exists")
                out[flag] = _spell(value)
        return out
    if isinstance(obj, list | tuple):
        return [strict_json_value(v) for v in obj]
    return obj


def restore_nonfinite(obj: Any) -> Any:
    """The inverse of `strict_json_value` on parsed JSON: `"k": null, "k_nonfinite": "inf"` becomes
    `"k": inf` again (the flag is dropped), so readers see the floats that were written."""
    if isinstance(obj, dict):
        out = {}
        for key, value in obj.items():
            base = key[: -len(NONFINITE_SUFFIX)] if key.endswith(NONFINITE_SUFFIX) else None
            if base is not None and obj.get(base, 0) is None and value in _SPELLING:
                continue
            flag = obj.get(f"{key}{NONFINITE_SUFFIX}")
            out[key] = _SPELLING[flag] if value is None and flag in _SPELLING else restore_nonfinite(value)
        return out
    if isinstance(obj, list):
        return [restore_nonfinite(v) for v in obj]
    return obj


def _reject_constant(name: str) -> Any:
    raise ValueError(f"not strict JSON: bare {name}")


def loads_strict(text: str) -> Any:
    """json.loads that refuses NaN/Infinity/-Infinity, as Node's JSON.parse does."""
    return json.loads(text, parse_constant=_reject_constant)


def read_json(path: Path) -> Any:
    """A JSON file written by `write_json_atomic`, its non-finite floats restored."""
    return restore_nonfinite(json.loads(Path(path).read_text(encoding="utf-8")))


def dumps_strict(obj: Any) -> str:
    """Strict JSON text (see `strict_json_value` for how NaN/Inf are written); `allow_nan=False`
    makes any non-finite float that escapes the sanitiser (a regression) raise instead."""
    return json.dumps(strict_json_value(obj), indent=2, sort_keys=False, allow_nan=False)


def write_json_atomic(path: Path, obj: Any) -> None:
    write_text_atomic(path, dumps_strict(obj) + "\n")


@contextlib.contextmanager
def atomic_dir(final: Path) -> Iterator[Path]:
    """Yield a temp folder beside `final`; on success it replaces `final`, on failure vanishes."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".part", dir=final.parent))
    tmp.chmod(0o777 & ~_umask())  # mkdtemp makes 0700; the result is an ordinary folder
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = final.with_name(f".{final.name}.old")
    moved = False
    try:
        if final.exists():
            shutil.rmtree(old, ignore_errors=True)
            final.rename(old)
            moved = True
        tmp.rename(final)
    except BaseException:  # Ctrl-C between the two renames: the previous folder comes back
        if moved and not final.exists():
            old.rename(final)
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)
