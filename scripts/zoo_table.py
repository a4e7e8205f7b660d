"""Print the README's "Models people ship" table from an analyze run's results (OUT/*/results.json):
one row per model, the worst output of each variant with its figure, and the wall time.

    python scripts/zoo_table.py zoo-reports
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

WORDS = {"top1_agreement": "top-1", "cosine_mean": "cos", "rel_error": "rel err", "abs_error": "abs err",
         "mask_iou": "IoU", "rel_l2": "rel L2"}  # fmt: skip


def cell(v: dict) -> str:
    h = v.get("headline") or {}
    value = h.get("value")
    shown = "NaN/Inf" if value is None else f"{value:.3f}"
    mark = " **(loss)**" if (v.get("outputs") or {}).get(h.get("output"), {}).get("loss") else ""
    return f"`{h.get('output')}` {WORDS.get(h.get('metric'), h.get('metric'))} {shown}{mark}"


def main(out: Path) -> None:
    print("| model | as given | outputs | float16 | uint16 | uint8 (bytes) | s |")
    print("|---|---|---|---|---|---|---|")
    for path in sorted(out.glob("*/results.json")):
        r = json.loads(path.read_text())
        by = {v["name"]: v for v in r["variants"]}
        src = r["source"]
        given = (src.get("detail") or "float32").replace("already quantized: ", "")
        batch = r["inputs"].get("batch") or {}
        notes = [given]
        if batch.get("fixed"):
            notes.append(f"batch {batch['fixed']}")
        if (src.get("kept_float32") or {}).get("constants"):
            notes.append(f"{len(src['kept_float32']['constants'])} -Inf const kept")
        if r["config"].get("runtime_fallback"):
            notes.append(f"{r['config']['runtime_fallback']['op']} -> {r['config']['runtime']}")
        kinds = ", ".join(sorted(set((r.get("output_kinds") or {}).values())))
        u8 = by.get("uint8")
        last = f"{cell(u8)} ({u8['weight_bytes']:,})" if u8 else "-"
        print(
            f"| {r['demo']} | {'; '.join(notes)} | {len(r['outputs'])} ({kinds}) | "
            f"{cell(by['float16']) if 'float16' in by else '-'} | "
            f"{cell(by['uint16']) if 'uint16' in by else '-'} | "
            f"{last} | {r['config']['wall_seconds']:.0f} |"
        )


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "reports"))
