"""Content coding as web servers apply it on the fly: gzip level 6 and brotli quality 5, the
bytes cached in memory by (path, size, mtime), and the answer to an Accept-Encoding header. The
loopback server sends these very bytes and `quantlab delivery` records their sizes, so the browser's
transfer sizes match the record.

- gzip: stdlib `gzip` at level 6, the default of Apache's mod_deflate, of zlib and of most
  servers that compress on the fly (nginx's own default is 1).
- brotli: quality 5, on-the-fly brotli as servers and CDNs apply it (ngx_brotli defaults to 6),
  with `brotli` from PyPI (the reference encoder). Not quality 11, the pre-compression setting:
  measured here on 4 MB of float32 weights, quality 11 saves under 1% of the bytes (0.913 vs
  0.922 of raw; nothing on uint8 weights) and takes 15-40 s per 4 MB instead of 0.2 s, which
  would add minutes to every run on MobileNetV2."""

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


def encode(data: bytes, encoding: str) -> bytes:
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
        out = encode(data, encoding)
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
