"""The numbers of a delivery record: a variant's runs summarised (median, min, max), the content
coding served, and one sentence per network profile."""

from __future__ import annotations

import statistics

from .delivery import PROFILES


def spread(values: list[float]) -> dict:
    return {
        "median": round(statistics.median(values), 1),
        "min": round(min(values), 1),
        "max": round(max(values), 1),
        "runs": [round(v, 1) for v in values],
    }


def fmt_ms(ms: float) -> str:
    return f"{ms / 1000:.1f} s" if abs(ms) >= 1000 else f"{ms:.0f} ms"


def summarise_runs(rs: list[dict]) -> dict:
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


def served_codings(accept: list[str]) -> str:
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
            f"{small} shows the first prediction {fmt_ms(abs(d))} {word} than float32 {where} "
            f"({fmt_ms(cand['median'])} vs {fmt_ms(base['median'])}, median of {record['runs']} "
            f"run{'s' if record['runs'] != 1 else ''}"
            + ("; within the run-to-run spread)" if overlap and record["runs"] > 1 else ")")
        )
    return lines
