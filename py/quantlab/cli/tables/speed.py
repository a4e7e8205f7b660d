"""`quantlab bench MODEL`: the per-example latency table."""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table

from ...infra.progress import table_console


def print_speed(record: dict) -> None:
    rows = record["rows"]
    table = Table(
        title=escape(
            f"ms per example, one at a time: median of {record['rounds']} passes over "
            f"{rows[0]['examples'] if rows else 0} examples [fastest, slowest pass]; {record['cores']} cores"
        )
    )
    cols = ("runtime", "variant", "threads (asked → used)", "ms/example", "[fastest, slowest]", "× TF")
    for col in cols:
        table.add_column(escape(col), justify="left" if col in ("runtime", "variant") else "right")
    tf_ms = {r["threads_asked"]: r["ms_per_example"] for r in rows if r["runtime"] == "tensorflow"}
    for r in rows:
        used = "?" if r["threads_used"] is None else str(r["threads_used"])
        base = tf_ms.get(r["threads_asked"])
        ratio = f"{r['ms_per_example'] / base:.2f}" if base else "–"
        spread = escape(f"[{r['ms_min']:.3f}, {r['ms_max']:.3f}]")
        asked = f"{r['threads_asked']} → {used}"
        table.add_row(r["runtime"], r["variant"], asked, f"{r['ms_per_example']:.3f}", spread, ratio)
    table_console().print(table)
    for line in record.get("notes", []):
        table_console().print(line, highlight=False)
    if record.get("tensorflow"):
        table_console().print(f"TensorFlow {record['tensorflow']}", highlight=False)
