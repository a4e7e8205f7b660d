"""The seed example's explanatory figure, redrawn from tfjs' own quantization math: what 16-bit
and 8-bit per-tensor affine grids do to a smooth signal (every page shows it once)."""

from __future__ import annotations

from markupsafe import Markup


def discretisation_figure(width: int = 620, height: int = 220) -> Markup:
    """The seed's figure, redrawn with our own quantize/dequantize: a zoomed-in stretch of a
    sine wave, original vs 16-bit vs 8-bit affine quantization of the whole wave."""
    import numpy as np

    from ..tfjs.quantization import roundtrip

    t = np.linspace(0, 2 * np.pi, 20001, dtype=np.float64)
    wave = np.sin(t).astype(np.float32)
    window = slice(9000, 9400)  # a zoomed stretch around the zero crossing at pi
    series = {"original": wave, "16-bit": roundtrip(wave, "uint16"), "8-bit": roundtrip(wave, "uint8")}
    colors = {"original": "#222", "16-bit": "#8172b2", "8-bit": "#c44e52"}
    xs = t[window]
    lo = min(float(s[window].min()) for s in series.values())
    hi = max(float(s[window].max()) for s in series.values())
    pad = 40

    def point(x: float, y: float) -> str:
        px = pad + (x - xs[0]) / (xs[-1] - xs[0]) * (width - 2 * pad)
        py = 20 + (hi - y) / ((hi - lo) or 1) * (height - 40)
        return f"{px:.1f},{py:.1f}"

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        'aria-label="sine wave quantized to 16 and 8 bits">'
    ]
    for k, (name, s) in enumerate(series.items()):
        pts = " ".join(point(float(x), float(y)) for x, y in zip(xs, s[window], strict=True))
        parts.append(f'<polyline fill="none" stroke="{colors[name]}" stroke-width="1.2" points="{pts}"/>')
        parts.append(
            f'<text x="{width - 110}" y="{30 + 16 * k}" font-size="12" fill="{colors[name]}">{name}</text>'
        )
    parts.append(
        f'<text x="{pad}" y="{height - 4}" font-size="11">sin(t) for t in [{xs[0]:.3f}, {xs[-1]:.3f}], '
        "values quantized as the converter does (per tensor, affine)</text></svg>"
    )
    return Markup("".join(parts))
