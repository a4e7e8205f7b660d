"""Names that become folders, ownership of folders, and the run lock."""

from __future__ import annotations

import pytest

from quantlab.errors import QuantlabError
from quantlab.workspace import RESERVED, check_name, check_writable_dir, claim, locked, name_from_path


@pytest.mark.parametrize(
    "bad", ["", ".", "..", "../../../x", "a/b", "/abs", ".hidden", "-x", "a" * 65, "a b"]
)
def test_names_are_one_plain_component(bad):
    with pytest.raises(QuantlabError) as e:
        check_name(bad)
    assert e.value.exit_code == 2


@pytest.mark.parametrize("reserved", ["keras", "float32", "uint8", "tuned"])
def test_reserved_names_are_refused(reserved):
    with pytest.raises(QuantlabError, match="reserved"):
        check_name(reserved, reserved=RESERVED)


def test_default_names_from_paths(tmp_path):
    assert name_from_path(tmp_path / "my model.h5") == "my-model"
    assert name_from_path(tmp_path / "web" / "model.json") == "web"
    assert name_from_path(tmp_path / "...") == "model"


def test_a_folder_the_user_made_is_never_taken_over(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("precious")
    with pytest.raises(QuantlabError, match="not made by quantlab"):
        claim(mine, "models folder")
    ours = tmp_path / "ours"
    claim(ours, "x")
    (ours / "results.json").write_text("{}")
    claim(ours, "x")  # ours: a rerun may rewrite it


def test_second_run_on_the_same_folder_is_refused(tmp_path):
    with locked(tmp_path):
        with pytest.raises(QuantlabError, match="another quantlab run"):
            with locked(tmp_path):
                pass
    with locked(tmp_path):  # released
        pass


def test_out_under_a_file_is_refused(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(QuantlabError, match="is a file"):
        check_writable_dir(f / "sub", "--out")
    with pytest.raises(QuantlabError, match="longer than 255"):
        check_writable_dir(tmp_path / ("x" * 300), "--out")


def test_claim_says_whether_this_call_made_the_folder(tmp_path):
    """analyze removes, when it fails, only the folders its own claim made: never one that
    existed, nor one a concurrent run made a moment before."""
    from quantlab.workspace import MARKER, claim

    folder = tmp_path / "a" / "b"
    assert claim(folder, "results folder") is True and (folder / MARKER).exists()
    assert claim(folder, "results folder") is False  # ours already: claimed again, not made
    (tmp_path / "empty").mkdir()
    assert claim(tmp_path / "empty", "models folder") is False


def test_a_folder_the_lock_made_and_nothing_filled_is_removed(tmp_path):
    from quantlab.workspace import LOCK, locked

    fresh = tmp_path / "models" / "housing"
    with pytest.raises(KeyboardInterrupt):
        with locked(fresh):
            assert (fresh / LOCK).exists()
            raise KeyboardInterrupt  # Ctrl-C before training wrote anything
    assert not fresh.exists()
    kept = tmp_path / "kept"
    kept.mkdir()
    with locked(kept):
        pass
    assert kept.is_dir()  # the user's folder stays
    with locked(fresh):
        (fresh / "train.json").write_text("{}")
    assert (fresh / "train.json").is_file()  # a folder with work in it stays


def test_a_second_model_with_the_same_name_does_not_replace_the_first(tmp_path):
    """models/a/model.h5 and models/b/model.h5 both default to the name `model`: the second run
    is refused with the way out (--name), a re-run of the first is not, nor a folder an older
    quantlab marked without naming its model."""
    from quantlab import workspace

    a, b = tmp_path / "a" / "model.h5", tmp_path / "b" / "model.h5"
    root = tmp_path / "out" / "model"
    assert workspace.claim_model_root(root, a) is True
    assert workspace.claim_model_root(root, a) is False  # the same model again: its own folder
    with pytest.raises(QuantlabError) as e:
        workspace.claim_model_root(root, b)
    assert e.value.exit_code == 2 and f"holds the variants of {a.resolve()}, not of {b}" in str(e.value)
    assert "--name" in str(e.value)
    (root / workspace.MARKER).write_text("")  # an older quantlab's empty marker
    assert workspace.claim_model_root(root, b) is False
    assert (root / workspace.MARKER).read_text().strip() == str(b.resolve())
