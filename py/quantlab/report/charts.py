"""Tiny inline-SVG charts: the report must open from disk with no network and no JS library."""

from __future__ import annotations

from html import escape

from markupsafe import Markup

PALETTE = {"float32": "#4c72b0", "float16": "#55a868", "uint16": "#8172b2", "uint8": "#c44e52"}


def bar_chart(
    labels: list[str],
    values: list[float | None],
    title: str,
    fmt: str = "{:.4f}",
    width: int = 420,
    zoom: bool = False,
    errors: list[tuple[float, float] | None] | None = None,
    sublabels: list[str] | None = None,
) -> Markup:
    """Vertical bars; `zoom` starts the axis near the smallest value so small drops show;
    `errors` (one (lo, hi) or None per bar) draws each bar's interval as an error bar;
    `sublabels` (one per bar) a second, smaller line under each label, shortened to fit the bar
    (the whole text in its tooltip)."""
    present = [v for v in values if v is not None]
    if not present:
        return Markup("")
    errors = list(errors) if errors else [None] * len(values)
    ends = [x for e, v in zip(errors, values, strict=True) if e and v is not None for x in e]
    top = max(present + ends)
    low = min(present + ends)
    bottom = low - (top - low) * 0.5 - abs(top) * 0.002 if zoom else 0.0
    span = (top - bottom) or 1.0
    h, pad, bar_w = 180, 30, (width - 2 * 30) / max(1, len(labels))
    extra = 14 if sublabels else 0
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{h + 2 * pad + extra}" '
        f'role="img" aria-label="{escape(title)}">',
        f'<text x="{width / 2}" y="16" text-anchor="middle" font-size="13">{escape(title)}</text>',
    ]

    def y_of(value: float) -> float:
        return pad + h - max(1.0, (value - bottom) / span * h)

    for i, (label, v, err) in enumerate(zip(labels, values, errors, strict=True)):
        x = pad + i * bar_w + bar_w * 0.15
        if v is not None:
            y = y_of(v)
            color = PALETTE.get(label, "#777")
            shown = escape(fmt.format(v))
            if err:
                shown += escape(f" [{fmt.format(err[0])}, {fmt.format(err[1])}]")
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w * 0.7:.1f}" '
                f'height="{pad + h - y:.1f}" fill="{color}"><title>{escape(label)}: '
                f"{shown}</title></rect>"
            )
            label_y = y
            if err:
                cx, y_lo, y_hi = x + bar_w * 0.35, y_of(err[0]), y_of(err[1])
                parts.append(
                    f'<path class="errorbar" d="M{cx:.1f} {y_lo:.1f}V{y_hi:.1f}M{cx - 5:.1f} {y_lo:.1f}'
                    f'h10M{cx - 5:.1f} {y_hi:.1f}h10" stroke="#222" stroke-width="1.2" fill="none"/>'
                )
                label_y = min(y, y_hi)
            parts.append(
                f'<text x="{x + bar_w * 0.35:.1f}" y="{label_y - 4:.1f}" font-size="11" '
                f'text-anchor="middle">{escape(fmt.format(v))}</text>'
            )
        parts.append(
            f'<text x="{x + bar_w * 0.35:.1f}" y="{pad + h + 16}" font-size="11" '
            f'text-anchor="middle">{escape(label)}</text>'
        )
        if sublabels and sublabels[i]:
            parts.append(
                f'<text x="{x + bar_w * 0.35:.1f}" y="{pad + h + 29}" font-size="9" fill="#555" '
                f'text-anchor="middle"><title>{escape(sublabels[i])}</title>'
                f"{escape(_shorten(sublabels[i], int(bar_w / 5.5)))}</text>"
            )
    if zoom:
        parts.append(
            f'<text x="4" y="{pad + h}" font-size="9" fill="#888">axis from '
            f"{escape(fmt.format(bottom))}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def _shorten(text: str, chars: int) -> str:
    """text, or its last chars - 1 characters after an ellipsis (an output's name ends in its most
    telling part: "global_pooling/Mean")."""
    chars = max(4, chars)
    return text if len(text) <= chars else "…" + text[-(chars - 1) :]


def histogram_chart(hist: dict, width: int = 520, height: int = 150) -> Markup:
    """Weight histogram with the quantization grid (the representable values) as red ticks."""
    counts, edges = hist["counts"], hist["edges"]
    if not counts:
        return Markup("")
    lo, hi, top = edges[0], edges[-1], max(counts) or 1
    pad, plot_w = 30, width - 40
    span = (hi - lo) or 1.0

    def x_of(v: float) -> float:
        return pad + (v - lo) / span * plot_w

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 40}" role="img" '
        f'aria-label="histogram of {escape(hist["name"])}">',
        f'<text x="{pad}" y="14" font-size="12">{escape(hist["name"])}</text>',
    ]
    for c, a, b in zip(counts, edges[:-1], edges[1:], strict=True):
        h, w = c / top * height, max(0.5, x_of(b) - x_of(a) - 0.5)
        parts.append(
            f'<rect x="{x_of(a):.1f}" y="{20 + height - h:.1f}" width="{w:.1f}" height="{h:.1f}" '
            'fill="#4c72b0"/>'
        )
    for g in hist.get("grid") or []:
        parts.append(
            f'<line x1="{x_of(g):.1f}" x2="{x_of(g):.1f}" y1="{20 + height}" y2="{26 + height}" '
            'stroke="#c44e52" stroke-width="0.6"/>'
        )
    parts.append(
        f'<text x="{pad}" y="{height + 38}" font-size="10">{lo:.4g}</text>'
        f'<text x="{pad + plot_w}" y="{height + 38}" font-size="10" text-anchor="end">{hi:.4g}</text>'
        f'<text x="{pad + plot_w / 2}" y="{height + 38}" font-size="10" text-anchor="middle" fill="#c44e52">'
        f"{len(hist.get('grid') or [])} grid levels in range</text></svg>"
    )
    return Markup("".join(parts))


