"""The browser runtime's loopback server, over real HTTP (no browser needed): only regular files
whose real path stays inside the mounted folder, 400 on undecodable escapes, no handler crash."""

import http.client
import os

import pytest

from quantlab.infra import loopback
from quantlab.infra.loopback import LoopbackServer

SECRET = b"top-secret-outside-the-mount"


def request(server, target, method="GET", body=None, headers=None):
    """Send `target` byte for byte (urllib would normalise it) and return (status, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request(method, target, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """<tmp>/outside/{secret.txt,dir/secret.txt}; the mounted <tmp>/model/ with a file, a
    sub-folder, symlinks out (absolute, relative, a directory, /etc/passwd) and one that stays in;
    <tmp>/model-link -> model; <tmp>/io for uploads, with io/link -> outside/secret.txt."""
    tmp_path = tmp_path_factory.mktemp("loopback")
    outside, model, io = tmp_path / "outside", tmp_path / "model", tmp_path / "io"
    (outside / "dir").mkdir(parents=True)
    (model / "sub").mkdir(parents=True)
    io.mkdir()
    (outside / "secret.txt").write_bytes(SECRET)
    (outside / "dir" / "secret.txt").write_bytes(SECRET)
    (model / "model.json").write_bytes(b'{"a": 1}')
    (model / "sub" / "shard1.bin").write_bytes(b"shard")
    (model / "escape.bin").symlink_to(outside / "secret.txt")
    (model / "relative-escape.bin").symlink_to("../outside/secret.txt")
    (model / "linked-dir").symlink_to(outside / "dir")
    (model / "passwd.json").symlink_to("/etc/passwd")
    (model / "alias.json").symlink_to("model.json")
    (tmp_path / "model-link").symlink_to(model)
    (io / "link").symlink_to(outside / "secret.txt")
    return tmp_path


@pytest.fixture(scope="module")
def server(tree):
    s = LoopbackServer(upload_dir=tree / "io")
    s.mount("m1", tree / "model")
    s.mount("viaLink", tree / "model-link")
    yield s
    s.close()


def test_serves_files_and_symlinks_that_stay_inside(server):
    assert request(server, "/m1/model.json") == (200, b'{"a": 1}')
    assert request(server, "/m1/alias.json") == (200, b'{"a": 1}')
    assert request(server, "/m1/sub/shard1.bin") == (200, b"shard")
    assert request(server, "/viaLink/model.json") == (200, b'{"a": 1}')
    assert request(server, "/m1/model.json?cache=1") == (200, b'{"a": 1}')


@pytest.mark.parametrize(
    "target",
    [
        "/m1/escape.bin",
        "/m1/relative-escape.bin",
        "/m1/linked-dir/secret.txt",
        "/m1/passwd.json",
        "/viaLink/escape.bin",
        "/viaLink/linked-dir/secret.txt",
    ],
)
def test_symlinks_whose_real_path_leaves_the_mount_answer_404(server, target):
    status, body = request(server, target)
    assert status == 404
    assert SECRET not in body and b"root:" not in body
    assert server.resolve(target) is None


@pytest.mark.parametrize("target", ["/m1/%c0", "/m1/%", "/m1/%zz", "/%c0/model.json", "/m1/a%E0%A4%A"])
def test_undecodable_escapes_answer_400_and_the_server_keeps_answering(server, target):
    assert request(server, target)[0] == 400
    assert request(server, "/m1/model.json")[0] == 200


@pytest.mark.parametrize(
    "target",
    [
        "/m1/../outside/secret.txt",
        "/m1/sub/../../outside/secret.txt",
        "/m1/%2e%2e/outside/secret.txt",
        "/m1/%2E%2E%2Foutside%2Fsecret.txt",
        "/m1/..%2foutside%2fsecret.txt",
        "/m1/..%5coutside%5csecret.txt",
        "/m1/./../outside/secret.txt",
        "/m1/model.json%00",
        "/m1/%2fetc%2fpasswd",
        "/m1//etc/passwd",
        "//etc/passwd",
        "/m1/{secret}",
        "/m1/{secret_quoted}",
        "http://127.0.0.1{secret}",
        "*",
    ],
)
def test_traversal_and_absolute_paths_never_reach_outside(server, tree, target):
    secret = str(tree / "outside" / "secret.txt")
    target = target.format(secret=secret, secret_quoted=secret.replace("/", "%2F"))
    status, body = request(server, target)
    assert status in (400, 404), status
    assert SECRET not in body and b"root:" not in body


@pytest.mark.parametrize("target", ["/", "/m1", "/m1/", "/m1/sub", "/m1/sub/", "/m1/linked-dir", "/nope/x"])
def test_directories_and_unknown_mounts_answer_404(server, target):
    assert request(server, target)[0] == 404


def test_an_exception_in_the_handler_answers_500_and_the_server_keeps_answering(server, monkeypatch):
    def boom(path):
        raise RuntimeError("boom")

    monkeypatch.setattr(loopback, "read_regular_file", boom)
    assert request(server, "/m1/model.json")[0] == 500
    monkeypatch.undo()
    assert request(server, "/m1/model.json") == (200, b'{"a": 1}')


def test_put_writes_a_plain_name_into_the_upload_folder(server, tree):
    assert request(server, "/upload/out1_0.bin", "PUT", body=b"\x01\x02")[0] == 204
    assert (tree / "io" / "out1_0.bin").read_bytes() == b"\x01\x02"
    (tree / "io" / "out1_0.bin").unlink()


@pytest.mark.parametrize(
    "target",
    [
        "/upload/",
        "/upload/.hidden",
        "/upload/..",
        "/upload/a%2Fb",
        "/upload/..%2Fescaped",
        "/upload/%2e%2e/escaped",
        "/upload/sub/name",
        "/elsewhere/name",
        "/upload/link",
    ],
)
def test_put_refuses_names_that_are_not_a_plain_file_in_the_upload_folder(server, tree, target):
    before = {p: sorted(os.listdir(p)) for p in (tree, tree / "io", tree / "outside")}
    status, _ = request(server, target, "PUT", body=b"x")
    assert status in (400, 403, 404), status
    assert (tree / "outside" / "secret.txt").read_bytes() == SECRET
    assert {p: sorted(os.listdir(p)) for p in before} == before


def test_put_with_an_undecodable_name_or_bad_length_does_not_crash(server):
    assert request(server, "/upload/%c0", "PUT", body=b"x")[0] == 400
    status, _ = request(server, "/upload/n.bin", "PUT", body=b"x", headers={"Content-Length": "abc"})
    assert status == 400
    assert request(server, "/m1/model.json")[0] == 200


def test_put_without_an_upload_folder_is_refused(tree):
    s = LoopbackServer(upload_dir=None)
    try:
        assert request(s, "/upload/x.bin", "PUT", body=b"x")[0] == 403
    finally:
        s.close()


@pytest.fixture(scope="module")
def compressing(tree):
    s = LoopbackServer(compress=True)
    s.mount("m1", tree / "model")
    yield s
    s.close()


def _get(server, target, accept):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request("GET", target, headers={"Accept-Encoding": accept} if accept is not None else {})
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("accept", "coding"),
    [("gzip, deflate, br", "br"), ("gzip", "gzip"), ("br;q=0, gzip", "gzip"), (None, None)],
)
def test_accept_encoding_is_honoured_with_vary(compressing, tree, accept, coding):
    import gzip

    import brotli

    status, headers, body = _get(compressing, "/m1/model.json", accept)
    assert status == 200 and headers["Vary"] == "Accept-Encoding"
    assert headers.get("Content-Encoding") == coding
    assert int(headers["Content-Length"]) == len(body)
    decode = {"br": brotli.decompress, "gzip": gzip.decompress, None: lambda b: b}[coding]
    assert decode(body) == (tree / "model" / "model.json").read_bytes()


def test_compression_still_refuses_what_it_would_refuse(compressing):
    assert _get(compressing, "/m1/escape.bin", "br")[0] == 404
    assert _get(compressing, "/m1/%zz", "gzip")[0] == 400


def test_plain_server_ignores_accept_encoding(server):
    status, headers, body = _get(server, "/m1/model.json", "br, gzip")
    assert status == 200 and "Content-Encoding" not in headers and body == b'{"a": 1}'


@pytest.mark.parametrize("isolated", [False, True])
def test_cross_origin_isolation_headers_only_when_asked(tree, isolated):
    """wasm threads need COOP same-origin + COEP require-corp on the page; without them a page
    measures what a site without these headers gets (one thread)."""
    s = LoopbackServer(isolated=isolated)
    try:
        s.mount("m", tree / "model")
        conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
        conn.request("GET", "/m/model.json")
        r = conn.getresponse()
        assert r.status == 200 and r.read() == b'{"a": 1}'
        got = (r.getheader("Cross-Origin-Opener-Policy"), r.getheader("Cross-Origin-Embedder-Policy"))
        conn.close()
        assert got == (("same-origin", "require-corp") if isolated else (None, None))
    finally:
        s.close()
