"""A loopback HTTP server for the browser runtime: serves the page, the tfjs bundles, model
folders and input tensors; accepts output tensors by PUT. Nothing listens beyond 127.0.0.1."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

_TYPES = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".json": "application/json",
    ".wasm": "application/wasm",
    ".bin": "application/octet-stream",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}


class LoopbackServer:
    def __init__(self, upload_dir: Path | None = None):
        self.mounts: dict[str, Path] = {}
        self.upload_dir = upload_dir
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                server.requests.append(self.path)
                file = server.resolve(self.path)
                if file is None or not file.is_file():
                    self.send_error(404)
                    return
                data = file.read_bytes()
                self.send_response(200)
                self.send_header("Content-Type", _TYPES.get(file.suffix, "application/octet-stream"))
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_PUT(self):
                server.requests.append(f"PUT {self.path}")
                name = unquote(urlparse(self.path).path).removeprefix("/upload/")
                if server.upload_dir is None or "/" in name or not name or name.startswith("."):
                    self.send_error(403)
                    return
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                (server.upload_dir / name).write_bytes(body)
                self.send_response(204)
                self.end_headers()

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

    def resolve(self, url_path: str) -> Path | None:
        parts = unquote(urlparse(url_path).path).lstrip("/").split("/", 1)
        root = self.mounts.get(parts[0])
        if root is None or len(parts) < 2:
            return None
        file = (root / parts[1]).resolve()
        return file if root in file.parents else None  # no escaping the mounted folder

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
