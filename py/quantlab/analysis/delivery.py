"""What a browser downloads for one tfjs artifact: bytes of model.json and of every shard, raw and
as a web server sends them compressed, and the number of requests.

Compression settings (recorded in every record under `settings`):

- gzip: stdlib `gzip` at level 6, the default of Apache's mod_deflate, of zlib and of most
  servers that compress on the fly (nginx's own default is 1).
- brotli: quality 5, on-the-fly brotli as servers and CDNs apply it (ngx_brotli defaults to 6),
  with `brotli` from PyPI (the reference encoder). Not quality 11, the pre-compression setting:
  measured here on 4 MB of float32 weights, quality 11 saves under 1% of the bytes (0.913 vs
  0.922 of raw; nothing on uint8 weights) and takes 15-40 s per 4 MB instead of 0.2 s, which
  would add minutes to every run on MobileNetV2.

The loopback server (runtimes/loopback.py) sends the very bytes computed here, so the browser's
transfer sizes match this record; it caches what it compressed in memory by (path, size, mtime)."""

from __future__ import annotations

import gzip
import os
import threading
from collections import OrderedDict
from pathlib import Path

GZIP_LEVEL = 6
BROTLI_QUALITY = 5
ENCODINGS = ("gzip", "br")  # the content codings quantlab serves, besides identity
CACHE_LIMIT_BYTES = 256 * 1024 * 1024

SETTINGS = {
    "gzip_level": GZIP_LEVEL,
    "brotli_quality": BROTLI_QUALITY,
    "why": "gzip 6 and brotli 5: on-the-fly compression as web servers and CDNs apply it; brotli 11 "
    "(pre-compression) saves under 1% more on weights at ~100x the time",
}


def _encode(data: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        # mtime=0: the same bytes every time (a server's output differs only in its header)
        return gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0)
    import brotli

    if encoding == "br":
        return brotli.compress(data, quality=BROTLI_QUALITY)
    raise ValueError(f"unknown content coding {encoding!r}")


class _Cache:
    """Compressed bytes by (real path, size, mtime_ns, coding), least recently used out first."""

    def __init__(self, limit: int = CACHE_LIMIT_BYTES):
        self.limit = limit
        self.items: OrderedDict[tuple, bytes] = OrderedDict()
        self.size = 0
        self.lock = threading.Lock()

    def get(self, path: Path, encoding: str, data: bytes | None = None) -> bytes:
        st = os.stat(path)
        key = (os.path.realpath(path), st.st_size, st.st_mtime_ns, encoding)
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key]
        if data is None:
            data = Path(path).read_bytes()
        out = _encode(data, encoding)
        with self.lock:
            if key not in self.items:
                self.items[key] = out
                self.size += len(out)
            while self.size > self.limit and len(self.items) > 1:
                _, old = self.items.popitem(last=False)
                self.size -= len(old)
        return out


CACHE = _Cache()


def compressed(path: Path, encoding: str, data: bytes | None = None) -> bytes:
    """`path`'s bytes in content coding `encoding` (gzip, br), cached."""
    return CACHE.get(Path(path), encoding, data)


def artifact_files(folder: Path) -> list[Path]:
    """model.json, then every shard the manifest names, in the order the browser fetches them."""
    from ..artifacts import read_artifact

    art = read_artifact(Path(folder))
    return [Path(folder) / "model.json", *art.shard_paths]


def delivery_sizes(folder: Path, cache: bool = False) -> dict:
    """Bytes over the wire for one artifact folder: per file and in total, raw, gzip and brotli;
    and the number of requests (one per file: model.json, then each shard). `cache`: keep the
    compressed bytes for the loopback server (`quantlab delivery`), so no timed load waits for
    the compression."""
    files = []
    for path in artifact_files(folder):
        data = path.read_bytes()
        encode = (lambda d, c, p=path: compressed(p, c, d)) if cache else _encode
        files.append(
            {
                "name": path.name,
                "raw": len(data),
                "gzip": len(encode(data, "gzip")),
                "br": len(encode(data, "br")),
            }
        )
    total = {k: sum(f[k] for f in files) for k in ("raw", "gzip", "br")}
    return {"settings": dict(SETTINGS), "files": files, "total": total, "requests": len(files)}


def accepted_encoding(header: str | None, available=ENCODINGS) -> str | None:
    """The content coding to answer an Accept-Encoding header with: br before gzip (smaller), a
    coding with q=0 refused, `*` standing for any not named; None for identity."""
    if not header:
        return None
    q: dict[str, float] = {}
    for part in header.split(","):
        token, *params = [p.strip() for p in part.split(";")]
        if not token:
            continue
        weight = 1.0
        for p in params:
            if p.lower().startswith("q="):
                try:
                    weight = float(p[2:])
                except ValueError:
                    weight = 0.0
        q[token.lower()] = weight
    for coding in ("br", "gzip"):
        if coding in available and q.get(coding, q.get("*", 0.0)) > 0:
            return coding
    return None


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
