"""Open a rendered report from disk in headless Chromium: every page (index.html, overview.html,
*/index.html) must load with no console error, no page error, no request outside the report folder
and no link to a file that is not in it. Saves a screenshot per page."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

from ..errors import QuantlabError

TOP_PAGES = ("index.html", "overview.html")


def report_pages(root: Path) -> list[Path]:
    """The pages a check opens: those of TOP_PAGES that are there, then every */index.html."""
    top = [root / name for name in TOP_PAGES if (root / name).is_file()]
    if not top:
        raise QuantlabError(f"{root}: no {' or '.join(TOP_PAGES)} to check; run `quantlab report` first")
    return [*top, *sorted(root.glob("*/index.html"))]


def broken_links(hrefs: list[str], root: Path) -> list[str]:
    """The links (as the browser resolved them) that do not open a file inside root."""
    broken = []
    for href in hrefs:
        url = urlparse(href)
        if url.scheme != "file":
            broken.append(href)
            continue
        target = Path(unquote(url.path)).resolve()
        if not (target.is_relative_to(root) and target.is_file()):
            broken.append(href)
    return broken


def check_report(out_dir: Path, screenshot_dir: Path | None = None) -> dict:
    from playwright.sync_api import sync_playwright

    from ..infra.chromium import CHROMIUM_FLAGS, browser_unavailable_reason, chromium_path

    reason = browser_unavailable_reason()
    if reason:
        raise QuantlabError(f"cannot check the report in a browser: {reason}")
    root = Path(out_dir).resolve()
    pages = report_pages(root)
    found = {"pages": [], "console_errors": [], "page_errors": [], "outside_requests": [], "broken_links": []}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})

            def guard(route):
                url = route.request.url
                local = Path(unquote(urlparse(url).path)).resolve()
                inside = url.startswith("file://") and local.is_relative_to(root)
                if inside or url.startswith("data:"):
                    route.continue_()
                else:
                    found["outside_requests"].append(url)
                    route.abort()

            page.route("**/*", guard)
            page.on("console", lambda m: m.type == "error" and found["console_errors"].append(m.text))
            page.on("pageerror", lambda e: found["page_errors"].append(str(e)))
            for path in pages:
                page.goto(path.as_uri())
                found["pages"].append(str(path.relative_to(root)))
                hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
                where = str(path.relative_to(root))
                found["broken_links"] += [f"{where}: {h}" for h in broken_links(hrefs, root)]
                if screenshot_dir:
                    Path(screenshot_dir).mkdir(parents=True, exist_ok=True)
                    name = str(path.relative_to(root)).replace("/", "_").replace(".html", ".png")
                    page.screenshot(path=str(Path(screenshot_dir) / name), full_page=True)
        finally:
            browser.close()
    found["ok"] = not (
        found["console_errors"] or found["page_errors"] or found["outside_requests"] or found["broken_links"]
    )
    return found
