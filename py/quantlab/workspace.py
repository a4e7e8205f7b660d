"""Where quantlab writes: MODELS/<name>/<variant>/ for artifacts, OUT/<name>/results.json for
results. One owner for the layout, for names that become folders, and for the lock that keeps
two runs from mixing their variants in one folder."""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
from collections.abc import Iterator
from pathlib import Path

from .errors import QuantlabError
from .tfjs import MODEL_JSON

# One plain path component: letters, digits, '.', '_', '-'; not starting with '.' or '-'.
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$")
# Folder names quantlab itself uses inside a model's folder: a variant named so would destroy them.
RESERVED = {
    "keras", "tuned", "float32", "float16", "uint16", "uint8", "source", "index.html",
    # the graph demo's equalization steps and variants (demos.mobilenet), and its tune from them
    "equalized", "equalized-uint8", "equalized-bc", "equalized-bc-uint8", "tuned-equalized",
}  # fmt: skip
# Names of files quantlab writes at the top of OUT: a model or demo folder named so would collide.
OUT_FILES = {"index.html", "reference-run.log"}
MARKER = ".quantlab-owned"
# In an artifact folder: a step on the way to a variant (a float32 model prepared for quantizing),
# not something to ship; `quantlab delivery` leaves it out.
STEP_MARKER = ".quantlab-step"
LOCK = ".quantlab.lock"


def check_name(name: str, option: str = "--name", reserved: set[str] | frozenset = frozenset()) -> str:
    """A name that becomes one folder: one plain component, not reserved; else exit 2."""
    if not isinstance(name, str) or not _NAME.match(name) or name in (".", ".."):
        raise QuantlabError(
            f"{option} {name!r}: use one plain name (letters, digits, '.', '_', '-'; up to 64 characters, "
            f"not starting with '.' or '-')",
            exit_code=2,
        )
    if name.lower() in reserved:
        raise QuantlabError(
            f"{option} {name!r}: reserved (quantlab uses it: {', '.join(sorted(reserved))})", exit_code=2
        )
    return name


def name_from_path(path: Path) -> str:
    """A default name for a model: its file or folder name, made a plain component."""
    path = Path(path)
    stem = path.parent.name if path.name == MODEL_JSON else path.name
    for suffix in (".h5", ".hdf5", ".keras", ".json"):
        stem = stem.removesuffix(suffix)
    clean = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip(".-")[:64]
    return clean or "model"


def model_name(path: Path, demos: set[str] | frozenset) -> str:
    """name_from_path for a command without --name: refused (exit 2) when it is one of `demos`,
    whose MODELS/<demo>/ variants it would overwrite."""
    name = name_from_path(path)
    if name.lower() in demos:
        raise QuantlabError(
            f"{path}: its name {name!r} is a demo's (MODELS/{name}/ holds that demo's variants); rename "
            f"the file or folder, or use `quantlab analyze {path} --name OTHER`",
            exit_code=2,
        )
    return name


def check_writable_dir(path: Path, option: str) -> Path:
    """`path` is, or can become, a folder (not a file, not under a file); names the option."""
    path = Path(path)
    try:
        if any(len(part.encode()) > 255 for part in path.parts):
            raise QuantlabError(f"{option} {path}: a path component is longer than 255 bytes", exit_code=2)
        for p in [path, *path.parents]:
            if p.exists():
                if not p.is_dir():
                    raise QuantlabError(f"{option} {path}: {p} is a file, not a folder", exit_code=2)
                break
    except (OSError, UnicodeEncodeError) as e:
        raise QuantlabError(f"{option} {path}: not a usable folder ({e})", exit_code=2) from None
    return path


def claim(folder: Path, what: str) -> bool:
    """Refuse to write into an existing folder that quantlab did not make (never overwrite a
    user's own files); mark a new one as ours. True when this call created the folder (so the
    run may remove it if it fails; a folder another run created at the same moment is not)."""
    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()) and not (folder / MARKER).exists():
        raise QuantlabError(
            f"{folder}: exists and was not made by quantlab; choose another --name or remove it ({what})",
            exit_code=2,
        )
    folder.parent.mkdir(parents=True, exist_ok=True)
    try:
        folder.mkdir()
        created = True
    except FileExistsError:
        created = False
    (folder / MARKER).touch()
    return created


def missing_folders(folder: Path) -> list[Path]:
    """`folder` and its parents that do not exist yet, innermost first (MODELS/<name>, MODELS, ...):
    what a run will create, and may remove again when it ends having written nothing."""
    missing = []
    for f in (Path(folder), *Path(folder).parents):
        if f.exists():
            break
        missing.append(f)
    return missing


