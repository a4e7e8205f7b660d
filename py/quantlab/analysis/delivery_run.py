"""`quantlab delivery`: what a user's browser gets. Each variant is loaded in headless Chromium from
the loopback server (which answers Accept-Encoding as a CDN does) under network conditions set
with the DevTools protocol; time to model loaded and to the first prediction, tf.memory() and the
JS heap, median and spread of several runs; the bytes per variant (quantlab.analysis.delivery); and one
sentence for a person."""

from __future__ import annotations

import itertools
import os
import statistics
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from ..convert.converter import VARIANTS
from ..errors import ArtifactError, EvaluatorError, QuantlabError
from ..infra.progress import log
from ..workspace import STEP_MARKER
from .delivery import PROFILES, delivery_sizes

DELIVERY_FILE = "delivery.json"
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
            if (p / "model.json").is_file() and not (p / STEP_MARKER).exists()
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


def spread(values: list[float]) -> dict:
    return {
        "median": round(statistics.median(values), 1),
        "min": round(min(values), 1),
        "max": round(max(values), 1),
        "runs": [round(v, 1) for v in values],
    }


def _fmt_ms(ms: float) -> str:
    return f"{ms / 1000:.1f} s" if abs(ms) >= 1000 else f"{ms:.0f} ms"


class _Page:
    """One Chromium page with the compressing loopback server and a CDP session; restarted after a
    crash or a timeout (the old browser is killed first, so no Chromium is left behind)."""

    def __init__(self, backend: str, timeout: float, extra_flags=()):
        self.args = (backend, timeout, tuple(extra_flags))
        self.rt = None
        self.profile: str | None = None
        self.accept: list[str] = []  # the Accept-Encoding headers its servers saw, over restarts
        self.start()

    def start(self) -> None:
        from ..runtimes.browser import BrowserRuntime

        backend, timeout, flags = self.args
        self.rt = BrowserRuntime(backend, timeout=timeout, compress=True, extra_flags=flags)
        self.cdp = self.rt.page.context.new_cdp_session(self.rt.page)
        self.cdp.send("Network.enable")
        if self.profile:
            self.emulate(self.profile)

    def emulate(self, profile: str) -> None:
        p = PROFILES[profile]
        self.cdp.send(
            "Network.emulateNetworkConditions",
            {
                "offline": False,
                "latency": p["latency_ms"],
                "downloadThroughput": p["download_bytes_per_s"],
                "uploadThroughput": p["upload_bytes_per_s"],
            },
        )
        self.profile = profile

    def measure(self, folder: Path, mount: str) -> dict:
        rt = self.rt
        url = rt.server.mount(mount, folder) + "model.json"
        try:
            r = rt._call("deliver", {"url": url})
            try:
                heap = self.cdp.send("Runtime.getHeapUsage")
                r["js_heap_used_bytes"] = int(heap["usedSize"])
            finally:
                rt._call("unload", r.pop("handle"))
        finally:
            rt.server.unmount(mount)
        return r

    def close(self) -> None:
        if self.rt is not None:
            self.accept += [a for a in self.rt.server.accept_encodings if a not in self.accept]
            self.rt.close()


def _too_large_reason(sizes: dict, max_bytes: float) -> str | None:
    raw = sizes["total"]["raw"]
    if raw > max_bytes:
        return (
            f"too large for the page: {raw / 1e6:.1f} MB of model files, over the {max_bytes / 1e6:.1f} MB "
            f"limit (--max-model-mb); not loaded"
        )
    return None


def _page_error(e: EvaluatorError) -> str:
    msg = str(e)
    if "allocation failed" in msg.lower() or "out of memory" in msg.lower() or "crashed" in msg.lower():
        return f"does not fit in the page's memory: {msg}"
    return msg


DEFAULT_PAGES = 8
# A throttled load whose transfer takes under SHORT_TRANSFER_S is largely CPU work (decompressing,
# building the model, one prediction: 0.1-0.5 s here for MobileNetV2), so at most one per core runs
# at once (JobQueue); longer loads mostly wait on their page's throttle and fill the other pages.
SHORT_TRANSFER_S = 10.0

