"""The diagnosis' picture: accumulated SQNR along the network's depth, one line per model output
(the nodes that feed it), so a reader sees on which branch, and how deep, the error grows."""

from __future__ import annotations

from html import escape

from markupsafe import Markup

COLOURS = ("#c44e52", "#4c72b0", "#55a868", "#8172b2", "#ccb974", "#64b5cd")


def branch_lines(curve: list[dict], exact_db: float) -> dict[str, list[tuple[int, float, str]]]:
    """{output: [(depth, SQNR dB, node)]}: at each depth the worst node feeding that output
    (an exact node at exact_db)."""
    lines: dict[str, dict[int, tuple[float, str]]] = {}
    for point in curve:
        if point.get("sqnr_db") is None and not point.get("identical"):
            continue  # not compared
        db = exact_db if point.get("identical") else point["sqnr_db"]
        for label in point.get("outputs") or ["(no output)"]:
            at = lines.setdefault(label, {})
            if point["depth"] not in at or db < at[point["depth"]][0]:
                at[point["depth"]] = (db, point["node"])
    return {label: sorted((d, db, node) for d, (db, node) in at.items()) for label, at in lines.items()}


def depth_chart(
    curve: list[dict], exact_db: float, title: str, width: int = 640, height: int = 220
) -> Markup:
    lines = branch_lines(curve, exact_db)
    points = [p for pts in lines.values() for p in pts]
    if not points:
        return Markup("")
    pad_l, pad_r, pad_t, pad_b = 44, 12, 26, 34
    max_d = max(d for d, _, _ in points) or 1
    lo = min(0.0, min(db for _, db, _ in points))
    hi = max(db for _, db, _ in points)
    span = (hi - lo) or 1.0
    w, h = width - pad_l - pad_r, height - pad_t - pad_b

    def xy(d: int, db: float) -> tuple[float, float]:
        return pad_l + d / max_d * w, pad_t + (hi - db) / span * h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(title)}">',
        f'<text x="{width / 2}" y="15" text-anchor="middle" font-size="13">{escape(title)}</text>',
        f'<path d="M{pad_l} {pad_t}V{pad_t + h}H{pad_l + w}" stroke="#999" fill="none"/>',
        f'<text x="{pad_l - 4}" y="{pad_t + 4}" font-size="10" text-anchor="end">{hi:.0f}</text>',
        f'<text x="{pad_l - 4}" y="{pad_t + h}" font-size="10" text-anchor="end">{lo:.0f}</text>',
        f'<text x="{pad_l + w / 2}" y="{height - 4}" font-size="10" text-anchor="middle">'
        f"depth (nodes from the input); SQNR in dB, {exact_db:.0f} = exact</text>",
    ]
    for k, (label, pts) in enumerate(lines.items()):
        colour = COLOURS[k % len(COLOURS)]
        path = "".join(
            ("M" if i == 0 else "L") + "{:.1f} {:.1f}".format(*xy(d, db)) for i, (d, db, _) in enumerate(pts)
        )
        parts.append(f'<path class="branch" d="{path}" stroke="{colour}" stroke-width="1.5" fill="none"/>')
        for d, db, node in pts:
            x, y = xy(d, db)
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2" fill="{colour}"><title>{escape(node)}: '
                f"{db:.1f} dB</title></circle>"
            )
        parts.append(
            f'<text x="{pad_l + w - 4}" y="{pad_t + 12 + 12 * k}" font-size="10" text-anchor="end" '
            f'fill="{colour}">{escape(label)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
