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
) -> Markup:
    """Vertical bars; `zoom` starts the axis near the smallest value so small drops show."""
    present = [v for v in values if v is not None]
    if not present:
        return Markup("")
    top = max(present)
    bottom = min(present) - (top - min(present)) * 0.5 - abs(top) * 0.002 if zoom else 0.0
    span = (top - bottom) or 1.0
    h, pad, bar_w = 180, 30, (width - 2 * 30) / max(1, len(labels))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{h + 2 * pad}" '
        f'role="img" aria-label="{escape(title)}">',
        f'<text x="{width / 2}" y="16" text-anchor="middle" font-size="13">{escape(title)}</text>',
    ]
    for i, (label, v) in enumerate(zip(labels, values, strict=True)):
        x = pad + i * bar_w + bar_w * 0.15
        if v is not None:
            bh = max(1.0, (v - bottom) / span * h)
            y = pad + h - bh
            color = PALETTE.get(label, "#777")
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w * 0.7:.1f}" '
                f'height="{bh:.1f}" fill="{color}"><title>{escape(label)}: '
                f"{escape(fmt.format(v))}</title></rect>"
            )
            parts.append(
                f'<text x="{x + bar_w * 0.35:.1f}" y="{y - 4:.1f}" font-size="11" '
                f'text-anchor="middle">{escape(fmt.format(v))}</text>'
            )
        parts.append(
            f'<text x="{x + bar_w * 0.35:.1f}" y="{pad + h + 16}" font-size="11" '
            f'text-anchor="middle">{escape(label)}</text>'
        )
    if zoom:
        parts.append(
            f'<text x="4" y="{pad + h}" font-size="9" fill="#888">axis from '
            f"{escape(fmt.format(bottom))}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))
