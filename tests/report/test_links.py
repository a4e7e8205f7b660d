"""Links in the report: every href/src built from a results folder name or a results.json value is
a relative path, never a scheme (`javascript:`), a host or the site root, and still opens the
page it names."""

import json
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from quantlab.report import render_reports
from quantlab.report.filters import relative_href
from tests.report.test_render import _results

HOSTILE = [
    "javascript:alert(5)",
    "JaVaScRiPt:alert(6)",
    "data:text,<qz>x<qz>",
    "vbscript:msgbox",
    "a b&c\"'<qx>",
    "?q=1#frag",
    "%2e%2e",
    "..%2f..",
    "\\\\evil.example\\share",
    " javascript:alert(7)",
]


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self.tags: set[str] = set()
        self.text: list[str] = []

    def handle_data(self, data):
        self.text.append(data)

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        for name, value in attrs:
            if name in ("href", "src", "action", "formaction", "xlink:href", "poster", "srcset"):
                self.links.append((f"{tag}.{name}", value or ""))


def _parse(html: str) -> _Links:
    parser = _Links()
    parser.feed(html)
    parser.close()
    return parser


def _assert_safe_and_working(page: Path, attr: str, href: str) -> None:
    parts = urlsplit(href)
    assert parts.scheme == "" and parts.netloc == "", f"{page.name}: {attr}={href!r}"
    assert href.startswith(("./", "../")), f"{page.name}: {attr}={href!r} is not explicitly relative"
    assert ":" not in href.split("/")[1], f"{page.name}: {attr}={href!r}"
    assert not any(c in href for c in "\\\"'<> \t\n"), f"{page.name}: {attr}={href!r}"
    target = page.parent.joinpath(*[unquote(s) for s in parts.path.split("/")])
    assert target.is_file(), f"{page.name}: {attr}={href!r} does not open {target}"


@pytest.mark.parametrize("name", HOSTILE)
def test_folder_names_become_safe_relative_links(tmp_path, name):
    (tmp_path / "mnist").mkdir()
    (tmp_path / "mnist" / "results.json").write_text(json.dumps(_results()))
    r = _results(demo=name, title=name)
    r["tune"] = {  # the index links a tuned demo a second time
        "metric": "accuracy",
        "max_drop": 0.01,
        "float32_metric": 0.99,
        "best_found": {"label": "uint8", "metric": 0.9, "weight_bytes": 1000},
    }
    (tmp_path / name).mkdir()
    (tmp_path / name / "results.json").write_text(json.dumps(r))
    index = render_reports(tmp_path)
    pages = [index, tmp_path / "mnist" / "index.html", tmp_path / name / "index.html"]
    for page in pages:
        parsed = _parse(page.read_text())
        assert parsed.links, page
        for attr, href in parsed.links:
            _assert_safe_and_working(page, attr, href)
        assert not parsed.tags & {"qx", "qz"}  # names stay text, never markup
    index_links = [href for _, href in _parse(index.read_text()).links]
    # the hostile folder is linked from the index twice (results and tune tables), to its page
    assert sum(unquote(h) == f"./{name}/index.html" for h in index_links) == 2, index_links
    assert name in "".join(_parse(index.read_text()).text)  # and its name is shown, as text


def test_relative_href_encodes_every_segment():
    assert relative_href("javascript:alert(5)", "index.html") == "./javascript%3Aalert%285%29/index.html"
    assert relative_href("a/b", "c d") == "./a%2Fb/c%20d"
