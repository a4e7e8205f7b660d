"""Delivery sizes against independently computed gzip/brotli lengths; Accept-Encoding choice;
network profile names."""

from __future__ import annotations

import gzip
import json

import brotli
import numpy as np
import pytest

from quantlab.analysis.delivery import PROFILES, delivery_sizes, parse_profiles
from quantlab.analysis.delivery_schedule import check_pages, peak_overlap
from quantlab.errors import QuantlabError
from quantlab.infra.content_coding import accepted_encoding


def _artifact(folder, shards: list[bytes]) -> None:
    """A minimal tfjs layers artifact: model.json naming `shards` (one float32 weight each)."""
    folder.mkdir(parents=True)
    groups = []
    for i, data in enumerate(shards):
        name = f"group{i + 1}-shard1of1.bin"
        (folder / name).write_bytes(data)
        groups.append(
            {"paths": [name], "weights": [{"name": f"w{i}", "shape": [len(data) // 4], "dtype": "float32"}]}
        )
    model = {"format": "layers-model", "modelTopology": {}, "weightsManifest": groups}
    (folder / "model.json").write_text(json.dumps(model))


def test_sizes_match_gzip_and_brotli_computed_here(tmp_path):
    rng = np.random.default_rng(0)
    shards = [rng.standard_normal(2000).astype(np.float32).tobytes(), np.zeros(1000, np.float32).tobytes()]
    _artifact(tmp_path / "m", shards)
    record = delivery_sizes(tmp_path / "m")
    files = [(tmp_path / "m" / "model.json").read_bytes(), *shards]
    assert [f["name"] for f in record["files"]] == [
        "model.json",
        "group1-shard1of1.bin",
        "group2-shard1of1.bin",
    ]
    for f, data in zip(record["files"], files, strict=True):
        assert f["raw"] == len(data)
        assert f["gzip"] == len(gzip.compress(data, compresslevel=6, mtime=0))
        assert f["br"] == len(brotli.compress(data, quality=5))
    assert record["total"] == {k: sum(f[k] for f in record["files"]) for k in ("raw", "gzip", "br")}
    assert record["requests"] == 3
    assert record["settings"]["gzip_level"] == 6 and record["settings"]["brotli_quality"] == 5
    assert record["files"][2]["br"] < 100  # zeros compress; noise does not
    assert record["files"][1]["gzip"] > 0.85 * record["files"][1]["raw"]


@pytest.mark.parametrize(
    ("header", "coding"),
    [
        ("gzip, deflate, br, zstd", "br"),
        ("gzip", "gzip"),
        ("br;q=0, gzip", "gzip"),
        ("identity", None),
        ("", None),
        (None, None),
        ("*", "br"),
        ("*;q=0", None),
        ("GZIP;q=0.5", "gzip"),
        ("br;q=bogus, gzip", "gzip"),
    ],
)
def test_accept_encoding_choice(header, coding):
    assert accepted_encoding(header) == coding


def test_unknown_profile_lists_the_valid_ones_exit_2():
    assert parse_profiles(None) == ["slow-4g", "fast-4g", "none"]
    assert parse_profiles("fast-4g, none,fast-4g") == ["fast-4g", "none"]
    with pytest.raises(QuantlabError) as e:
        parse_profiles("slow-4g,3g")
    assert e.value.exit_code == 2
    assert "'3g'" in str(e.value) and all(p in str(e.value) for p in PROFILES)


def test_profiles_are_devtools_presets():
    # devtools-frontend NetworkManager.ts: Slow4GConditions, Fast4GConditions
    assert PROFILES["slow-4g"]["download_bytes_per_s"] == 1.6 * 1000 * 1000 / 8 * 0.9
    assert PROFILES["slow-4g"]["upload_bytes_per_s"] == 750 * 1000 / 8 * 0.9
    assert PROFILES["slow-4g"]["latency_ms"] == 150 * 3.75
    assert PROFILES["fast-4g"]["download_bytes_per_s"] == 9 * 1000 * 1000 / 8 * 0.9
    assert PROFILES["fast-4g"]["upload_bytes_per_s"] == 1.5 * 1000 * 1000 / 8 * 0.9
    assert PROFILES["fast-4g"]["latency_ms"] == 60 * 2.75


@pytest.mark.parametrize("bad", [0, -1, True, 2.5, "4"])
def test_pages_must_be_a_positive_integer(bad):
    with pytest.raises(QuantlabError) as e:
        check_pages(bad)
    assert e.value.exit_code == 2 and str(e.value) == f"--pages {bad}: must be a positive integer"


def test_pages_accepted():
    assert check_pages(1) == 1 and check_pages(4) == 4


def test_peak_overlap_counts_loads_open_at_once():
    assert peak_overlap([]) == 0
    assert peak_overlap([(0, 1), (1, 2), (2, 3)]) == 1  # one ends as the next starts
    assert peak_overlap([(0, 10), (1, 2), (1.5, 3), (5, 6)]) == 3
    assert peak_overlap([(0, 4), (1, 2), (3, 5)]) == 2


def test_cached_sizes_are_the_served_bytes(tmp_path):
    """delivery_sizes(cache=True), as `quantlab delivery` calls it, counts the very bytes the
    loopback server will send (computed once, before any timed load)."""
    from quantlab.infra.content_coding import compressed

    rng = np.random.default_rng(1)
    _artifact(tmp_path / "m", [rng.standard_normal(500).astype(np.float32).tobytes()])
    record = delivery_sizes(tmp_path / "m", cache=True)
    assert record == delivery_sizes(tmp_path / "m")
    shard = tmp_path / "m" / "group1-shard1of1.bin"
    assert len(compressed(shard, "br")) == record["files"][1]["br"]


def test_job_queue_runs_short_loads_in_cpu_slots_from_the_start_and_long_ones_longest_first():
    import threading
    from pathlib import Path

    from quantlab.analysis.delivery_schedule import JobQueue, LoadJob

    def job(name, seconds):
        return LoadJob(("t", name), "slow-4g", Path(name), seconds)

    stop = threading.Event()
    jobs = [job("s1", 1.0), job("L1", 40.0), job("s2", 3.0), job("L2", 12.0), job("s3", 2.0)]
    q = JobQueue(jobs, 1, 5.0, stop)
    first = q.take()
    assert first.key[1] == "s2" and q.short_running == 1  # a free CPU slot: the longest short load
    assert [q.take().key[1], q.take().key[1]] == ["L1", "L2"]  # slot full: long loads, longest first
    # only short loads are left and the slot is taken: the next page waits (here: until stopped)
    stop.set()
    assert q.take() is None
    stop.clear()
    q.done(first)
    assert q.take().key[1] == "s3" and q.short_running == 1  # the slot is free again
    assert q.peak_short == 1
    two = JobQueue([job("a", 1.0), job("b", 2.0), job("c", 30.0), job("d", 3.0)], 2, 5.0, stop)
    assert [two.take().key[1] for _ in range(3)] == ["d", "b", "c"] and two.peak_short == 2
    in_order = JobQueue([job("x", 1.0), job("y", 9.0)], 1, 0.0, stop, lpt=False)
    assert [in_order.take().key[1], in_order.take().key[1], in_order.take()] == ["x", "y", None]


def test_variant_folders_standard_four_first_and_no_steps(tmp_path):
    from quantlab.analysis.delivery_run import variant_folders
    from quantlab.workspace import STEP_MARKER

    for name in ("uint8", "custom", "float32", "equalized", "keras", "tuned"):
        (tmp_path / name).mkdir()
        if name != "keras":  # the Keras model: no model.json
            (tmp_path / name / "model.json").write_text("{}")
    (tmp_path / "equalized" / STEP_MARKER).write_text("a step\n")
    assert list(variant_folders(tmp_path)) == ["float32", "uint8", "custom", "tuned"]