def remove_empty(folders: list[Path]) -> None:
    """Remove these folders, innermost first, while they are empty (a folder holding anything, an
    output or another run's, stays, and so do those above it)."""
    for f in folders:
        try:
            f.rmdir()
        except OSError:
            return


@contextlib.contextmanager
def locked(folder: Path) -> Iterator[None]:
    """An exclusive lock on `folder` for one run; a second run gets one line, not mixed results.
    A folder the lock made and the run left empty (an interrupt or a failure before anything was
    written) is removed with its lock file, and so are the parents it made: no folder holding only
    `.quantlab.lock`, no empty --out left by a run that wrote nothing."""
    folder = Path(folder)
    made = missing_folders(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / LOCK, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise QuantlabError(
                f"{folder}: another quantlab run is writing here; wait for it or use another --name/--out",
                exit_code=1,
            ) from None
        yield
    finally:
        if made and [p.name for p in folder.iterdir()] == [LOCK]:
            with contextlib.suppress(OSError):  # still ours: we hold the lock
                (folder / LOCK).unlink()
                folder.rmdir()
                remove_empty(made[1:])
        os.close(fd)


def is_inside(child: Path, parent: Path) -> bool:
    child, parent = Path(child).resolve(), Path(parent).resolve()
    return child == parent or parent in child.parents


def claim_model_root(root: Path, source: Path) -> bool:
    """MODELS/<name>/ for a user's MODEL at `source` (a tfjs model's manifest file, else the
    model's file or folder): refused when one lies inside the other (the run would rewrite the
    model it reads), else claimed as quantlab's. A tfjs manifest's own folder may hold MODELS:
    `cd web_model && quantlab analyze model.json` writes models/ beside the model, not over it."""
    if is_inside(root, source) or is_inside(source, root):
        raise QuantlabError(
            f"{source}: MODEL lies inside {root}, which this run rewrites; copy it elsewhere or pass another "
            f"--name",
            exit_code=2,
        )
    check_model_root_source(root, source, "pass --name to keep both, or remove it to replace them")
    created = claim(root, "models folder")
    (Path(root) / MARKER).write_text(str(Path(source).resolve()) + "\n")
    return created


def check_model_root_source(root: Path, source: Path, way_out: str) -> None:
    """Two models with one file name (models/a/model.h5, models/b/model.h5) get one default name:
    refuse (exit 2) to take MODELS/<name>/ made from another model than `source` for its own.
    The marker names the model the folder was made from (an older quantlab's empty one: none)."""
    try:
        before = (Path(root) / MARKER).read_text().strip()
    except OSError:
        return
    if before and before != str(Path(source).resolve()):
        raise QuantlabError(
            f"{root}: holds the variants of {before}, not of {source}; {way_out}", exit_code=2
        )


@contextlib.contextmanager
def locked_folders(*folders: Path) -> Iterator[None]:
    """Hold the run's lock on each folder (MODELS/<name>, OUT/<name>) while it writes there: a
    second run on the same folder gets one line (exit 1) instead of mixing its variants in."""
    with contextlib.ExitStack() as stack:
        for folder in {Path(f).resolve(): Path(f) for f in folders}.values():  # --out may be --models-dir
            try:
                stack.enter_context(locked(folder))
            except OSError as e:  # read-only, no permission, ...: before any work, not a traceback
                raise QuantlabError(f"{folder}: cannot write here ({e.strerror or e})", exit_code=2) from None
        yield


# ---- the folders every command writes: MODELS/<name>/<variant>/ and OUT/<name>/, built here only

KERAS_FOLDER = "keras"  # MODELS/<demo>/keras/: a demo's trained Keras model and its train.json


def model_root(models_dir: Path, name: str) -> Path:
    """MODELS/<name>/: a demo's or a user's model's variants, one folder each."""
    return Path(models_dir) / name


def variant_dir(models_dir: Path, name: str, variant: str) -> Path:
    return model_root(models_dir, name) / variant


def keras_dir(models_dir: Path, name: str) -> Path:
    return model_root(models_dir, name) / KERAS_FOLDER


def results_dir(out_dir: Path, name: str) -> Path:
    """OUT/<name>/: results.json, the page, and each later command's section file (below)."""
    return Path(out_dir) / name


DIAGNOSE_FOLDER = "diagnose"  # OUT/<name>/diagnose/<variant>.json: one record per diagnosed variant


def section_path(out_dir: Path, name: str, key: str) -> Path:
    """OUT/<name>/<section>.json: where a later command's section (parity, tune, tune from another
    base, delivery) is stored, its only copy: `tune_equalized` -> tune-equalized.json."""
    return results_dir(out_dir, name) / f"{key.replace('_', '-')}.json"


def diagnose_path(out_dir: Path, name: str, variant: str) -> Path:
    return results_dir(out_dir, name) / DIAGNOSE_FOLDER / f"{variant}.json"
