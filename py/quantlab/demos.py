"""The demos as data: which data, which model, which metric, how long to train."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import models
from .datasets.base import Dataset
from .errors import QuantlabError


@dataclass(frozen=True)
class Profile:
    epochs: int
    batch_size: int = 128
    train_limit: int | None = None  # first N training examples (quick runs only)
    test_limit: int | None = None
    # Decay the seed optimizer's learning rate to 0 over the run (cosine): the same accuracy in
    # about half the epochs of a constant rate, which keeps the full run inside its time budget.
    cosine_decay: bool = False


@dataclass(frozen=True)
class Demo:
    name: str
    title: str
    task: str  # "regression" or "classification"
    primary_metric: str  # key in metrics; lower is better for regression
    load: Callable[[Path | str | None], Dataset]
    build: Callable[[], object]
    full: Profile
    quick: Profile
    # The seed's published figures (../shared/seed/README.md), keyed by our variant names.
    seed: dict[str, float]
    validation_split: float = 0.15
    note: str = ""

    def profile(self, quick: bool) -> Profile:
        return self.quick if quick else self.full


def _housing(data_dir):
    from .datasets.housing import load_housing

    return load_housing(data_dir)


def _mnist(data_dir):
    from .datasets.idx import load_idx_dataset

    return load_idx_dataset("mnist", data_dir)


def _fashion(data_dir):
    from .datasets.idx import load_idx_dataset

    return load_idx_dataset("fashion-mnist", data_dir)


DEMOS: dict[str, Demo] = {
    d.name: d
    for d in (
        Demo(
            "housing",
            "housing: multi-layer regressor",
            "regression",
            "mae",
            _housing,
            models.housing_mlp,
            full=Profile(epochs=200),
            quick=Profile(epochs=3),
            seed={"float32": 0.311984, "uint16": 0.311983, "uint8": 0.312780},
            validation_split=0.2,
            note="The seed trained on a 10k-row CSV with a 0.7/0.2/0.1 split; we train on the "
            "17,000-row sample file (20% validation) and test on the separate 3,000-row file.",
        ),
        Demo(
            "mnist",
            "MNIST: convnet",
            "classification",
            "accuracy",
            _mnist,
            models.mnist_convnet,
            full=Profile(epochs=8, cosine_decay=True),
            quick=Profile(epochs=1, train_limit=3000, test_limit=1000),
            seed={"float32": 0.9952, "uint16": 0.9952, "uint8": 0.9952},
            note="The seed trained up to 100 epochs with early stopping in tfjs-node; we train 8 "
            "epochs in tf-keras with RMSprop's learning rate decayed to 0 on a cosine schedule.",
        ),
        Demo(
            "fashion-mnist",
            "Fashion MNIST: convnet",
            "classification",
            "accuracy",
            _fashion,
            models.fashion_convnet,
            full=Profile(epochs=12, cosine_decay=True),
            quick=Profile(epochs=1, train_limit=3000, test_limit=1000),
            seed={"float32": 0.922, "uint16": 0.922, "uint8": 0.9211},
            note="The seed trained up to 100 epochs with early stopping in tfjs-node; we train 12 "
            "epochs in tf-keras with Adam's learning rate decayed to 0 on a cosine schedule.",
        ),
    )
}


# MobileNetV2 is not trained: it has its own pipeline (mobilenet.py).
MOBILENET = "mobilenetv2"
ALL_DEMOS = [*DEMOS, MOBILENET]


def check_demo_name(name: str) -> str:
    if name not in ALL_DEMOS:
        raise QuantlabError(f"unknown demo {name!r}; valid demos: {', '.join(ALL_DEMOS)}", exit_code=2)
    return name


def get_demo(name: str) -> Demo:
    check_demo_name(name)
    if name not in DEMOS:
        raise QuantlabError(
            f"{name} is not trained; use `quantlab run {name}` (it converts Keras' pretrained model)",
            exit_code=2,
        )
    return DEMOS[name]