# Why throttled loads may run in several pages at once, and how they stay independent:
# - each page is its own BrowserRuntime: its own Playwright instance (the sync API is not thread-safe;
#   Playwright's documentation asks for one instance per thread), its own Chromium process with its
#   own network service, its own loopback server, and its own CDP session that sets
#   Network.emulateNetworkConditions on that page alone;
# - inside Chromium the emulation is per inspected target anyway: content's
#   devtools/protocol/network_handler.cc, NetworkHandler::SetNetworkConditions, calls
#   NetworkContext::SetNetworkConditions(devtools_token_, ...) with the page's DevTools token, and
#   services/network/throttling/throttling_controller.h keeps one ThrottlingNetworkInterceptor per
#   such token (`std::map<base::UnguessableToken, ThrottlingProfile>`); the interceptor's packet clock
#   (throttling_network_interceptor.cc, UpdateThrottledRecords: kPacketSize bytes per tick, shared
#   round-robin by the transfers of that interceptor only) is the throughput budget. So concurrent
#   pages never share one budget, and a profile's transfer takes bytes / throughput in each page.
# A throttled load is mostly wall-clock waiting on that clock; what it costs the CPU (decompressing,
# building the model, one prediction) is small next to a long transfer, so the throttled profiles
# run `pages` at once, but short loads (SHORT_TRANSFER_S), where that CPU work is a large share of
# the time measured, one per core at most. The unthrottled profile ("none") measures the CPU work
# itself: it runs after all throttled loads, in one page, alone.


def check_pages(pages: int) -> int:
    if isinstance(pages, bool) or not isinstance(pages, int) or pages < 1:
        raise QuantlabError(f"--pages {pages}: must be a positive integer", exit_code=2)
    return pages


def throttled(profile: str) -> bool:
    return PROFILES[profile]["download_bytes_per_s"] > 0


@dataclass(frozen=True)
class _Job:
    key: tuple[str, str]  # (target, variant)
    profile: str
    folder: Path
    expected_s: float  # the transfer the profile implies: brotli bytes / throughput + latency per request


def _expected_seconds(sizes: dict, profile: str) -> float:
    p = PROFILES[profile]
    if p["download_bytes_per_s"] <= 0:
        return 0.0
    return sizes["total"]["br"] / p["download_bytes_per_s"] + sizes["requests"] * p["latency_ms"] / 1000


def peak_overlap(intervals: list[tuple[float, float]]) -> int:
    """The most intervals (start, end) open at one instant."""
    events = sorted([(t0, 1) for t0, _ in intervals] + [(t1, -1) for _, t1 in intervals])
    peak = now = 0
    for _, step in events:  # an end sorts before a start at the same instant
        now += step
        peak = max(peak, now)
    return peak


class JobQueue:
    """The loads still to run, each kind longest expected transfer first (LPT: the pages finish
    together, within 4/3 of the best schedule). Short loads (expected transfer under `short_s`,
    mostly CPU work) run `cpu_slots` at a time from the start, on whichever pages ask while a slot
    is free; long loads (mostly waiting on the throttle) fill the other pages. So short loads never
    crowd the cores, nor pile up at the end where most pages would sit idle. Thread-safe."""

    def __init__(
        self, jobs: list[_Job], cpu_slots: int, short_s: float, stop: threading.Event, lpt: bool = True
    ):
        self.jobs = sorted(jobs, key=lambda j: -j.expected_s) if lpt else list(jobs)
        self.cpu_slots, self.short_s, self.stop = max(1, cpu_slots), short_s, stop
        self.cond = threading.Condition()
        self.short_running = 0
        self.peak_short = 0

    def short(self, job: _Job) -> bool:
        return job.expected_s < self.short_s

    def take(self) -> _Job | None:
        with self.cond:
            while self.jobs and not self.stop.is_set():
                shorts = [i for i, job in enumerate(self.jobs) if self.short(job)]
                if shorts and self.short_running < self.cpu_slots:  # a free slot: the longest short
                    self.short_running += 1
                    self.peak_short = max(self.peak_short, self.short_running)
                    return self.jobs.pop(shorts[0])
                longs = [i for i, job in enumerate(self.jobs) if not self.short(job)]
                if longs:
                    return self.jobs.pop(longs[0])
                self.cond.wait(0.2)  # only short loads are left and the slots are full
            return None

    def done(self, job: _Job) -> None:
        if self.short(job):
            with self.cond:
                self.short_running -= 1
                self.cond.notify_all()


