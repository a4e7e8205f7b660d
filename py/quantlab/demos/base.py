"""What a trained demo is, below the steps that use it: its training profile and its definition
(data, model, profiles, the seed's figures). train.py and pipeline.py take a DemoSpec; registry.py's
Demo is a DemoSpec with its three steps, and the list of demos."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .datasets.base import Dataset


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
class DemoSpec:
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
