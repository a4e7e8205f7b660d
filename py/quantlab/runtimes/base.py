"""The interface every runtime implements. Runtimes run models; metrics live elsewhere."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import QuantlabError
from ..input_spec import InputSpec

# What predict takes: one array (single-input model) or {input name: array}.
Inputs = np.ndarray | Mapping[str, np.ndarray]


@dataclass
class LoadedModel:
    """A model loaded in a runtime. inputs/outputs: [{"name", "shape", "dtype"}] in the model's
    order (shape: None for unknown dims); layers: [{"name", "class_name"}] (layers models only);
    format: "layers" or "graph"."""

    handle: object
    model_dir: Path
    load_ms: float
    inputs: list[dict] = field(default_factory=list)
    layers: list[dict] = field(default_factory=list)
    outputs: list[dict] = field(default_factory=list)
    format: str = "layers"

    @property
    def input_names(self) -> list[str]:
        return [i.get("name") for i in self.inputs]

    @property
    def output_names(self) -> list[str]:
        return [o.get("name") for o in self.outputs]


def named_inputs(model: LoadedModel, x: Inputs) -> dict[str, np.ndarray]:
    """{input name: array}, in the order given; one bare array names the model's single input.
    Arrays are cast to the dtype the model declares for that input (float32 or int32)."""
    from ..errors import QuantlabError

    if isinstance(x, Mapping):
        named = dict(x)
        if not named:
            raise QuantlabError(f"{model.model_dir}: predict needs at least one input", exit_code=2)
    else:
        if len(model.inputs) > 1:
            raise QuantlabError(
                f"{model.model_dir}: the model has {len(model.inputs)} inputs "
                f"({', '.join(map(str, model.input_names))}); pass {{name: array}}",
                exit_code=2,
            )
        name = model.inputs[0].get("name") if model.inputs else None
        named = {name: x}
    dtypes = {i.get("name"): i.get("dtype") for i in model.inputs}
    out = {}
    for name, arr in named.items():
        arr = np.asarray(arr)
        want = dtypes.get(name)
        if want in ("float32", "int32") and arr.dtype != np.dtype(want):
            arr = arr.astype(want)
        out[name] = arr
    return out


def n_examples(x: Inputs) -> int:
    """Examples in a predict call: the length of the (first) input along axis 0."""
    first = next(iter(x.values())) if isinstance(x, Mapping) else x
    return len(first) if np.ndim(first) else 1


def head(x: Inputs, n: int) -> Inputs:
    """The first n examples of one array or of every named array."""
    return {k: v[:n] for k, v in x.items()} if isinstance(x, Mapping) else x[:n]


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
    """load(model_dir) -> LoadedModel; predict(model, x) -> outputs; describe(); close().

    predict's x is one array for a single-input model or {input name: array}; it returns the
    outputs in the model's output order (or one per name in `layers`) and the timings. `feeds`
    ({name: array}, tfjs runtimes only) gives intermediate values, so `layers` are computed from
    them rather than from the inputs (js/protocol.json, predict)."""

    name: str

    @abstractmethod
    def load(self, model_dir: Path) -> LoadedModel: ...

    @abstractmethod
    def predict(
        self,
        model: LoadedModel,
        x: Inputs,
        batch_size: int = 256,
        layers: list[str] | None = None,
        feeds: Mapping[str, np.ndarray] | None = None,
    ) -> tuple[list[np.ndarray], PredictTimings]: ...

    def unload(self, model: LoadedModel) -> None:  # noqa: B027 (optional hook)
        pass

    def compare(
        self,
        reference: LoadedModel,
        model: LoadedModel,
        x: Inputs,
        nodes: list[str],
        fetch: list[str],
        groups: list[dict],
    ) -> dict:
        """Per-node error statistics of `model` against `reference` on one batch `x`, computed in
        the runtime (js/protocol.json, compare); tfjs runtimes only."""
        raise QuantlabError(
            f"{self.name}: per-node diagnosis runs in tfjs runtimes (node-*, browser-*)", exit_code=2
        )

    @abstractmethod
    def describe(self) -> dict: ...

    def close(self) -> None:  # noqa: B027 (optional hook)
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def input_specs(model: LoadedModel) -> list[InputSpec]:
    """The model's inputs as InputSpecs (a dynamic dimension: None; a nameless input: input_<i>)."""
    specs = []
    for i, inp in enumerate(model.inputs):
        shape = [None if (d is None or d < 0) else int(d) for d in inp.get("shape", [])]
        specs.append(InputSpec(inp.get("name") or f"input_{i}", shape, inp.get("dtype") or "float32"))
    return specs
