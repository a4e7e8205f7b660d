import gzip
import hashlib

import pytest

from quantlab.demos.datasets.resolver import DataFile, resolve
from quantlab.errors import DataError


def _spec(payload: bytes, name="f.bin.gz") -> DataFile:
    return DataFile("set", name, hashlib.sha256(payload).hexdigest(), "http://127.0.0.1:9/" + name)


def test_explicit_dir_wins_over_env(tmp_path, monkeypatch):
    payload = b"hello"
    for where in ("a", "b"):
        (tmp_path / where / "set").mkdir(parents=True)
        (tmp_path / where / "set" / "f.bin.gz").write_bytes(gzip.compress(payload))
    monkeypatch.setenv("QUANTLAB_DATA", str(tmp_path / "b"))
    assert resolve(_spec(payload), tmp_path / "a") == tmp_path / "a" / "set" / "f.bin.gz"
    assert resolve(_spec(payload)) == tmp_path / "b" / "set" / "f.bin.gz"


def test_checksum_is_of_the_decompressed_payload(tmp_path):
    # Two gzip streams of the same payload with different headers both verify.
    (tmp_path / "set").mkdir()
    path = tmp_path / "set" / "f.bin.gz"
    path.write_bytes(gzip.compress(b"abc", mtime=12345))
    assert resolve(_spec(b"abc"), tmp_path) == path


def test_checksum_mismatch_names_the_file(tmp_path):
    (tmp_path / "set").mkdir()
    (tmp_path / "set" / "f.bin.gz").write_bytes(gzip.compress(b"other"))
    with pytest.raises(DataError, match=r"f\.bin\.gz: checksum mismatch"):
        resolve(_spec(b"abc"), tmp_path)


def test_corrupt_gzip_names_the_file(tmp_path):
    (tmp_path / "set").mkdir()
    (tmp_path / "set" / "f.bin.gz").write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(DataError, match=r"f\.bin\.gz: cannot be read or decompressed"):
        resolve(_spec(b"abc"), tmp_path)


def test_missing_offline_says_what_to_put_where(tmp_path):
    with pytest.raises(DataError) as err:
        resolve(_spec(b"abc"), tmp_path)
    msg = str(err.value)
    assert "set/f.bin.gz not found" in msg and str(tmp_path) in msg and "QUANTLAB_DATA" in msg
    assert "\n" not in msg


def test_failed_download_leaves_nothing_in_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("QUANTLAB_OFFLINE", "0")  # try the (unreachable) URL for real
    with pytest.raises(DataError, match="download from http://127.0.0.1:9/f.bin.gz failed"):
        resolve(_spec(b"abc"), tmp_path)
    from quantlab.demos.datasets.resolver import cache_dir

    assert not [p for p in cache_dir().rglob("*") if p.is_file()]
