"""`quantlab delivery`: what a user's browser gets. Each variant is loaded in headless Chromium from
the loopback server (which answers Accept-Encoding as a CDN does) under network conditions set
with the DevTools protocol; time to model loaded and to the first prediction, tf.memory() and the
JS heap, median and spread of several runs; the bytes per variant (quantlab.analysis.delivery); and one
sentence for a person.

Here: which folders are variants, the loads measured and the record of each target written. The
pages in Chromium are delivery_pages, the order of the loads delivery_schedule, the record's
numbers and sentences delivery_record, the terminal output delivery_print."""

from __future__ import annotations

import time
from pathlib import Path

from ..convert.converter import VARIANTS
from ..errors import ArtifactError, QuantlabError
from ..results import created_now
from ..tfjs import MODEL_JSON
from ..workspace import STEP_MARKER, locked_folders
from .delivery import PROFILES, delivery_sizes
from .delivery_pages import PageRunner
from .delivery_record import conclusions, served_codings, summarise_runs
from .delivery_schedule import (
    DEFAULT_PAGES,
    SHORT_TRANSFER_S,
    LoadJob,
    check_pages,
    expected_seconds,
    peak_overlap,
    throttled,
)
from .jobs import usable_cores
from .subject import Subject

DEFAULT_MAX_MODEL_MB = 1024.0  # a model past this is reported as too large for the page, not loaded


def variant_folders(root: Path) -> dict[str, Path]:
    """The tfjs variants under MODELS/<name>/: the standard four first, then any other folder with a
    model.json (a --map or tuned variant), except steps on the way to one (workspace.STEP_MARKER:
    e.g. the graph demo's equalized float32 models, which nobody ships)."""
    root = Path(root)
    found = (
        {
            p.name: p
            for p in sorted(root.iterdir())
            if (p / MODEL_JSON).is_file() and not (p / STEP_MARKER).exists()
        }
        if root.is_dir()
        else {}
    )
    order = [v for v in VARIANTS if v in found] + [v for v in found if v not in VARIANTS]
    if not order:
        raise ArtifactError(
            f"{root}: no tfjs variants (folders with a model.json); "
            "run `quantlab run` or `quantlab analyze` first"
        )
    return {v: found[v] for v in order}


def _too_large_reason(sizes: dict, max_bytes: float) -> str | None:
    raw = sizes["total"]["raw"]
    if raw > max_bytes:
        return (
            f"too large for the page: {raw / 1e6:.1f} MB of model files, over the {max_bytes / 1e6:.1f} MB "
            f"limit (--max-model-mb); not loaded"
        )
    return None


