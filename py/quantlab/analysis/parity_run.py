"""`quantlab parity DEMO|MODEL`: one road for both. The subject gives the variants, the inputs and
the reference; `compare` runs every pair; the record is saved beside the results."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field

from .. import workspace
from ..convert.converter import VARIANTS
from ..results import created_now
from .parity import DEFAULT_ATOL, DEFAULT_RTOL, compare, save_parity
from .subject import Subject


@dataclass
class ParityOptions:
    variants: list[str] = field(default_factory=lambda: list(VARIANTS))
    runtimes: list[str] = field(default_factory=list)
    atol: float = DEFAULT_ATOL
    rtol: float = DEFAULT_RTOL
    timeout: float = 600.0
    workers: int | None = None  # Node runtimes: evaluator pool (None: jobs.default_workers)
    executor: str = "local"
    ray_address: str | None = None


def measure_parity(subject: Subject, opts: ParityOptions) -> dict:
    """Parity for a demo or a user's model; writes OUT/<name>/parity.json."""
    t_start = time.perf_counter()
    subject.check_variants(opts.variants)
    subject.claim()
    with workspace.locked_folders(subject.root, subject.results_dir), contextlib.ExitStack() as stack:
        paths = subject.variant_dirs(list(dict.fromkeys(opts.variants)))
        setup = subject.parity_setup(stack, opts.timeout)
        record = compare(
            paths, setup.reference, setup.x, opts.runtimes, opts.atol, opts.rtol, opts.timeout,
            setup.batch_size, opts.workers, opts.executor, opts.ray_address,
        )  # fmt: skip
        stack.close()  # the reference's runtimes stop before the record is written
        record.update(setup.details)
        record["seconds"] = round(time.perf_counter() - t_start, 1)
        record["created"] = created_now()
        save_parity(subject.out_dir, subject.name, record)
    return record