class _Runner:
    """Runs the loads: the throttled ones on up to `pages` pages at once (the calling thread drives
    one, a thread each drives the others), then the unthrottled ones in the calling thread's page.
    Every Chromium it starts carries one run marker, so an interrupt or a failure anywhere kills
    them all (even one still starting) before the threads close their Playwright."""

    def __init__(self, backend: str, timeout: float, extra_flags, pages: int):
        self.backend, self.timeout, self.pages = backend, timeout, pages
        self.marker = f"--quantlab-delivery-run={uuid.uuid4().hex}"
        self.flags = (*extra_flags, self.marker)
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.samples: dict = {}
        self.errors: dict = {}
        self.seconds: dict = {}
        self.intervals: list[tuple[float, float]] = []  # the throttled loads, for peak_overlap
        self.fatal: BaseException | None = None
        self.info: dict | None = None
        self.accept: list[str] = []
        self._mounts = itertools.count(1)

    def _open(self) -> _Page:
        page = _Page(self.backend, self.timeout, self.flags)
        with self.lock:
            if self.info is None:
                self.info = page.rt.describe()
        return page

    def _close(self, page: _Page | None) -> None:
        if page is None:
            return
        page.close()
        with self.lock:
            self.accept += [a for a in page.accept if a not in self.accept]

    def _loads(self, page: _Page, queue: JobQueue, concurrent: bool) -> None:
        while not self.stop.is_set():
            job = queue.take()
            if job is None:
                return
            try:
                self._load(page, job, concurrent)
            finally:
                queue.done(job)

    def _load(self, page: _Page, job: _Job, concurrent: bool) -> None:
        with self.lock:
            if job.key in self.errors:
                return
            mount = f"d{next(self._mounts)}"
        if page.profile != job.profile:
            page.emulate(job.profile)
        t0 = time.perf_counter()
        try:
            r = page.measure(job.folder, mount)
        except EvaluatorError as e:
            if self.stop.is_set():
                return  # the run is being stopped: not this variant's fault
            with self.lock:
                self.errors[job.key] = _page_error(e)
                self.samples.pop(job.key, None)
                self.seconds[job.key] += time.perf_counter() - t0
            log.warning("%s: %s", "/".join(k for k in job.key if k), self.errors[job.key])
            if page.rt.dead:
                page.close()
                page.start()
            return
        t1 = time.perf_counter()
        with self.lock:
            self.seconds[job.key] += t1 - t0
            if job.key in self.samples:
                self.samples[job.key][job.profile].append(r)
            if concurrent:
                self.intervals.append((t0, t1))

    def _worker(self, queue: JobQueue, barrier: threading.Barrier) -> None:
        page = None
        try:
            page = self._open()
            barrier.wait()
            self._loads(page, queue, concurrent=True)
        except threading.BrokenBarrierError:
            pass  # another page failed to start, or the run is being stopped
        except BaseException as e:
            with self.lock:
                if self.fatal is None and not self.stop.is_set():
                    self.fatal = e
            self.stop.set()
            barrier.abort()
        finally:
            self._close(page)

    def _join(self, threads: list[threading.Thread], patience: float | None = None) -> None:
        deadline = None if patience is None else time.monotonic() + patience
        for t in threads:
            while t.is_alive() and (deadline is None or time.monotonic() < deadline):
                t.join(0.2)  # short waits: Ctrl-C reaches this (main) thread between them

    def run(self, concurrent_jobs: list[_Job], sequential_jobs: list[_Job], cpu_slots: int) -> None:
        from ..infra.chromium import kill_marked

        n = max(1, min(self.pages, len(concurrent_jobs)))
        self.queue = queue = JobQueue(concurrent_jobs, cpu_slots, SHORT_TRANSFER_S, self.stop)
        barrier = threading.Barrier(n)
        threads = [
            threading.Thread(
                target=self._worker, args=(queue, barrier), name=f"delivery-page-{i}", daemon=True
            )
            for i in range(1, n)
        ]
        page = None
        try:
            for t in threads:
                t.start()
            page = self._open()
            if n > 1:
                barrier.wait()  # every page up before the first timed load: no Chromium start-up under it
            self._loads(page, queue, concurrent=n > 1)
            self._join(threads)
            if self.fatal is not None:
                raise self.fatal
            self._loads(page, JobQueue(sequential_jobs, 1, 0.0, self.stop, lpt=False), concurrent=False)
        except BaseException as e:
            # Ctrl-C, SIGTERM (signals.Terminated), a page that failed: stop every page now. The
            # threads then see their calls fail, close their own Playwright and Chromium, and end.
            self.stop.set()
            barrier.abort()
            kill_marked(self.marker)
            self._join(threads, patience=30.0)
            kill_marked(self.marker)  # one that was still starting when the first kill ran
            if isinstance(e, threading.BrokenBarrierError) and self.fatal is not None:
                raise self.fatal from None  # a page that failed to start: its error, not the barrier's
            raise
        finally:
            self._close(page)


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
    runner = _Runner(backend, timeout, extra_flags, pages)
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
        _Job((name, v), profile, folder, _expected_seconds(sizes[name][v], profile))
        for profile in profiles
        for _ in range(runs)
        for name, variant_dirs in targets.items()
        for v, folder in variant_dirs.items()
        if (name, v) in runner.samples
    ]
    n_pages = min(pages, sum(throttled(j.profile) for j in jobs))
    concurrent_profiles = [p for p in profiles if throttled(p)] if n_pages > 1 else []
    concurrent = [j for j in jobs if j.profile in concurrent_profiles]
    cpu_slots = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
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
                variants[v][profile] = _summary(rs)
        record = {
            "backend": info.get("backend", backend),
            "tfjs_version": info.get("tfjs_version"),
            "user_agent": info.get("user_agent"),
            "runs": runs,
            "profiles": {p: PROFILES[p] for p in profiles},
            "accept_encoding": sorted(set(runner.accept)),
            "content_encoding": _served(runner.accept),
            "measured": "from the first request for model.json to the model loaded, and to one prediction "
            "(an example of zeros) read back; the tfjs library itself is loaded once, unthrottled, before",
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


def _summary(rs: list[dict]) -> dict:
    last = rs[-1]
    return {
        "load_ms": spread([r["load_ms"] for r in rs]),
        "first_prediction_ms": spread([r["first_prediction_ms"] for r in rs]),
        "tf_memory_bytes": last["tf_memory_bytes"],
        "tf_num_tensors": last["tf_num_tensors"],
        "js_heap_used_bytes": int(statistics.median(r["js_heap_used_bytes"] for r in rs)),
        "requests": last["requests"],
        "transfer_bytes": last["transfer_bytes"],
        "decoded_bytes": last["decoded_bytes"],
    }


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


def _served(accept: list[str]) -> str:
    from ..infra.content_coding import accepted_encoding

    codings = {accepted_encoding(a) or "identity" for a in accept}
    return ", ".join(sorted(codings)) or "identity"


def _slowest_first(profiles: list[str]) -> list[str]:
    def speed(p):
        bps = PROFILES[p]["download_bytes_per_s"]
        return float("inf") if bps < 0 else bps

    return sorted(profiles, key=speed)


def conclusions(record: dict) -> list[str]:
    """One sentence per network profile, slowest first: the smallest variant (brotli bytes) against
    float32, by median time to the first prediction."""
    variants = record["variants"]
    if "float32" not in variants or len(variants) < 2:
        return []
    others = [v for v in variants if v != "float32"]
    small = min(others, key=lambda v: record["sizes"][v]["total"]["br"])
    lines = []
    for p in _slowest_first(list(record["profiles"])):
        base, cand = variants["float32"][p]["first_prediction_ms"], variants[small][p]["first_prediction_ms"]
        d = base["median"] - cand["median"]
        where = PROFILES[p]["phrase"]
        word = "sooner" if d >= 0 else "later"
        overlap = cand["min"] <= base["max"] and base["min"] <= cand["max"]
        lines.append(
            f"{small} shows the first prediction {_fmt_ms(abs(d))} {word} than float32 {where} "
            f"({_fmt_ms(cand['median'])} vs {_fmt_ms(base['median'])}, median of {record['runs']} "
            f"run{'s' if record['runs'] != 1 else ''}"
            + ("; within the run-to-run spread)" if overlap and record["runs"] > 1 else ")")
        )
    return lines


def demos_with_variants(models_dir: Path, names: list[str]) -> tuple[list[str], dict[str, str]]:
    """The demos in `names` that have tfjs variants under MODELS_DIR, and why each other one is
    skipped."""
    found, skipped = [], {}
    for name in names:
        try:
            variant_folders(Path(models_dir) / name)
            found.append(name)
        except ArtifactError as e:
            skipped[name] = str(e)
    return found, skipped


def delivery_command(
    targets: list[tuple[str, str]],
    profiles: list[str],
    runs: int,
    backend: str,
    out: Path,
    models_dir: Path,
    timeout: float,
    max_model_mb: float,
    pages: int = DEFAULT_PAGES,
) -> list[dict]:
    """Measure every (target as given, name) in one run; write OUT/<name>/delivery.json and add it
    to OUT/<name>/results.json for each."""
    from ..infra.fsutil import write_json_atomic
    from ..results import RESULTS_FILE, attach_section, results_or_none

    folders = {name: variant_folders(Path(models_dir) / name) for _, name in targets}
    for name in folders:
        results_or_none(Path(out) / name / RESULTS_FILE)  # one it cannot merge into is named first
    created = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    measured = measure_targets(folders, profiles, runs, backend, timeout, max_model_mb * 1e6, pages=pages)
    records = []
    for target, name in targets:
        record = {"name": name, "target": target, "created": created, **measured[name]}
        write_json_atomic(Path(out) / name / DELIVERY_FILE, record)
        attach_section(out, name, "delivery", record)
        records.append(record)
    return records


def print_delivery(record: dict, alone: bool = True) -> None:
    """The table, the errors, the sentences and the time per variant; `alone`: the run measured this
    target only (else print_total ends the run's output)."""
    from rich.table import Table

    from ..infra.progress import console, table_console

    table = Table(title=f"delivery: {record['name']} ({record['backend']}, {record['content_encoding']})")
    titles = [PROFILES[p]["title"] for p in record["profiles"]]
    for col in ("variant", "raw", "gzip", "br", "requests", *titles, "tf.memory", "seconds"):
        table.add_column(col, justify="left" if col == "variant" else "right")
    for v, s in record["sizes"].items():
        t = s["total"]
        cells = []
        for p in record["profiles"]:
            m = record["variants"].get(v, {}).get(p)
            cells.append(
                f"{_fmt_ms(m['first_prediction_ms']['median'])} "
                f"[{_fmt_ms(m['first_prediction_ms']['min'])}-{_fmt_ms(m['first_prediction_ms']['max'])}]"
                if m
                else "–"
            )
        mem = record["variants"].get(v, {})
        mem = next(iter(mem.values()))["tf_memory_bytes"] if mem else None
        table.add_row(
            v, f"{t['raw']:,}", f"{t['gzip']:,}", f"{t['br']:,}", str(s["requests"]), *cells,
            "–" if mem is None else f"{mem:,}", f"{record['seconds_per_variant'][v]:.1f}",
        )  # fmt: skip
    table_console().print(table)
    for v, reason in record["errors"].items():
        console.print(f"[yellow]{v}[/yellow]: {reason}", markup=True, highlight=False)
    for line in record["conclusions"]:
        console.print(line, highlight=False)
    console.print(
        f"time per variant{'' if alone else ' (' + record['name'] + ')'}: "
        + ", ".join(f"{v} {s:.1f} s" for v, s in record["seconds_per_variant"].items())
        + (f"; total {record['seconds']:.1f} s" if alone else ""),
        highlight=False,
    )
    if alone:
        print_concurrency(record)


def print_concurrency(record: dict) -> None:
    from ..infra.progress import console

    c = record.get("concurrency")
    if c and c["concurrent_profiles"]:
        line = f"{', '.join(c['concurrent_profiles'])}: {c['pages']} pages at once"
        if c["sequential_profiles"]:
            line += f"; {', '.join(c['sequential_profiles'])}: one page, alone"
        console.print(line, highlight=False)


def print_total(records: list[dict]) -> None:
    """After several demos: the wall time of the whole run."""
    from ..infra.progress import console

    if records:
        pages = records[0]["concurrency"]["pages"]
        console.print(
            f"total: {records[0]['seconds']:.1f} s for {len(records)} demo{'s' if len(records) != 1 else ''} "
            f"({', '.join(r['name'] for r in records)}), {pages} page{'s' if pages != 1 else ''} at once",
            highlight=False,
        )
        print_concurrency(records[0])


def check_runs(runs: int) -> int:
    if not isinstance(runs, int) or runs < 1:
        raise QuantlabError(f"--runs {runs}: a positive integer", exit_code=2)
    return runs
