"""What a browser downloads for one tfjs artifact: bytes of model.json and of every shard, raw and
as a web server sends them compressed (infra/content_coding.py: the settings, recorded in every
record under `settings`), and the number of requests; and the network profiles `quantlab delivery`
loads them under."""

from __future__ import annotations

from pathlib import Path

from ..infra.content_coding import SETTINGS, compressed, encode
from ..tfjs import MODEL_JSON


def artifact_files(folder: Path) -> list[Path]:
    """model.json, then every shard the manifest names, in the order the browser fetches them; or
    a LiteRT variant's one .tflite file."""
    from ..convert.litert import MODEL_FILE
    from ..tfjs.artifacts import read_artifact

    if (Path(folder) / MODEL_FILE).is_file():
        return [Path(folder) / MODEL_FILE]
    art = read_artifact(Path(folder))
    return [Path(folder) / MODEL_JSON, *art.shard_paths]


def delivery_sizes(folder: Path, cache: bool = False) -> dict:
    """Bytes over the wire for one artifact folder: per file and in total, raw, gzip and brotli;
    and the number of requests (one per file: model.json, then each shard). `cache`: keep the
    compressed bytes for the loopback server (`quantlab delivery`), so no timed load waits for
    the compression."""
    files = []
    for path in artifact_files(folder):
        data = path.read_bytes()
        coder = (lambda d, c, p=path: compressed(p, c, d)) if cache else encode
        files.append(
            {
                "name": path.name,
                "raw": len(data),
                "gzip": len(coder(data, "gzip")),
                "br": len(coder(data, "br")),
            }
        )
    total = {k: sum(f[k] for f in files) for k in ("raw", "gzip", "br")}
    return {"settings": dict(SETTINGS), "files": files, "total": total, "requests": len(files)}


# Network profiles for `quantlab delivery`, applied with the DevTools protocol's
# Network.emulateNetworkConditions. Slow 4G and Fast 4G are Chrome DevTools' presets, copied from
# devtools-frontend's front_end/core/sdk/NetworkManager.ts (Slow4GConditions, Fast4GConditions):
# Slow 4G ("3G" before May 2024): 1.6 Mbit/s * 0.9 down, 750 kbit/s * 0.9 up, 150 ms * 3.75 RTT;
# Fast 4G: 9 Mbit/s * 0.9 down, 1.5 Mbit/s * 0.9 up, 60 ms * 2.75 RTT. Throughputs in bytes/s.
PROFILES = {
    "slow-4g": {
        "title": "Slow 4G",
        "phrase": "on Slow 4G",
        "latency_ms": 562.5,
        "download_bytes_per_s": 180_000,
        "upload_bytes_per_s": 84_375,
        "source": "Chrome DevTools preset Slow4GConditions",
    },
    "fast-4g": {
        "title": "Fast 4G",
        "phrase": "on Fast 4G",
        "latency_ms": 165.0,
        "download_bytes_per_s": 1_012_500,
        "upload_bytes_per_s": 168_750,
        "source": "Chrome DevTools preset Fast4GConditions",
    },
    "none": {
        "title": "unthrottled",
        "phrase": "without throttling",
        "latency_ms": 0.0,
        "download_bytes_per_s": -1,
        "upload_bytes_per_s": -1,
        "source": "loopback, unthrottled",
    },
}
DEFAULT_PROFILES = ("slow-4g", "fast-4g", "none")


def parse_profiles(text: str | None) -> list[str]:
    """--profiles a,b,c -> names, each checked (exit 2 listing the valid ones)."""
    from ..errors import QuantlabError

    names = [p.strip() for p in (text or ",".join(DEFAULT_PROFILES)).split(",") if p.strip()]
    bad = [n for n in names if n not in PROFILES]
    if bad or not names:
        raise QuantlabError(
            f"--profiles: unknown network profile {', '.join(map(repr, bad)) or '(none given)'}; "
            f"valid: {', '.join(PROFILES)}",
            exit_code=2,
        )
    return list(dict.fromkeys(names))