def measure_targets(
    targets: dict[str, dict[str, Path]],
    profiles: list[str],
    runs: int = 3,
    backend: str = "wasm",
    timeout: float = 120.0,
    max_model_bytes: float = DEFAULT_MAX_MODEL_MB * 1e6,
    extra_flags=(),
    pages: int = DEFAULT_PAGES,
) -> dict[str, dict]:
    """The delivery record of each target (name -> {variant: folder}), all measured in one run:
    the throttled profiles on up to `pages` pages at once, shared by every target; then the
    unthrottled profile in one page, alone (see README, "Delivery")."""
    t_all = time.perf_counter()
    check_pages(pages)
    from ..convert.litert import MODEL_FILE as TFLITE

    litert = any((f / TFLITE).is_file() for dirs in targets.values() for f in dirs.values())
    runner = PageRunner(backend, timeout, extra_flags, pages, litert)
    sizes: dict = {}
    for name, variant_dirs in targets.items():
        sizes[name] = {}
        for v, folder in variant_dirs.items():
            t0 = time.perf_counter()
            sizes[name][v] = delivery_sizes(folder, cache=True)
            runner.seconds[(name, v)] = time.perf_counter() - t0
            reason = _too_large_reason(sizes[name][v], max_model_bytes)
            if reason:
                runner.errors[(name, v)] = reason
            else:
                runner.samples[(name, v)] = {p: [] for p in profiles}
    jobs = [  # today's order: profile, run, then every variant in turn
        LoadJob((name, v), profile, folder, expected_seconds(sizes[name][v], profile))
        for profile in profiles
        for _ in range(runs)
        for name, variant_dirs in targets.items()
        for v, folder in variant_dirs.items()
        if (name, v) in runner.samples
    ]
    n_pages = min(pages, sum(throttled(j.profile) for j in jobs))
    concurrent_profiles = [p for p in profiles if throttled(p)] if n_pages > 1 else []
    concurrent = [j for j in jobs if j.profile in concurrent_profiles]
    cpu_slots = usable_cores()
    runner.run(concurrent, [j for j in jobs if j.profile not in concurrent_profiles], cpu_slots)
    wall = round(time.perf_counter() - t_all, 1)
    concurrency = {
        "pages": max(1, n_pages),
        "requested_pages": pages,
        "concurrent_profiles": concurrent_profiles,
        "sequential_profiles": [p for p in profiles if p not in concurrent_profiles],
        "peak_concurrent_loads": peak_overlap(runner.intervals) or min(1, len(jobs)),
        "short_transfer_s": SHORT_TRANSFER_S,
        "cpu_slots": cpu_slots,
        "peak_concurrent_short_loads": getattr(getattr(runner, "queue", None), "peak_short", 0),
        "targets": list(targets),
        "why": "throttled loads wait on each page's own DevTools throttle (per-target network emulation, "
        "one Chromium per page), so they run several pages at once, but loads whose transfer is short "
        "(mostly CPU work) one per core at most; unthrottled loads measure CPU work, so they run in "
        "one page, alone",
    }
    info = runner.info or {}
    records = {}
    for name, variant_dirs in targets.items():
        variants = {}
        for v in variant_dirs:
            if (name, v) not in runner.samples:
                continue
            variants[v] = {}
            for profile, rs in runner.samples[(name, v)].items():
                variants[v][profile] = summarise_runs(rs)
        record = {
            "backend": info.get("backend", backend),
            "tfjs_version": info.get("tfjs_version"),
            "user_agent": info.get("user_agent"),
            "runs": runs,
            "profiles": {p: PROFILES[p] for p in profiles},
            "accept_encoding": sorted(set(runner.accept)),
            "content_encoding": served_codings(runner.accept),
            "measured": "from the first request for model.json (a LiteRT variant: its .tflite, in LiteRT.js "
            "wasm) to the model loaded, and to one prediction (an example of zeros) read back; the tfjs "
            "and LiteRT.js libraries themselves are loaded once, unthrottled, before",
            "concurrency": concurrency,
            "sizes": sizes[name],
            "variants": variants,
            "errors": {v: runner.errors[(name, v)] for v in variant_dirs if (name, v) in runner.errors},
            "seconds_per_variant": {v: round(runner.seconds[(name, v)], 1) for v in variant_dirs},
            "seconds": wall,
        }
        record["conclusions"] = conclusions(record)
        record["conclusion"] = record["conclusions"][0] if record["conclusions"] else None
        records[name] = record
    return records


def measure_delivery(
    variant_dirs: dict[str, Path],
    profiles: list[str],
    runs: int = 3,
    backend: str = "wasm",
    timeout: float = 120.0,
    max_model_bytes: float = DEFAULT_MAX_MODEL_MB * 1e6,
    extra_flags=(),
    pages: int = DEFAULT_PAGES,
) -> dict:
    """The delivery record for the variants in `variant_dirs` (see README, "Delivery")."""
    return measure_targets(
        {"": variant_dirs}, profiles, runs, backend, timeout, max_model_bytes, extra_flags, pages
    )[""]


def with_variants(subjects: list[Subject]) -> tuple[list[Subject], dict[str, str]]:
    """The subjects that have tfjs variants under MODELS/<name>/, and why each other one is skipped."""
    found, skipped = [], {}
    for s in subjects:
        try:
            variant_folders(s.root)
            found.append(s)
        except ArtifactError as e:
            skipped[s.name] = str(e)
    return found, skipped


def delivery_command(
    targets: list[tuple[str, Subject]],
    profiles: list[str],
    runs: int,
    backend: str,
    timeout: float,
    max_model_mb: float,
    pages: int = DEFAULT_PAGES,
) -> list[dict]:
    """Measure every (target as given, subject) in one run, under the locks of their folders;
    write OUT/<name>/delivery.json for each."""
    from ..convert.litert import litert_folders
    from ..results import write_section

    created = created_now()
    with locked_folders(*(f for _, s in targets for f in (s.root, s.results_dir))):
        # the tfjs variants, then the LiteRT ones where `analyze --litert` wrote them
        folders = {s.name: {**variant_folders(s.root), **litert_folders(s.root)} for _, s in targets}
        measured = measure_targets(folders, profiles, runs, backend, timeout, max_model_mb * 1e6, pages=pages)
        records = []
        for target, s in targets:
            record = {"name": s.name, "target": target, "created": created, **measured[s.name]}
            write_section(s.out_dir, s.name, "delivery", record)
            records.append(record)
    return records


def check_runs(runs: int) -> int:
    if not isinstance(runs, int) or runs < 1:
        raise QuantlabError(f"--runs {runs}: a positive integer", exit_code=2)
    return runs
