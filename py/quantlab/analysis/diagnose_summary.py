"""What a diagnosis says first: the nodes where the accumulated SQNR falls most (the error enters
or grows there), the nodes that add the most error on exact inputs (lowest local SQNR), each
model output's final SQNR, and the first node whose float32 values leave float16's range."""

from __future__ import annotations

from ..tfjs.activation_graph import ActivationGraph, base_name

# An exact input (no error at all) counts as this many dB when a fall is computed: float32's own
# rounding noise lies near 140 dB, so nothing quantized reaches it.
EXACT_DB = 120.0


def _sqnr(row: dict | None, kind: str = "accumulated") -> float | None:
    """A compared node's SQNR in dB (EXACT_DB when identical); None when not compared."""
    if not row or not row.get("compared") or not row.get(kind):
        return None
    fig = row[kind]
    return EXACT_DB if fig["identical"] else fig["sqnr_db"]


def _brief(row: dict, **extra) -> dict:
    return {
        "node": row["node"],
        "op": row["op"],
        "sqnr_db": _sqnr(row),
        "local_sqnr_db": _sqnr(row, "local"),
        "outputs": row["outputs"],
        **extra,
    }


def summarise(rows: list[dict], graph: ActivationGraph, top: int = 5) -> dict:
    by_name = {r["node"]: r for r in rows}
    falls = []
    for row in rows:
        out_db = _sqnr(row)
        if out_db is None:
            continue
        ins = [_sqnr(by_name.get(base_name(k))) for k in graph.reads.get(row["node"], [])]
        ins = [v for v in ins if v is not None]
        in_db = min(ins) if ins else EXACT_DB  # reads only the model's inputs (exact)
        falls.append((in_db - out_db, row))
    falls.sort(key=lambda t: -t[0])
    local = [(v, r) for r in rows if (v := _sqnr(r, "local")) is not None and v < EXACT_DB]
    local.sort(key=lambda t: t[0])
    outputs = {label: _brief(by_name[node]) for label, node in graph.output_nodes.items() if node in by_name}
    first_range = next((r for r in rows if r.get("compared") and r["range"]["flags"]), None)
    first_nonfinite = next((r for r in rows if r.get("compared") and r["accumulated"]["nonfinite"]), None)
    return {
        "largest_falls": [_brief(r, fall_db=round(f, 3)) for f, r in falls[:top] if f > 0],
        "worst_local": [_brief(r) for _, r in local[:top]],
        "outputs": outputs,
        "first_f16_range": None if first_range is None else {
            "node": first_range["node"], "op": first_range["op"], **first_range["range"],
        },
        "first_nonfinite_variant": None if first_nonfinite is None else {
            "node": first_nonfinite["node"], "count": first_nonfinite["accumulated"]["nonfinite"],
        },
        "exact_db": EXACT_DB,
    }  # fmt: skip
