"""What a command measures, resolved once at its start: a demo (demos/subject.py) or a user's model
(analysis/subject_model.py). Both give the same things, so each command has one road: the name of
its folders, the variant artifacts, and for parity the inputs and the reference."""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .. import workspace
from ..runtimes.base import Inputs, LoadedModel
from .parity import Reference
from .sweep import Probe


@dataclass
class TuneSetup:
    """What a tune measures on: the search probe, the held-out probe that judges the answer, how
    they were split, the smaller probe the per-layer sweep ranks on (None: the search probe), what
    the record says about the subject, and what to close after the search."""

    probe: Probe
    holdout_probe: Probe
    split: dict
    rank_probe: Probe | None = None
    details: dict = field(default_factory=dict)
    close: Callable[[], None] = lambda: None


@dataclass
class ParitySetup:
    """What parity compares on: the reference, the inputs (whole batches for a fixed-batch model),
    the batch size, and what the record says about the subject."""

    reference: Reference
    x: Inputs
    batch_size: int
    details: dict = field(default_factory=dict)


class Subject(ABC):
    """A demo or a user's model. `name` names MODELS/<name>/ and OUT/<name>/."""

    kind: str  # "demo" | "model"

    def __init__(self, name: str, models_dir: Path, out_dir: Path | None):
        self.name = name
        self.models_dir = Path(models_dir)
        self.out_dir = Path(out_dir) if out_dir is not None else Path("reports")  # quantize: no --out

    @property
    def root(self) -> Path:
        """MODELS/<name>/: the variants, one folder each."""
        return workspace.model_root(self.models_dir, self.name)

    @property
    def results_dir(self) -> Path:
        """OUT/<name>/: results.json, the page, and the sections beside it."""
        return workspace.results_dir(self.out_dir, self.name)

    @abstractmethod
    def check_variants(self, variants: list[str]) -> None:
        """Refuse (exit 2) a --variant this subject cannot have, before any work."""

    @abstractmethod
    def claim(self) -> None:
        """Before any work: refuse folders the run must not write into (exit 2)."""

    def check_made_from(self) -> None:
        """Before measuring variants already written (delivery, bench): refuse (exit 2) a
        MODELS/<name>/ made from another model than this one. A demo's folder is its own."""
        return None

    @abstractmethod
    def claim_models(self) -> None:
        """Before writing variants only: refuse a MODELS/<name>/ the run must not write into."""

    @abstractmethod
    def quantize(self, dtype_map: dict | None, custom_name: str | None) -> list[str]:
        """Write the standard variants (dtype_map None) or the one --map variant `custom_name`;
        the lines to print (what was written, the converter command that does the same)."""

    @abstractmethod
    def variant_dirs(self, variants: list[str]) -> dict[str, Path]:
        """MODELS/<name>/<variant>/ for each variant, each holding a model.json (made when the
        subject can make it, else exit 4 naming the command that does)."""

    @abstractmethod
    def parity_setup(self, stack: contextlib.ExitStack, timeout: float) -> ParitySetup:
        """The reference and the inputs of a parity run (runtimes it starts go on `stack`)."""

    @abstractmethod
    def diagnose_inputs(self, float32: LoadedModel, limit: int) -> tuple[Inputs, dict]:
        """Up to `limit` examples for a per-node diagnosis (0: all), as `float32` takes them, and
        what the record says about them."""

    extra_variants: tuple[str, ...] = ()  # made beside the four standard ones (a base tune may start from)

    def tune_limits(self) -> tuple[int, int]:
        """Default examples a tune searches on (--limit) and ranks layers on (--rank-limit)."""
        return 1000, 256

    @abstractmethod
    def tune_runtime(self, opts) -> contextlib.AbstractContextManager:
        """The runtime (or pool of evaluators) the tune measures in."""

    @abstractmethod
    def tune_setup(self, runtime, opts) -> TuneSetup:
        """The probes of a tune (opts: analysis.tune_run.TuneOptions)."""

    @abstractmethod
    def reproduce_tune(self, record: dict, base: str) -> None:
        """Add to a verified tune record the commands that make its answer (quantlab's; the
        converter's where it can)."""
