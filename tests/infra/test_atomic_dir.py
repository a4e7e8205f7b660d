"""atomic_dir: the folder a reader sees is always the old one or the new one, whole."""

from __future__ import annotations

from pathlib import Path

import pytest

from quantlab.infra.fsutil import atomic_dir


def _tree(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


def _make(final: Path, text: str) -> None:
    with atomic_dir(final) as tmp:
        (tmp / "model.json").write_text(text)


def test_replaces_whole_and_leaves_no_temp(tmp_path):
    final = tmp_path / "v"
    _make(final, "one")
    _make(final, "two")
    assert _tree(tmp_path) == {"v/model.json": "two"}


def test_a_failure_while_writing_keeps_the_old_folder(tmp_path):
    final = tmp_path / "v"
    _make(final, "one")
    with pytest.raises(KeyboardInterrupt), atomic_dir(final) as tmp:
        (tmp / "model.json").write_text("half")
        raise KeyboardInterrupt
    assert _tree(tmp_path) == {"v/model.json": "one"}


def test_an_interrupt_between_the_two_renames_brings_the_old_folder_back(tmp_path, monkeypatch):
    final = tmp_path / "v"
    _make(final, "one")
    real_rename = Path.rename

    def rename(self, target):
        if self.name.endswith(".part"):  # the new folder's move into place: interrupted
            raise KeyboardInterrupt
        return real_rename(self, target)

    monkeypatch.setattr(Path, "rename", rename)
    with pytest.raises(KeyboardInterrupt):
        _make(final, "two")
    monkeypatch.undo()
    assert _tree(tmp_path) == {"v/model.json": "one"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v"]