def frontier_chart(
    points: list[dict], chosen: dict | None, metric: str, width: int = 560, height: int = 260
) -> Markup:
    """Every evaluated variant as (weight KiB, metric); the chosen one ringed."""
    if not points:
        return Markup("")
    xs = [p["weight_bytes"] / 1024 for p in points]
    ys = [p["metric"] for p in points]
    x0, x1 = 0.0, max(xs) * 1.05
    y0, y1 = min(ys), max(ys)
    pad_y = (y1 - y0) * 0.1 or abs(y1) * 0.01 or 1.0
    y0, y1 = y0 - pad_y, y1 + pad_y
    left, top, w, h = 60, 24, width - 80, height - 60

    def xy(x: float, y: float) -> tuple[float, float]:
        return left + (x - x0) / (x1 - x0) * w, top + (y1 - y) / (y1 - y0) * h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="size versus {escape(metric)} frontier">',
        f'<text x="{width / 2}" y="14" text-anchor="middle" font-size="13">{escape(metric)} vs weight size '
        "(every evaluated variant)</text>",
        f'<line x1="{left}" y1="{top + h}" x2="{left + w}" y2="{top + h}" stroke="#999"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + h}" stroke="#999"/>',
        f'<text x="{left + w / 2}" y="{height - 8}" text-anchor="middle" font-size="11">weight KiB</text>',
        f'<text x="4" y="{top + 10}" font-size="10">{y1:.4g}</text>',
        f'<text x="4" y="{top + h}" font-size="10">{y0:.4g}</text>',
        f'<text x="{left + w}" y="{top + h + 14}" font-size="10" text-anchor="end">{x1:,.0f}</text>',
    ]
    for p, x, y in zip(points, xs, ys, strict=True):
        cx, cy = xy(x, y)
        color = PALETTE.get(p["label"], "#4c72b0")
        parts.append(
            f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="3.5" fill="{color}" fill-opacity="0.7">'
            f"<title>{escape(p['label'])}: {y:.4f}, {x:,.1f} KiB</title></circle>"
        )
        if p["label"] in ("float32", "uint8", "uint8, BatchNorm float16"):
            parts.append(
                f'<text x="{cx + 5:.1f}" y="{cy - 5:.1f}" font-size="10">{escape(p["label"])}</text>'
            )
    if chosen:
        cx, cy = xy(chosen["weight_bytes"] / 1024, chosen["metric"])
        parts.append(
            f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="8" fill="none" stroke="#c44e52" stroke-width="2"/>'
        )
        parts.append(f'<text x="{cx + 10:.1f}" y="{cy + 14:.1f}" font-size="11" fill="#c44e52">chosen</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def sensitivity_chart(rows: list[dict], key: str, title: str, top: int = 20, width: int = 560) -> Markup:
    """Horizontal bars per layer, the `top` largest values of `key` first."""
    rows = sorted((r for r in rows if r.get(key) is not None), key=lambda r: -r[key])[:top]
    if not rows:
        return Markup("")
    vals = [r[key] for r in rows]
    span = max(abs(v) for v in vals) or 1.0
    label_w, bar_h = 190, 16
    height = 30 + bar_h * len(rows)
    zero = label_w + (width - label_w - 60) * (0.5 if min(vals) < 0 else 0.0)
    scale = (width - label_w - 60) * (0.5 if min(vals) < 0 else 1.0) / span
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(title)}">',
        f'<text x="{width / 2}" y="14" text-anchor="middle" font-size="13">{escape(title)}</text>',
    ]
    for i, (r, v) in enumerate(zip(rows, vals, strict=True)):
        y = 22 + i * bar_h
        x, wbar = (zero, v * scale) if v >= 0 else (zero + v * scale, -v * scale)
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 11}" font-size="10" text-anchor="end">'
            f"{escape(r['layer'])}</text>"
            f'<rect x="{x:.1f}" y="{y + 2}" width="{max(0.5, wbar):.1f}" height="{bar_h - 4}" '
            'fill="#c44e52"/>'
            f'<text x="{max(x + wbar, zero) + 4:.1f}" y="{y + 11}" font-size="9">{v:+.4g}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


