"""A loopback HTTP server for the browser runtime: serves the page, the tfjs bundles, model
folders and input tensors; accepts output tensors by PUT. Nothing listens beyond 127.0.0.1.

Whatever the request, it serves only regular files whose real path (every symlink followed) lies
inside the real path of the folder they were asked from; a path that does not percent-decode
answers 400; and no exception leaves a handler (500 at worst). `FileHandler`,
`request_segments` and `resolve_inside` hold those rules for every quantlab HTTP server
(`quantlab serve` too)."""

from __future__ import annotations

import os
import re
import stat
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

_TYPES = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".mjs": "text/javascript",  # module scripts are refused under any other type
    ".json": "application/json",
    ".wasm": "application/wasm",
    ".bin": "application/octet-stream",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}

_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


class RequestRefused(Exception):
    """An HTTP answer other than 200: a status and optional extra headers."""

    def __init__(self, status: int, headers: dict[str, str] | None = None):
        super().__init__(status)
        self.status = status
        self.headers = headers or {}


def request_segments(target: str) -> list[str]:
    """The percent-decoded, non-empty path segments of an origin-form request target.

    400 when the target does not start with "/" or an escape does not decode (bad hex, or bytes
    that are not UTF-8, such as `%c0`); 404 for a segment that could step out of its folder
    ("." or "..", or one that decodes to a "/", a backslash or a NUL)."""
    if not target.startswith("/"):
        raise RequestRefused(400)
    path = target.split("?", 1)[0].split("#", 1)[0]
    segments = []
    for raw in path.split("/")[1:]:
        if _BAD_ESCAPE.search(raw):
            raise RequestRefused(400)
        try:
            seg = unquote(raw, errors="strict")
        except UnicodeDecodeError:
            raise RequestRefused(400) from None
        if not seg:
            continue
        if seg in (".", "..") or any(c in seg for c in "/\\\0"):
            raise RequestRefused(404)
        segments.append(seg)
    return segments


def resolve_inside(root: Path, segments: list[str]) -> Path:
    """The real path of root/segments (every symlink followed); 404 when it does not exist or is
    not the real path of `root` or inside it."""
    try:
        real_root = Path(os.path.realpath(root, strict=True))
        real = Path(os.path.realpath(real_root.joinpath(*segments), strict=True))
    except (OSError, ValueError):
        raise RequestRefused(404) from None
    if real != real_root and real_root not in real.parents:
        raise RequestRefused(404)
    return real


def read_regular_file(path: Path) -> bytes:
    """The bytes of `path` if it is a regular file (not a directory, FIFO or device), else 404.
    O_NOFOLLOW: `path` is already a real path, so a symlink swapped in since is not followed."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        raise RequestRefused(404) from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise RequestRefused(404)
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read()
    finally:
        os.close(fd)


class FileHandler(BaseHTTPRequestHandler):
    """GET and HEAD of the regular file `locate` maps a request to. Every refusal is an HTTP
    status; no exception leaves a handler method (a failed write just closes the connection)."""

    def log_message(self, *args):  # quiet
        pass

    def locate(self, segments: list[str]) -> Path:
        """The real path of the file to serve, or RequestRefused."""
        raise RequestRefused(404)

    def content_type(self, file: Path) -> str:
        return _TYPES.get(file.suffix, "application/octet-stream")

    # Answer Accept-Encoding (br, gzip) as a CDN does: Content-Encoding and Vary, the compressed
    # bytes made once per file and cached (quantlab.analysis.delivery holds the settings and the cache).
    compress = False
    # Cross-origin isolation (COOP same-origin + COEP require-corp on every response): what a page
    # needs for SharedArrayBuffer, hence for wasm threads in tfjs and LiteRT.js. Off by default, so
    # a page measures what a site without these headers gets (one thread).
    isolated = False

    def do_GET(self):
        self.guarded(self.send_file, True)

    def do_HEAD(self):
        self.guarded(self.send_file, False)

    def send_file(self, with_body: bool) -> None:
        file = self.locate(request_segments(self.path))
        data = read_regular_file(file)
        coding = None
        if self.compress:
            from .content_coding import accepted_encoding, compressed

            coding = accepted_encoding(self.headers.get("Accept-Encoding"))
            if coding:
                data = compressed(file, coding, data)
        self.send_response(200)
        self.send_header("Content-Type", self.content_type(file))
        if self.compress:
            self.send_header("Vary", "Accept-Encoding")
        if coding:
            self.send_header("Content-Encoding", coding)
        if self.isolated:
            self.send_header("Cross-Origin-Opener-Policy", "same-origin")
            self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if with_body:
            self.wfile.write(data)

    def guarded(self, fn, *args) -> None:
        try:
            fn(*args)
        except RequestRefused as e:
            self.answer(e.status, e.headers)
        except ConnectionError:
            self.close_connection = True
        except Exception:
            self.answer(500)

    def answer(self, status: int, headers: dict[str, str] | None = None) -> None:
        body = f"{status}\n".encode()
        try:
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
        except Exception:
            pass
        self.close_connection = True


class LoopbackServer:
    def __init__(self, upload_dir: Path | None = None, compress: bool = False, isolated: bool = False):
        self.mounts: dict[str, Path] = {}
        self.upload_dir = upload_dir
        self.requests: list[str] = []
        self.accept_encodings: list[str] = []  # each distinct Accept-Encoding header seen
        server = self

        class Handler(FileHandler):
            def locate(self, segments):
                return server.locate(segments)

            def do_GET(self):
                server.requests.append(self.path)
                coding = self.headers.get("Accept-Encoding", "")
                if coding not in server.accept_encodings:
                    server.accept_encodings.append(coding)
                super().do_GET()

            def do_PUT(self):
                server.requests.append(f"PUT {self.path}")
                self.guarded(self.receive)

            def receive(self):
                try:
                    segments = request_segments(self.path)
                except RequestRefused as e:  # a name that could leave upload_dir: 403
                    raise RequestRefused(403 if e.status == 404 else e.status) from None
                path = server.upload_path(segments)
                try:
                    length = int(self.headers.get("Content-Length", 0))
                except ValueError:
                    raise RequestRefused(400) from None
                if length < 0:
                    raise RequestRefused(400)
                body = self.rfile.read(length)
                flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
                try:
                    fd = os.open(path, flags, 0o600)
                except OSError:
                    raise RequestRefused(403) from None
                with os.fdopen(fd, "wb") as f:
                    f.write(body)
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

        Handler.compress = compress
        Handler.isolated = isolated
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.origin = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def mount(self, name: str, folder: Path) -> str:
        self.mounts[name] = Path(folder).resolve()
        return f"{self.origin}/{name}/"

    def unmount(self, name: str) -> None:
        self.mounts.pop(name, None)

    def locate(self, segments: list[str]) -> Path:
        """The real path of a file inside a mounted folder (RequestRefused(404) otherwise)."""
        root = self.mounts.get(segments[0]) if segments else None
        if root is None or len(segments) < 2:
            raise RequestRefused(404)
        return resolve_inside(root, segments[1:])

    def upload_path(self, segments: list[str]) -> Path:
        """Where PUT /upload/NAME writes: a plain file name in upload_dir, else 403."""
        if self.upload_dir is None or len(segments) != 2 or segments[0] != "upload":
            raise RequestRefused(403)
        name = segments[1]
        if name.startswith("."):
            raise RequestRefused(403)
        return Path(self.upload_dir) / name

    def resolve(self, url_path: str) -> Path | None:
        """The file a GET of `url_path` would serve, or None."""
        try:
            return self.locate(request_segments(url_path))
        except RequestRefused:
            return None

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
