"""The diagnose record as a person reads it (`quantlab diagnose DEMO|MODEL`)."""

from __future__ import annotations

from ...infra.progress import table_console


def _db(v: float | None, exact: float) -> str:
    if v is None:
        return "–"
    return "exact" if v >= exact else f"{v:.1f}"


def _branches(outputs: list[str], all_outputs: int) -> str:
    return "all" if len(outputs) == all_outputs and all_outputs > 1 else ", ".join(outputs) or "–"


def print_diagnose(r: dict) -> None:
    from rich.table import Table

    s = r["summary"]
    exact = s["exact_db"]
    n_out = len(s["outputs"])
    out = table_console()
    compared = sum(1 for row in r["nodes"] if row["compared"])
    sec, rss = r["seconds"], r.get("peak_rss_mb") or {}
    moving = sec["fetch_compare_s"] - sec["run_s"] - sec["compare_s"]
    split = (
        f"tfjs running the models {sec['run_s']:.1f} s, comparing {sec['compare_s']:.1f} s, moving the rest "
        f"{moving:.1f} s, writing {sec['write_s']:.1f} s"
    )
    memory = ", ".join(f"{k} {v:.0f} MB" for k, v in rss.items() if v is not None)
    out.print(
        f"{r['model']} {r['variant']} against float32 in {r['runtime']['runtime']}: {compared} of "
        f"{len(r['nodes'])} nodes compared on {r['n_examples']} examples in {r['calls']} calls, "
        f"{sec['total_s']:.0f} s ({split}); peak RSS: {memory}"
    )
    lists = (
        ("where the accumulated SQNR falls most", s["largest_falls"], True),
        ("largest local error (the node alone, on float32's inputs)", s["worst_local"], False),
    )
    for title, rows, with_fall in lists:
        if not rows:
            continue
        table = Table(title=title)
        for col in ("node", "op", *(["fall dB"] if with_fall else []), "SQNR dB", "local SQNR dB", "feeds"):
            table.add_column(col, justify="left" if col in ("node", "op", "feeds") else "right")
        for row in rows:
            cells = [row["node"], row["op"]]
            if with_fall:
                cells.append(f"{row['fall_db']:.1f}")
            cells += [
                _db(row["sqnr_db"], exact),
                _db(row["local_sqnr_db"], exact),
                _branches(row["outputs"], n_out),
            ]
            table.add_row(*cells)
        out.print(table)
    if s["outputs"]:
        worst = min(
            s["outputs"].items(), key=lambda kv: kv[1]["sqnr_db"] if kv[1]["sqnr_db"] is not None else 1e9
        )
        parts = [f"{label} {_db(b['sqnr_db'], exact)} dB" for label, b in s["outputs"].items()]
        out.print(f"outputs (accumulated SQNR): {'; '.join(parts)}; worst: {worst[0]}")
    f16 = s["first_f16_range"]
    if f16:
        out.print(
            f"float16: {f16['node']} ({f16['op']}) is the first node past float16's range on these inputs "
            f"(max |x| {f16['max_abs']:.4g}, flags {', '.join(f16['flags'])}): Inf or lost precision where "
            "tfjs computes in 16-bit textures (browser-webgl-f16, many phone GPUs)"
        )
    else:
        out.print("float16: every node's float32 values stay within float16's range on these inputs")
    bad = s["first_nonfinite_variant"]
    if bad:
        where = f"{bad['node']} ({bad['count']} values)"
        out.print(f"[red]NaN/Inf[/red]: {r['variant']} first gives non-finite values at {where}")
    me = r.get("model_explorer") or {}
    if me.get("overlays"):
        out.print(
            f"Model Explorer: {len(me['overlays'])} overlays in {me['folder']}; to see them on the graph:"
        )
        if me.get("viewing_graph"):
            out.print(f"  ({me['viewing_graph']})")
        out.print("  " + me["command_text"], soft_wrap=True)
    elif me.get("skipped"):
        out.print(f"Model Explorer: {me['skipped']}")
    out.print(f"record: {r['path']}")