SERIES_COLORS = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b2")


def grouped_bar_chart(
    groups: list[str],
    series: list[str],
    values: list[list[float | None]],
    title: str,
    fmt: str = "{:,.0f}",
    width: int = 520,
) -> Markup:
    """Bars side by side: one group per label in `groups`, one bar per entry of `series` within it
    (`values[g][s]`), with a legend."""
    present = [v for row in values for v in row if v is not None]
    if not present:
        return Markup("")
    top = max(present) or 1.0
    h, pad = 180, 30
    group_w = (width - 2 * pad) / max(1, len(groups))
    bar_w = group_w * 0.8 / max(1, len(series))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{h + 2 * pad + 16}" '
        f'role="img" aria-label="{escape(title)}">',
        f'<text x="{width / 2}" y="16" text-anchor="middle" font-size="13">{escape(title)}</text>',
    ]
    for g, (group, row) in enumerate(zip(groups, values, strict=True)):
        x0 = pad + g * group_w + group_w * 0.1
        for s, v in enumerate(row):
            if v is None:
                continue
            y = pad + h - max(1.0, v / top * h)
            color = SERIES_COLORS[s % len(SERIES_COLORS)]
            parts.append(
                f'<rect x="{x0 + s * bar_w:.1f}" y="{y:.1f}" width="{bar_w * 0.9:.1f}" '
                f'height="{pad + h - y:.1f}" fill="{color}"><title>{escape(group)} {escape(series[s])}: '
                f"{escape(fmt.format(v))}</title></rect>"
            )
        parts.append(
            f'<text x="{x0 + group_w * 0.4:.1f}" y="{pad + h + 16}" font-size="11" '
            f'text-anchor="middle">{escape(group)}</text>'
        )
    for s, name in enumerate(series):
        x = pad + s * 90
        parts.append(
            f'<rect x="{x}" y="{h + 2 * pad}" width="10" height="10" '
            f'fill="{SERIES_COLORS[s % len(SERIES_COLORS)]}"/>'
            f'<text x="{x + 14}" y="{h + 2 * pad + 9}" font-size="11">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
