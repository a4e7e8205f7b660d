"""What every loader returns: arrays plus where they came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class Dataset:
    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str
    files: dict[str, Path]
    checksums: dict[str, str]
    extra: dict = field(default_factory=dict)  # e.g. housing's normalisation statistics

    def label_units(self) -> dict[str, float]:
        """Other units for regression errors (tasks.label_metrics `units`): housing's labels are
        standardised, so its MAE is also given in dollars."""
        std = self.extra.get("label_std")
        return {"dollars": std} if std is not None else {}

    def describe(self) -> dict:
        return {
            "name": self.name,
            "n_train": int(len(self.x_train)),
            "n_test": int(len(self.x_test)),
            "source": self.source,
            "files": {k: str(v) for k, v in self.files.items()},
            "checksum": self.checksums,
        }
