"""Find a data file: explicit --data-dir, then $QUANTLAB_DATA, then the user cache, then a
download from the canonical URL into the cache. Checksums are of the decompressed payload, since
the same data ships with different gzip headers (DESIGN 1)."""

from __future__ import annotations

import gzip
import hashlib
import os
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

from ...errors import DataError

ENV_VAR = "QUANTLAB_DATA"


@dataclass(frozen=True)
class DataFile:
    """One file of a data set, as it sits under a data folder: `<subdir>/<name>`."""

    subdir: str
    name: str
    sha256: str  # of the decompressed payload for .gz files, of the file otherwise
    url: str

    @property
    def relpath(self) -> str:
        return f"{self.subdir}/{self.name}"


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "quantlab"


def search_dirs(data_dir: Path | str | None = None) -> list[tuple[str, Path]]:
    """The folders searched, in order, each with how it was chosen."""
    dirs: list[tuple[str, Path]] = []
    if data_dir:
        dirs.append(("--data-dir", Path(data_dir)))
    if os.environ.get(ENV_VAR):
        dirs.append((f"${ENV_VAR}", Path(os.environ[ENV_VAR])))
    dirs.append(("user cache", cache_dir()))
    return dirs


def payload_sha256(path: Path, gz: bool | None = None) -> str:
    """sha256 of the file's content, decompressed first when it is gzip (by default: *.gz)."""
    digest = hashlib.sha256()
    try:
        opener = gzip.open if (path.suffix == ".gz" if gz is None else gz) else open
        with opener(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(f"{path}: cannot be read or decompressed ({e}); replace the file") from e
    return digest.hexdigest()


def verify(path: Path, spec: DataFile) -> None:
    actual = payload_sha256(path, gz=spec.name.endswith(".gz"))
    if actual != spec.sha256:
        raise DataError(
            f"{path}: checksum mismatch (sha256 {actual[:12]}..., expected {spec.sha256[:12]}...); "
            f"the file is corrupt or a different version: replace it with {spec.url}"
        )


def locate(spec: DataFile, data_dir: Path | str | None = None) -> tuple[str, Path] | None:
    for how, folder in search_dirs(data_dir):
        candidate = folder / spec.relpath
        if candidate.is_file():
            return how, candidate
    return None


def download(spec: DataFile) -> Path:
    target = cache_dir() / spec.relpath
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    try:
        with urllib.request.urlopen(spec.url, timeout=30) as r, open(part, "wb") as f:
            while chunk := r.read(1 << 20):
                f.write(chunk)
        verify(part, spec)
        part.replace(target)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return target


def resolve(spec: DataFile, data_dir: Path | str | None = None, allow_download: bool = True) -> Path:
    """Return a verified local path for `spec`, or raise a DataError that says where to put it."""
    found = locate(spec, data_dir)
    if found:
        verify(found[1], spec)
        return found[1]
    if allow_download and os.environ.get("QUANTLAB_OFFLINE") != "1":
        try:
            return download(spec)
        except DataError:
            raise
        except Exception as e:  # offline or host unreachable: fall through to the message
            reason = f"download from {spec.url} failed ({type(e).__name__}: {e})"
    else:
        reason = "downloads are disabled"
    where = ", ".join(f"{how} ({folder})" for how, folder in search_dirs(data_dir))
    raise DataError(
        f"data file {spec.relpath} not found in {where} and {reason}; put {spec.name} in "
        f"<data folder>/{spec.subdir}/ and pass --data-dir or set ${ENV_VAR}"
    )
