"""Which load of `quantlab delivery` runs when: every (target, variant, profile, run) is a load
(`LoadJob`), the throttled ones handed to the pages longest expected transfer first, the short ones
(mostly CPU work) at most one per core (`JobQueue`)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from ..errors import QuantlabError
from .delivery import PROFILES

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
class LoadJob:
    key: tuple[str, str]  # (target, variant)
    profile: str
    folder: Path
    expected_s: float  # the transfer the profile implies: brotli bytes / throughput + latency per request


def expected_seconds(sizes: dict, profile: str) -> float:
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
        self, jobs: list[LoadJob], cpu_slots: int, short_s: float, stop: threading.Event, lpt: bool = True
    ):
        self.jobs = sorted(jobs, key=lambda j: -j.expected_s) if lpt else list(jobs)
        self.cpu_slots, self.short_s, self.stop = max(1, cpu_slots), short_s, stop
        self.cond = threading.Condition()
        self.short_running = 0
        self.peak_short = 0

    def short(self, job: LoadJob) -> bool:
        return job.expected_s < self.short_s

    def take(self) -> LoadJob | None:
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

    def done(self, job: LoadJob) -> None:
        if self.short(job):
            with self.cond:
                self.short_running -= 1
                self.cond.notify_all()
