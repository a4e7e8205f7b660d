"""Render reports/index.html and one page per demo from results.json files (read through
records/), nothing else; a page that cannot show a section is rendered without it, naming it."""

from __future__ import annotations

from pathlib import Path

from ..errors import QuantlabError
from ..infra.fsutil import write_text_atomic
from ..infra.progress import log
from ..records.run import RunRecord
from ..results import RESULTS_FILE, read_run
from .discretisation import discretisation_figure
from .filters import relative_href, template_env
from .page_data import delivery_charts, demo_charts, diagnose_charts, primary_value, side_by_side


def load_all_results(out_dir: Path) -> list[dict]:
    """Every <out>/<demo>/results.json; unreadable ones are skipped with a warning, incomplete
    ones are kept with a list of what is missing."""
    found = []
    for path in sorted(Path(out_dir).glob(f"*/{RESULTS_FILE}")):
        try:  # NaN/Inf restored (written as null + "<key>_nonfinite"); the section files joined
            results, unreadable, earlier = read_run(path)
        except QuantlabError as e:
            log.warning("%s: skipped, %s", path, str(e).split(": ", 1)[-1])
            continue
        record, missing = RunRecord.from_json(results, path.parent.name)  # wrong types dropped, named
        missing += unreadable
        if earlier:
            log.warning(
                "%s: measured before these results (an earlier run; re-run to refresh): %s", path.parent,
                ", ".join(f"{k} ({t})" for k, t in earlier.items()),
            )  # fmt: skip
        results = record.to_json()
        results["_missing"] = missing
        results["_earlier"] = earlier
        results["_page"] = f"{path.parent.name}/index.html"  # where the page is written
        results["_href"] = relative_href(path.parent.name, "index.html")  # how index.html links it
        if missing:
            log.warning("%s: fields missing (%s); rendering what is there", path, ", ".join(missing))
        found.append(results)
    return found


def render_reports(out_dir: Path) -> Path:
    out_dir = Path(out_dir)
    all_results = load_all_results(out_dir)
    if not all_results:
        raise QuantlabError(
            f"{out_dir}: no */results.json to render; run `quantlab run` (or `quantlab run --quick`) first"
        )
    env = template_env()
    figure = discretisation_figure()
    demo_page = env.get_template("demo.html.j2")
    index_page = env.get_template("index.html.j2")
    by_demo = {r.get("demo"): r for r in all_results}
    for results in all_results:
        sibling = by_demo.get(results.get("sibling"))
        try:
            results["_sibling"] = side_by_side(results, sibling) if sibling else None
        except Exception:  # a hand-edited pair: the page without the side-by-side section
            results["_sibling"] = None
            results["_missing"].append("sibling (side by side unreadable)")
    for results in all_results:
        # a section the index cannot show is left out of both pages, and named on both
        _renderable(results, lambda r: index_page.render(results=[r], primary=primary_value))
        html = _renderable(
            results,
            lambda r: demo_page.render(
                r=r,
                charts=demo_charts(r),
                delivery=delivery_charts(r),
                diagnose=diagnose_charts(r),
                primary=primary_value,
                discretisation=figure,
            ),
        )
        write_text_atomic(out_dir / results["_page"], html)
    index = index_page.render(results=all_results, primary=primary_value)
    write_text_atomic(out_dir / "index.html", index)
    log.info("report written to %s", out_dir / "index.html")
    return out_dir / "index.html"


def render_with_section(out_dir: Path, name: str, hint: str) -> None:
    """After a command stored its section for `name`: re-render the pages when OUT/<name>/
    results.json is there (else say which command adds it, `hint`). The section is stored whatever
    happens here: a page that cannot be rendered is a warning naming why, not the command's failure."""
    from ..results import results_path

    if not results_path(out_dir, name).is_file():
        log.info("no %s: %s adds the metrics and the HTML page", results_path(out_dir, name), hint)
        return
    try:
        render_reports(out_dir)
    except QuantlabError as e:
        log.warning("the HTML page was not re-rendered: %s", e)


def _renderable(results: dict, render) -> str:
    """render(results); if that fails on a hand-edited or old file, the page without each
    optional section it cannot show, those sections named in results["_missing"] (in place)."""
    try:
        return render(results)
    except Exception:
        pass
    sections = {k: results.pop(k) for k in RunRecord.optional_sections() if k in results}
    try:
        render(results)
    except Exception:
        results["variants"] = []
        results["_missing"].append("variants (unreadable)")
        try:
            render(results)
        except Exception as e:
            raise QuantlabError(
                f"{results['_page'].rsplit('/', 1)[0]}/{RESULTS_FILE}: cannot be rendered "
                f"({type(e).__name__}: {e})"
            ) from None
    for key, value in sections.items():
        results[key] = value
        try:
            render(results)
        except Exception:
            del results[key]
            results["_missing"].append(f"{key} (unreadable)")
            log.warning(
                "%s: section %r left out, its contents do not have the expected shape", results["_page"], key
            )
    return render(results)  # again, so the page names what was left out
