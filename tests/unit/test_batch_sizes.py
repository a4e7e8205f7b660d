"""How many examples one tfjs batch and one request hold: bounded in bytes, so a large input does
not exhaust tfjs-backend-wasm's memory (256 MobileNetV2 images at 224x224 did), while small
inputs keep their batch of 256 (and with it every figure measured before)."""

from __future__ import annotations

from quantlab.analysis.jobs import BATCH_BYTES, REQUEST_BYTES, shard_bounds, sized


def test_batches_are_bounded_in_bytes_worked_by_hand():
    image = 224 * 224 * 3  # 602,112 bytes as float32
    assert sized(256, image, BATCH_BYTES) == 55  # 33,554,432 // 602,112 = 55.7
    assert sized(1024, image, REQUEST_BYTES) == 222  # 134,217,728 // 602,112 = 222.9
    assert sized(256, 28 * 28, BATCH_BYTES) == 256  # MNIST: 3,136 bytes, far under
    assert sized(256, 112 * 112 * 3, BATCH_BYTES) == 222  # 150,528 bytes: 222.9
    assert sized(256, 10**9, BATCH_BYTES) == 1  # never zero
    # 900 images in requests of at most 222, cut at whole batches of 55: 4 x 220 + 20
    assert shard_bounds(900, 55, 222, 2) == [(0, 220), (220, 440), (440, 660), (660, 880), (880, 900)]


def test_a_light_load_runs_on_one_worker_unless_workers_were_asked_for():
    from quantlab.analysis.jobs import active_workers, fewer_reason, light_work

    mib = 1 << 20
    # the clf fixture: 1.5 KB of weights, 300 examples x 8 features x 4 variants = 9,600 values
    assert light_work(1_536, 300 * 8 * 4)
    assert light_work(mib, mib) and not light_work(mib + 1, 10) and not light_work(10, mib + 1)
    # MNIST's quick test set: 1,000 images x 784 pixels x 4 variants = 3,136,000 values: not light
    assert not light_work(2_379_688, 1000 * 784 * 4)
    assert active_workers(2, explicit=False, n_jobs=8, light=True) == 1
    assert active_workers(2, explicit=True, n_jobs=8, light=True) == 2  # --workers 2: both run
    assert active_workers(4, explicit=False, n_jobs=3) == 3  # never more than there are jobs
    assert active_workers(4, explicit=True, n_jobs=1) == 1
    assert active_workers(2, explicit=False, n_jobs=None) == 2
    # the log line says why fewer run than asked
    assert fewer_reason(2, 8, 1) == "a light load" and fewer_reason(4, 3, 3) == "3 jobs"
