"""`quantlab delivery`: what a user's browser gets. Each variant is loaded in headless Chromium from
the loopback server (which answers Accept-Encoding as a CDN does) under network conditions set
with the DevTools protocol; time to model loaded and to the first prediction, tf.memory() and the
JS heap, median and spread of several runs; the bytes per variant (quantlab.analysis.delivery); and one
sentence for a person."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from ..convert.converter import VARIANTS
from ..errors import ArtifactError, EvaluatorError, QuantlabError
from ..infra.progress import log
from .delivery import PROFILES, delivery_sizes

DELIVERY_FILE = "delivery.json"
DEFAULT_MAX_MODEL_MB = 1024.0  # a model past this is reported as too large for the page, not loaded


def variant_folders(root: Path) -> dict[str, Path]:
    """The tfjs variants under MODELS/<name>/: the standard four first, then any other folder with a
    model.json (a --map or tuned variant)."""
    root = Path(root)
    found = (
        {p.name: p for p in sorted(root.iterdir()) if (p / "model.json").is_file()} if root.is_dir() else {}
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


def measure_delivery(
    variant_dirs: dict[str, Path],
    profiles: list[str],
    runs: int = 3,
    backend: str = "wasm",
    timeout: float = 120.0,
    max_model_bytes: float = DEFAULT_MAX_MODEL_MB * 1e6,
    extra_flags=(),
) -> dict:
    """The delivery record for the variants in `variant_dirs` (see README, "Delivery")."""
    t_all = time.perf_counter()
    seconds = {v: 0.0 for v in variant_dirs}
    sizes, errors = {}, {}
    for v, folder in variant_dirs.items():
        t0 = time.perf_counter()
        sizes[v] = delivery_sizes(folder)
        seconds[v] += time.perf_counter() - t0
        reason = _too_large_reason(sizes[v], max_model_bytes)
        if reason:
            errors[v] = reason
    samples: dict = {v: {p: [] for p in profiles} for v in variant_dirs if v not in errors}
    page = _Page(backend, timeout, extra_flags)
    info = page.rt.describe()
    n = 0
    try:
        for profile in profiles:
            page.emulate(profile)
            for _ in range(runs):
                for v in list(samples):  # interleaved, so a drift of the machine hits every variant
                    t0 = time.perf_counter()
                    n += 1
                    try:
                        samples[v][profile].append(page.measure(variant_dirs[v], f"d{n}"))
                    except EvaluatorError as e:
                        errors[v] = _page_error(e)
                        del samples[v]
                        log.warning("%s: %s", v, errors[v])
                        if page.rt.dead:
                            page.close()
                            page.start()
                    seconds[v] += time.perf_counter() - t0
    finally:
        page.close()
    accept = page.rt.server.accept_encodings
    variants = {}
    for v, per_profile in samples.items():
        variants[v] = {}
        for profile, rs in per_profile.items():
            last = rs[-1]
            variants[v][profile] = {
                "load_ms": spread([r["load_ms"] for r in rs]),
                "first_prediction_ms": spread([r["first_prediction_ms"] for r in rs]),
                "tf_memory_bytes": last["tf_memory_bytes"],
                "tf_num_tensors": last["tf_num_tensors"],
                "js_heap_used_bytes": int(statistics.median(r["js_heap_used_bytes"] for r in rs)),
                "requests": last["requests"],
                "transfer_bytes": last["transfer_bytes"],
                "decoded_bytes": last["decoded_bytes"],
            }
    record = {
        "backend": info["backend"],
        "tfjs_version": info["tfjs_version"],
        "user_agent": info["user_agent"],
        "runs": runs,
        "profiles": {p: PROFILES[p] for p in profiles},
        "accept_encoding": sorted(set(accept)),
        "content_encoding": _served(accept),
        "measured": "from the first request for model.json to the model loaded, and to one prediction "
        "(an example of zeros) read back; the tfjs library itself is loaded once, unthrottled, before",
        "sizes": sizes,
        "variants": variants,
        "errors": errors,
        "seconds_per_variant": {v: round(s, 1) for v, s in seconds.items()},
        "seconds": round(time.perf_counter() - t_all, 1),
    }
    record["conclusions"] = conclusions(record)
    record["conclusion"] = record["conclusions"][0] if record["conclusions"] else None
    return record


def _served(accept: list[str]) -> str:
    from .delivery import accepted_encoding

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


def delivery_command(
    target: str,
    profiles: list[str],
    runs: int,
    backend: str,
    out: Path,
    models_dir: Path,
    timeout: float,
    max_model_mb: float,
    name: str,
) -> dict:
    from ..infra.fsutil import write_json_atomic
    from ..results import RESULTS_FILE, attach_section, results_or_none

    folders = variant_folders(Path(models_dir) / name)
    results_or_none(Path(out) / name / RESULTS_FILE)  # one it cannot merge into is named first
    record = {"name": name, "target": target, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    record.update(measure_delivery(folders, profiles, runs, backend, timeout, max_model_mb * 1e6))
    write_json_atomic(Path(out) / name / DELIVERY_FILE, record)
    attach_section(out, name, "delivery", record)
    return record


def print_delivery(record: dict) -> None:
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
        "time per variant: "
        + ", ".join(f"{v} {s:.1f} s" for v, s in record["seconds_per_variant"].items())
        + f"; total {record['seconds']:.1f} s",
        highlight=False,
    )


def check_runs(runs: int) -> int:
    if not isinstance(runs, int) or runs < 1:
        raise QuantlabError(f"--runs {runs}: a positive integer", exit_code=2)
    return runs
