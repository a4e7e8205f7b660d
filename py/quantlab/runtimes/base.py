"""The interface every runtime implements. Runtimes run models; metrics live elsewhere."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class LoadedModel:
    handle: object
    model_dir: Path
    load_ms: float
    inputs: list[dict] = field(default_factory=list)
    layers: list[dict] = field(default_factory=list)


@dataclass
class PredictTimings:
    """Milliseconds: transfer = writing and reading tensor files on both sides."""

    predict_ms: float = 0.0
    transfer_ms: float = 0.0
    total_ms: float = 0.0
    examples: int = 0

    def add(self, other: PredictTimings) -> None:
        self.predict_ms += other.predict_ms
        self.transfer_ms += other.transfer_ms
        self.total_ms += other.total_ms
        self.examples += other.examples


class Runtime(ABC):
    """load(model_dir) -> LoadedModel; predict(model, x) -> outputs; describe(); close()."""

    name: str

    @abstractmethod
    def load(self, model_dir: Path) -> LoadedModel: ...

    @abstractmethod
    def predict(
        self, model: LoadedModel, x: np.ndarray, batch_size: int = 256, layers: list[str] | None = None
    ) -> tuple[list[np.ndarray], PredictTimings]: ...

    def unload(self, model: LoadedModel) -> None:  # noqa: B027 (optional hook)
        pass

    @abstractmethod
    def describe(self) -> dict: ...

    def close(self) -> None:  # noqa: B027 (optional hook)
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
