"""`quantlab serve`: the reports folder over HTTP on 127.0.0.1.

Serves only regular files whose real path (every symlink followed) lies inside the served
folder's real path; a folder answers its own index.html or 404 (never a listing); a path that
does not percent-decode answers 400; only GET and HEAD. The rules are the loopback server's
(`quantlab.infra.loopback`)."""

from __future__ import annotations

import errno
import mimetypes
from http.server import ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

from ..errors import QuantlabError
from ..infra.loopback import FileHandler, RequestRefused, resolve_inside

HOST = "127.0.0.1"


def handler_for(folder: Path) -> type[FileHandler]:
    root = Path(folder).resolve()

    class ReportHandler(FileHandler):
        def content_type(self, file: Path) -> str:
            kind = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
            return f"{kind}; charset=utf-8" if kind.startswith("text/") else kind

        def locate(self, segments: list[str]) -> Path:
            real = resolve_inside(root, segments)
            if not real.is_dir():
                return real
            if not self.path.split("?", 1)[0].endswith("/"):
                # /mnist -> ./mnist/ : relative, so the Location can never name another host
                raise RequestRefused(301, {"Location": f"./{quote(segments[-1])}/"})
            return resolve_inside(root, [*segments, "index.html"])

    return ReportHandler


def check_port(port: int) -> None:
    if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
        raise QuantlabError(f"--port {port}: must be 0..65535 (0 = any free port)", exit_code=2)


def make_server(folder: Path, port: int = 0) -> ThreadingHTTPServer:
    """A threaded server for `folder` on 127.0.0.1:port (0: any free port), not yet serving.
    QuantlabError (exit 2) for a port out of range or in use."""
    check_port(port)
    try:
        httpd = ThreadingHTTPServer((HOST, port), handler_for(folder))
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            raise QuantlabError(
                f"--port {port}: {HOST}:{port} is already in use; pick another port, or 0 for any free one",
                exit_code=2,
            ) from None
        raise QuantlabError(f"--port {port}: cannot listen on {HOST}:{port}: {e.strerror or e}") from None
    httpd.daemon_threads = True
    return httpd


def serve(folder: Path, port: int, announce=print) -> None:
    """Serve `folder` until interrupted (KeyboardInterrupt propagates to the caller)."""
    check_port(port)
    folder = Path(folder)
    if not (folder / "index.html").is_file():
        raise QuantlabError(f"{folder}/index.html: missing; run `quantlab report` or `quantlab run` first")
    with make_server(folder, port) as httpd:
        announce(f"serving {folder} at http://{HOST}:{httpd.server_address[1]}/ (Ctrl-C to stop)")
        httpd.serve_forever()
