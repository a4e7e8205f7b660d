"""MobileNetV2 fixtures shared by the layers and the graph demo tests: small weights (width 0.35,
32x32) with non-trivial BatchNorm statistics, a folder of real images plus bad ones, a wasm runtime."""

import shutil

import numpy as np
import pytest

from quantlab.demos.mobilenet.model import weights_file_name
from quantlab.runtimes.node import TfjsNodeRuntime


@pytest.fixture(scope="module")
def wasm():
    rt = TfjsNodeRuntime("wasm", timeout=300)
    yield rt
    rt.close()


def small_mobilenet(tmp_path_factory, include_top=True, alpha=0.35):
    """MobileNetV2 at width 0.35 and 32x32 input with random, non-trivial BatchNorm statistics
    (an untrained MobileNetV2 outputs a uniform softmax)."""
    from quantlab.infra.tfcompat import keras, seed_everything

    seed_everything(11)
    k = keras()
    model = k.applications.MobileNetV2(
        input_shape=(32, 32, 3),
        alpha=alpha,
        include_top=include_top,
        weights=None,
        pooling=None if include_top else "avg",
    )
    rng = np.random.default_rng(0)
    for layer in model.layers:
        if isinstance(layer, k.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights(
                [
                    rng.uniform(0.5, 1.5, gamma.shape),
                    rng.normal(0, 0.1, beta.shape),
                    rng.normal(0, 0.5, mean.shape),
                    rng.uniform(0.2, 2.0, var.shape),
                ]
            )
    path = tmp_path_factory.mktemp("weights") / weights_file_name(alpha, 32, include_top)
    model.save_weights(path)
    return path


@pytest.fixture(scope="module")
def small_full_weights(tmp_path_factory):
    return small_mobilenet(tmp_path_factory)


@pytest.fixture(scope="module")
def image_dir(tmp_path_factory, data_dir):
    """A data folder with 12 real images plus a greyscale, a CMYK, a corrupt and a non-image file."""
    from PIL import Image

    root = tmp_path_factory.mktemp("data")
    src = data_dir / "imagenet-samples"
    dst = root / "imagenet-samples"
    dst.mkdir()
    for name in ("imagenet_classes.js", "imagenet_class_index.json"):
        shutil.copy(src / name, dst / name)
    real = sorted(src.glob("n0*.jpg"))[5:17]  # goldfish, ray, bird: classes with wnids in the index
    for p in real:
        shutil.copy(p, dst / p.name)
    with Image.open(real[0]) as im:
        im.convert("L").save(dst / "n01443537_900001_goldfish.jpg")
        im.convert("CMYK").save(dst / "n01443537_900002_goldfish.jpg")
    (dst / "n01443537_900003_goldfish.jpg").write_bytes(real[1].read_bytes()[:300])
    (dst / "n01443537_900004_goldfish.jpg").write_text("not an image at all")
    (dst / "README.txt").write_text("ignored")
    return root
