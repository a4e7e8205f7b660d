"""`quantlab tune DEMO|MODEL`: one road for both. The subject gives the probes (the search split,
the held-out split that judges the answer, the smaller ranking subset) and the commands that
reproduce the answer; run_tune searches; the record is saved beside the results."""

from __future__ import annotations

from dataclasses import dataclass

from .. import workspace
from ..results import created_now, write_section
from .subject import Subject
from .tune import run_tune


@dataclass
class TuneOptions:
    max_drop: float
    relative: bool = False
    limit: int | None = None  # the search subset (None or 0: the whole search split)
    sweeps: str = "a"
    backend: str = "wasm"
    timeout: float = 600.0
    holdout: float = 0.5
    conservative: bool = False
    seed: int = 0
    rank_limit: int | None = None  # the subset the per-layer sweep ranks on (None: the search subset)
    workers: int | None = None
    executor: str = "local"
    ray_address: str | None = None
    base: str = "float32"  # the variant quantized and measured against (the graph demo: equalized)
    outputs: list[str] | None = None  # a user's model: the outputs the budget applies to


def measure_tune(subject: Subject, opts: TuneOptions) -> dict:
    """Tune a demo or a user's model; writes OUT/<name>/tune.json (tune-BASE.json from another base)."""
    subject.claim()
    with workspace.locked_folders(subject.root, subject.results_dir):
        with subject.tune_runtime(opts) as runtime:
            setup = subject.tune_setup(runtime, opts)
            try:
                rank = setup.rank_probe
                if rank is not None and rank.n >= setup.probe.n:
                    rank = None  # no smaller than the search subset: rank on that
                record = run_tune(
                    subject.root, runtime, setup.probe, setup.holdout_probe, opts.max_drop,
                    opts.relative, opts.sweeps, conservative=opts.conservative, split=setup.split,
                    rank_probe=rank, base=opts.base,
                )  # fmt: skip
            finally:
                setup.close()
        record.update(setup.details)
        record["created"] = created_now()  # the page tells an earlier run's tune
        if record["verified"]:
            subject.reproduce_tune(record, opts.base)
        # a tune from another base (the graph demo's equalized model) is kept beside the plain one
        plain = opts.base == "float32"
        write_section(subject.out_dir, subject.name, "tune" if plain else f"tune_{opts.base}", record)
    return record
