"""`quantlab serve`: only regular files whose real path stays inside the reports folder, 400 on
undecodable escapes, no listings; --port and a busy port are one-line errors, not tracebacks."""

import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import threading

import pytest

from quantlab.errors import QuantlabError
from quantlab.report.server import make_server
from tests.conftest import ROOT, invoke_cli

SECRET = b"top-secret-outside-the-reports"


def request(port, target, method="GET"):
    """Send `target` byte for byte (urllib would normalise it); (status, headers, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, target)
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """<tmp>/outside/{secret.txt,dir/{secret.txt,index.html}} and <tmp>/reports/ with index.html,
    mnist/index.html, an empty folder, and symlinks out (file, folder, /etc/passwd) and in."""
    tmp = tmp_path_factory.mktemp("serve")
    outside, reports = tmp / "outside", tmp / "reports"
    (outside / "dir").mkdir(parents=True)
    (reports / "mnist").mkdir(parents=True)
    (reports / "empty").mkdir()
    (outside / "secret.txt").write_bytes(SECRET)
    (outside / "dir" / "secret.txt").write_bytes(SECRET)
    (outside / "dir" / "index.html").write_bytes(SECRET)
    (reports / "index.html").write_text("<h1>index</h1>")
    (reports / "mnist" / "index.html").write_text("<h1>mnist</h1>")
    (reports / "mnist" / "results.json").write_text('{"demo": "mnist"}')
    (reports / "leak.txt").symlink_to(outside / "secret.txt")
    (reports / "rel-leak.txt").symlink_to("../outside/secret.txt")
    (reports / "leak-dir").symlink_to(outside / "dir")
    (reports / "passwd.html").symlink_to("/etc/passwd")
    (reports / "alias.html").symlink_to("index.html")
    return tmp


@pytest.fixture(scope="module")
def port(tree):
    httpd = make_server(tree / "reports", 0)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


def test_serves_the_reports_and_folder_index_pages(port):
    assert request(port, "/")[::2] == (200, b"<h1>index</h1>")
    assert request(port, "/index.html")[::2] == (200, b"<h1>index</h1>")
    assert request(port, "/mnist/")[::2] == (200, b"<h1>mnist</h1>")
    assert request(port, "/mnist/index.html?x=1")[::2] == (200, b"<h1>mnist</h1>")
    assert request(port, "/alias.html")[::2] == (200, b"<h1>index</h1>")
    status, headers, body = request(port, "/mnist/results.json")
    assert (status, body) == (200, b'{"demo": "mnist"}') and headers["Content-Type"] == "application/json"
    status, headers, _ = request(port, "/mnist")
    assert status == 301 and headers["Location"] == "./mnist/"  # relative: never another host
    status, headers, body = request(port, "/index.html", "HEAD")
    assert (status, body, headers["Content-Length"]) == (200, b"", "14")


@pytest.mark.parametrize(
    "target",
    [
        "/leak.txt",
        "/rel-leak.txt",
        "/leak-dir/secret.txt",
        "/leak-dir/",
        "/leak-dir",
        "/leak-dir/index.html",
        "/passwd.html",
    ],
)
def test_symlinks_out_of_the_folder_answer_404(port, target):
    status, _, body = request(port, target)
    assert status == 404
    assert SECRET not in body and b"root:" not in body


@pytest.mark.parametrize(
    "target",
    [
        "/../outside/secret.txt",
        "/mnist/../../outside/secret.txt",
        "/%2e%2e/outside/secret.txt",
        "/%2E%2E%2Foutside%2Fsecret.txt",
        "/..%5coutside%5csecret.txt",
        "//etc/passwd",
        "/%2Fetc%2Fpasswd",
        "/{secret}",
        "/{secret_quoted}",
        "http://127.0.0.1{secret}",
        "/index.html%00",
    ],
)
def test_traversal_and_absolute_paths_never_reach_outside(port, tree, target):
    secret = str(tree / "outside" / "secret.txt")
    target = target.format(secret=secret, secret_quoted=secret.replace("/", "%2F"))
    status, _, body = request(port, target)
    assert status in (400, 404), status
    assert SECRET not in body and b"root:" not in body


@pytest.mark.parametrize("target", ["/%c0", "/%", "/mnist/%zz", "/%c0/index.html"])
def test_undecodable_escapes_answer_400_and_the_server_keeps_answering(port, target):
    assert request(port, target)[0] == 400
    assert request(port, "/")[0] == 200


def test_no_directory_listings(port):
    for target in ("/empty/", "/empty"):
        status, _, body = request(port, target)
        assert status in (301, 404) and b"empty" not in body.lower().replace(b"./empty/", b"")
    assert request(port, "/empty/")[0] == 404


def test_only_get_and_head(port):
    for method in ("POST", "PUT", "DELETE"):
        assert request(port, "/index.html", method)[0] in (405, 501), method


@pytest.mark.parametrize("bad", [-1, 65536, 70000])
def test_make_server_refuses_ports_out_of_range(tmp_path, bad):
    with pytest.raises(QuantlabError, match="--port") as e:
        make_server(tmp_path, bad)
    assert e.value.exit_code == 2


def _one_line_error(proc, *words):
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = [line for line in (proc.stderr + proc.stdout).splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert all(w in lines[0] for w in words), lines[0]


@pytest.mark.parametrize("bad", ["70000", "-1", "65536"])
def test_cli_serve_port_out_of_range_is_a_one_line_usage_error(tree, bad):
    proc = invoke_cli("serve", "--port", bad, "--out", str(tree / "reports"), env={"COLUMNS": "300"})
    assert proc.returncode == 2, proc.stderr
    _one_line_error(proc, "--port", bad)


def test_cli_serve_on_a_busy_port_is_a_one_line_error(tree):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        proc = invoke_cli("serve", "--port", port, "--out", str(tree / "reports"), env={"COLUMNS": "300"})
    assert proc.returncode in (1, 2), proc.stderr
    _one_line_error(proc, port, "in use")


def test_cli_serve_serves_until_interrupted(tree):
    proc = subprocess.Popen(
        [sys.executable, "-m", "quantlab.cli", "serve", "--port", "0", "--out", str(tree / "reports")],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "300"},
    )
    try:
        line = proc.stdout.readline()
        port = int(re.search(r"http://127\.0\.0\.1:(\d+)/", line).group(1))
        assert request(port, "/")[::2] == (200, b"<h1>index</h1>")
        assert request(port, "/leak.txt")[0] == 404
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
