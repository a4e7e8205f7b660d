"""What a command's DEMO|MODEL argument names: demos, a user's model path, their folders and locks."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from ..demos.registry import ALL_DEMOS, get_demo
from ..errors import QuantlabError


def demos_named(names: list[str] | None):
    """The demos named (default: all of them)."""
    from ..demos.registry import DEMOS

    return [get_demo(n) for n in (names or list(DEMOS))]


def model_path(names: list[str] | None) -> Path | None:
    """A user's MODEL given where a DEMO may be: one argument that is not a demo name but a path."""
    from ..demos.registry import DEMOS

    if not names or len(names) != 1 or names[0] in DEMOS:
        return None
    name = names[0]
    # a path, an existing file or folder, or a file name (mnist.h5, model.json): no demo has a suffix
    if "/" in name or Path(name).exists() or Path(name).suffix:
        return Path(name)
    return None


def model_only(**given) -> None:
    """Refuse (exit 2) an option that only means something for a user's MODEL, given with a demo."""
    for key, value in given.items():
        if value is not None:
            flag = "--" + key.rstrip("_").replace("_", "-")
            raise QuantlabError(f"{flag}: only for your MODEL, not a demo", exit_code=2)


def model_name(model: Path, name: str | None) -> str:
    """--name, or the MODEL's file or folder name: one plain name, not a demo's (MODELS/<demo>/,
    OUT/<demo>/ are the demos') nor a file quantlab writes at the top of OUT."""
    from .. import workspace

    return workspace.check_name(
        name or workspace.name_from_path(model), "--name", set(ALL_DEMOS) | workspace.OUT_FILES
    )


def preprocessings() -> tuple[str, ...]:
    from ..demos.datasets.imagenet import PREPROCESSING

    return PREPROCESSING


@contextlib.contextmanager
def locked_folders(*folders: Path) -> Iterator[None]:
    """Hold the run's lock on each folder (MODELS/<demo>, OUT/<demo>) while it writes there: a
    second run on the same folder gets one line (exit 1) instead of mixing its variants in."""
    from ..workspace import locked

    with contextlib.ExitStack() as stack:
        for folder in {Path(f).resolve(): Path(f) for f in folders}.values():  # --out may be --models-dir
            try:
                stack.enter_context(locked(folder))
            except OSError as e:  # read-only, no permission, ...: before any work, not a traceback
                raise QuantlabError(f"{folder}: cannot write here ({e.strerror or e})", exit_code=2) from None
        yield
