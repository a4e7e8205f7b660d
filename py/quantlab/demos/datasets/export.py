"""A demo's test set as an .npz a user (or `quantlab analyze --inputs`) can read: inputs under
`x`, labels under `y`."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from ...errors import QuantlabError


def export_test_set(demo_name: str, data_dir: Path | None, path: Path, limit: int | None = None) -> dict:
    from ...workspace import check_writable_dir
    from ..registry import get_demo

    path = Path(path)
    if path.suffix != ".npz":
        raise QuantlabError(f"--export-to {path}: must end in .npz", exit_code=2)
    if len(path.name.encode()) > 255:
        raise QuantlabError(f"--export-to {path}: the file name is longer than 255 bytes", exit_code=2)
    check_writable_dir(path.parent, "--export-to")  # not under a file
    if path.exists():  # a file of the user's, or a folder: never replaced
        raise QuantlabError(f"--export-to {path}: exists; remove it or choose another file", exit_code=2)
    demo = get_demo(demo_name)
    if not hasattr(demo, "load"):
        raise QuantlabError(
            f"{demo_name}: its test data is a folder of images; pass that folder to `analyze --inputs`",
            exit_code=2,
        )
    data = demo.load(data_dir)
    x, y = data.x_test[:limit], data.y_test[:limit]
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part.npz", dir=path.parent)
    os.close(fd)
    try:
        np.savez(tmp, x=x.astype(np.float32), y=y)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return {"file": str(path), "x": list(x.shape), "y": list(y.shape)}
