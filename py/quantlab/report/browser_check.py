"""Open a rendered report from disk in headless Chromium: every page must load with no console
error, no page error and no request outside the report folder. Saves a screenshot per page."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

from ..errors import QuantlabError


def check_report(out_dir: Path, screenshot_dir: Path | None = None) -> dict:
    from playwright.sync_api import sync_playwright

    from ..runtimes.browser import CHROMIUM_FLAGS, browser_unavailable_reason, chromium_path

    reason = browser_unavailable_reason()
    if reason:
        raise QuantlabError(f"cannot check the report in a browser: {reason}")
    root = Path(out_dir).resolve()
    pages = [root / "index.html", *sorted(root.glob("*/index.html"))]
    found = {"pages": [], "console_errors": [], "page_errors": [], "outside_requests": []}
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
                if screenshot_dir:
                    Path(screenshot_dir).mkdir(parents=True, exist_ok=True)
                    name = str(path.relative_to(root)).replace("/", "_").replace(".html", ".png")
                    page.screenshot(path=str(Path(screenshot_dir) / name), full_page=True)
        finally:
            browser.close()
    found["ok"] = not (found["console_errors"] or found["page_errors"] or found["outside_requests"])
    return found
