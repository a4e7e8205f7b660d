"""overview.html: one page for many models analysed in one command. A table model x variant (bytes,
the worst output and its figure) with a verdict per model; a model that failed shows its one-line
reason and the others render as usual."""

from __future__ import annotations

import math
from pathlib import Path

from ..infra.fsutil import write_text_atomic
from ..infra.progress import log
from .filters import relative_href, template_env
from .outputs_view import figure, metric_label, nonfinite_words

OVERVIEW_FILE = "overview.html"


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _share(part, whole) -> str:
    """'25.0%' of whole; '–' when either is missing or whole is not positive."""
    if not (_number(part) and _number(whole)) or whole <= 0:
        return "–"
    return f"{100 * part / whole:.1f}%"


def duration(seconds) -> str:
    """'12.3 s', '3 min 05 s', '1 h 02 min'."""
    if not _number(seconds) or seconds < 0:
        return "–"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def page_href(page) -> str | None:
    """entry["page"] ("faceres/index.html", relative to the overview) as a safe relative link."""
    if not isinstance(page, str) or not page.strip("/ "):
        return None
    return relative_href(*[s for s in page.split("/") if s not in ("", ".")])


def _one_line(text) -> str | None:
    if text is None:
        return None
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return lines[0] if lines else "failed"


def code_spans(text: str) -> list[tuple[str, bool]]:
    """text split at its backticks: (segment, is code) pairs, so "try `quantlab tune`" shows the
    command as code (the template escapes every segment); unpaired backticks stay text."""
    parts = text.split("`")
    if len(parts) % 2 == 0:
        return [(text, False)]
    return [(part, i % 2 == 1) for i, part in enumerate(parts) if part]


def _variant(v: dict, float32_bytes, shipped_bytes) -> dict:
    worst = v.get("worst") if isinstance(v.get("worst"), dict) else None
    nonfinite = v.get("nonfinite") if _number(v.get("nonfinite")) else 0
    return {
        "name": str(v.get("name") or "?"),
        "weight_bytes": v.get("weight_bytes") if _number(v.get("weight_bytes")) else None,
        "of_float32": _share(v.get("weight_bytes"), float32_bytes),
        "of_shipped": _share(v.get("weight_bytes"), shipped_bytes),
        "output": str(worst.get("output") or "?") if worst else None,
        "kind": str(worst.get("kind") or "?") if worst else None,
        "metric": metric_label(worst.get("metric")) if worst else None,
        "figure": figure(worst) if worst else "–",
        "score": f"{worst['score']:.4f}" if worst and _number(worst.get("score")) else "–",
        "loss": v.get("loss") is True,
        "nonfinite": nonfinite,
        "nonfinite_words": nonfinite_words(nonfinite),
    }


def model_view(entry: dict) -> dict:
    """One model's rows: its link, format, each variant's bytes and worst output, the verdict."""
    variants = [v for v in entry.get("variants") or [] if isinstance(v, dict)]
    f32 = next((v.get("weight_bytes") for v in variants if v.get("name") == "float32"), None)
    shipped = entry.get("shipped_bytes") if _number(entry.get("shipped_bytes")) else None
    error = _one_line(entry.get("error"))
    rows = [] if error else [_variant(v, f32, shipped) for v in variants]
    exit_code = entry.get("exit_code")
    return {
        "name": str(entry.get("name") or "?"),
        "href": page_href(entry.get("page")),
        "error": error,
        "exit_code": exit_code if isinstance(exit_code, int) and not isinstance(exit_code, bool) else None,
        "format": str(entry.get("format") or "–"),
        "shipped_bytes": shipped,
        "wall": duration(entry.get("wall_s")),
        "variants": rows,
        "verdict": code_spans(str(entry.get("verdict") or ("failed" if error else "–"))),
        "bad": bool(error) or any(r["loss"] or r["nonfinite"] for r in rows),
    }


def overview_view(entries: list[dict], home: str | None = None) -> dict:
    models = [model_view(e) for e in entries if isinstance(e, dict)]
    walls = [e.get("wall_s") for e in entries if isinstance(e, dict) and _number(e.get("wall_s"))]
    return {
        "models": models,
        "n": len(models),
        "failed": sum(1 for m in models if m["error"]),
        "wall": duration(sum(walls)) if walls else "–",
        "any_shipped": any(m["shipped_bytes"] for m in models),
        "home": home,
    }


def render_overview(out_dir: Path, entries: list[dict]) -> Path:
    """Write out_dir/overview.html (atomically) for the models in entries; returns its path. Links
    the report's index.html only when one is there."""
    out_dir = Path(out_dir)
    home = relative_href("index.html") if (out_dir / "index.html").is_file() else None
    html = template_env().get_template("overview.html.j2").render(o=overview_view(entries, home))
    path = out_dir / OVERVIEW_FILE
    write_text_atomic(path, html)
    log.info("overview written to %s", path)
    return path
