"""What a model's inputs are (name, shape, dtype) and the options that say where a user's inputs
come from: the types the input loaders (inputs.py, synthetic_inputs.py) and their callers share."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .errors import ArtifactError

# Synthetic inputs, when none are given: how many examples, and their seed.
SYNTHETIC_SAMPLES, SYNTHETIC_SEED = 64, 1337


@dataclass
class InputSpec:
    """One model input as the runtime reports it (None: any size)."""

    name: str
    shape: list[int | None]
    dtype: str = "float32"

    @property
    def is_int(self) -> bool:
        return self.dtype.startswith(("int", "uint", "bool"))


@dataclass
class InputOptions:
    path: Path | None = None
    labels_key: str = "y"
    image_size: int | None = None
    scale: tuple[float, float] = (0.0, 1.0)
    input_range: tuple[float, float] | None = None
    samples: int = SYNTHETIC_SAMPLES
    input_shapes: dict[str, list[int]] = field(default_factory=dict)
    seed: int = SYNTHETIC_SEED
    limit: int | None = None


def fixed_batch(specs: list[InputSpec]) -> int | None:
    """The batch size a model insists on (its inputs' first dimension), None when it is free."""
    fixed = {s.shape[0] for s in specs if s.shape and s.shape[0] is not None}
    if len(fixed) > 1:
        raise ArtifactError(f"the model's inputs disagree on their batch size ({sorted(fixed)})")
    return fixed.pop() if fixed else None
