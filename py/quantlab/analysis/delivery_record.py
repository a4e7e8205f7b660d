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
    """One sentence per network profile, slowest first: the smallest tfjs variant (brotli bytes)
    against float32, by median time to the first prediction; where LiteRT variants were loaded
    too, one more each: the smallest LiteRT variant against that tfjs one."""
    variants = record["variants"]
    tfjs = [v for v in variants if not v.startswith("litert-")]
    lite = [v for v in variants if v.startswith("litert-")]
    if "float32" not in variants or len(tfjs) < 2:
        return []

    def smallest(names: list[str]) -> str:
        return min(names, key=lambda v: record["sizes"][v]["total"]["br"])

    small = smallest([v for v in tfjs if v != "float32"])
    pairs = [(small, "float32", small, "float32")]
    if lite:
        small_lite = smallest(lite)
        pairs.append((small_lite, small, f"LiteRT.js {small_lite}", f"tfjs {small}"))
    lines = []
    for p in _slowest_first(list(record["profiles"])):
        for cand_name, base_name, cand_label, base_label in pairs:
            base = variants[base_name][p]["first_prediction_ms"]
            cand = variants[cand_name][p]["first_prediction_ms"]
            d = base["median"] - cand["median"]
            word = "sooner" if d >= 0 else "later"
            overlap = cand["min"] <= base["max"] and base["min"] <= cand["max"]
            lines.append(
                f"{cand_label} shows the first prediction {fmt_ms(abs(d))} {word} than {base_label} "
                f"{PROFILES[p]['phrase']} ({fmt_ms(cand['median'])} vs {fmt_ms(base['median'])}, median of "
                f"{record['runs']} run{'s' if record['runs'] != 1 else ''}"
                + ("; within the run-to-run spread)" if overlap and record["runs"] > 1 else ")")
            )
    return lines
