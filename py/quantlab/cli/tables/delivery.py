"""The delivery record as a person reads it (`quantlab delivery`)."""

from __future__ import annotations

from ...analysis.delivery import PROFILES
from ...analysis.delivery_record import fmt_ms


def print_delivery(record: dict, alone: bool = True) -> None:
    """The table, the errors, the sentences and the time per variant; `alone`: the run measured this
    target only (else print_total ends the run's output)."""
    from rich.table import Table

    from ...infra.progress import console, table_console

    table = Table(title=f"delivery: {record['name']} ({record['backend']}, {record['content_encoding']})")
    titles = [PROFILES[p]["title"] for p in record["profiles"]]
    for col in ("variant", "raw", "gzip", "br", "requests", *titles, "tf.memory", "seconds"):
        table.add_column(col, justify="left" if col == "variant" else "right")
    for v, s in record["sizes"].items():
        t = s["total"]
        cells = []
        for p in record["profiles"]:
            m = record["variants"].get(v, {}).get(p)
            cells.append(
                f"{fmt_ms(m['first_prediction_ms']['median'])} "
                f"[{fmt_ms(m['first_prediction_ms']['min'])}-{fmt_ms(m['first_prediction_ms']['max'])}]"
                if m
                else "–"
            )
        mem = record["variants"].get(v, {})
        mem = next(iter(mem.values()))["tf_memory_bytes"] if mem else None
        table.add_row(
            v, f"{t['raw']:,}", f"{t['gzip']:,}", f"{t['br']:,}", str(s["requests"]), *cells,
            "–" if mem is None else f"{mem:,}", f"{record['seconds_per_variant'][v]:.1f}",
        )  # fmt: skip
    table_console().print(table)
    for v, reason in record["errors"].items():
        console.print(f"[yellow]{v}[/yellow]: {reason}", markup=True, highlight=False)
    for line in record["conclusions"]:
        console.print(line, highlight=False)
    console.print(
        f"time per variant{'' if alone else ' (' + record['name'] + ')'}: "
        + ", ".join(f"{v} {s:.1f} s" for v, s in record["seconds_per_variant"].items())
        + (f"; total {record['seconds']:.1f} s" if alone else ""),
        highlight=False,
    )
    if alone:
        print_concurrency(record)


def print_concurrency(record: dict) -> None:
    from ...infra.progress import console

    c = record.get("concurrency")
    if c and c["concurrent_profiles"]:
        line = f"{', '.join(c['concurrent_profiles'])}: {c['pages']} pages at once"
        if c["sequential_profiles"]:
            line += f"; {', '.join(c['sequential_profiles'])}: one page, alone"
        console.print(line, highlight=False)


def print_total(records: list[dict]) -> None:
    """After several demos: the wall time of the whole run."""
    from ...infra.progress import console

    if records:
        pages = records[0]["concurrency"]["pages"]
        console.print(
            f"total: {records[0]['seconds']:.1f} s for {len(records)} demo{'s' if len(records) != 1 else ''} "
            f"({', '.join(r['name'] for r in records)}), {pages} page{'s' if pages != 1 else ''} at once",
            highlight=False,
        )
        print_concurrency(records[0])
