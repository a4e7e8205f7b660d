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
