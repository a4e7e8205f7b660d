"""One variant's entry in results.json: sizes, metrics with intervals and paired deltas against
float32, and how the runtime did. Producers build it with `variant_row` (analysis/variant_row.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .fields import ABSENT, decode_fields, encode_fields, is_metric, is_number, is_pair

NUMBERS = ("weight_bytes", "model_json_bytes", "gzip_ratio")


@dataclass
class VariantRow:
    name: str
    metrics: dict[str, float] = field(default_factory=dict)
    weight_bytes: int | None = ABSENT
    model_json_bytes: int | None = ABSENT
    gzip_ratio: float | None = ABSENT
    runtime: dict | None = ABSENT
    intervals: dict | None = ABSENT
    deltas: dict | None = ABSENT
    interval_method: dict | None = ABSENT
    extra: dict = field(default_factory=dict)  # the rest: delivery, outputs, fidelity, headline, ...

    def to_json(self) -> dict:
        return encode_fields(self)

    @classmethod
    def from_json(cls, data, index: int, primary: str | None = None) -> tuple[VariantRow | None, list[str]]:
        """A row read back: wrong types dropped and named (a nameless row is "variant N"); None
        when it is not an object at all."""
        if not isinstance(data, dict):
            return None, [f"variants[{index}] (not an object)"]
        problems = []
        if not isinstance(data.get("name"), str):
            problems.append(f"variants[{index}].name (not text)")
            data = {**data, "name": f"variant {index + 1}"}
        where = f"variants[{data['name']}]."
        fields, extra, bad = decode_fields(cls, data, where)
        problems += bad
        metrics = dict(fields.get("metrics") or {})
        if not metrics:  # a row with no figures must say so, not render as blanks
            problems.append(f"{where}metrics (missing: no figures for this variant)")
        elif isinstance(primary, str) and primary not in metrics:
            problems.append(f"{where}metrics.{primary} (missing)")
        for k in [k for k, v in metrics.items() if v is not None and not is_metric(k, v)]:
            problems.append(f"{where}metrics.{k} (not a number)")
            del metrics[k]
        fields["metrics"] = metrics
        if fields.get("runtime") is not None:
            runtime = dict(fields["runtime"])
            for k in [k for k in runtime if k.endswith("_ms") or k.startswith("predict_ms")]:
                if runtime[k] is not None and not is_number(runtime[k]):
                    problems.append(f"{where}runtime.{k} (not a number)")
                    del runtime[k]
            fields["runtime"] = runtime
        problems += _check_uncertainty(fields, where)
        return cls(**fields, extra=extra), problems


def _check_uncertainty(fields: dict, where: str) -> list[str]:
    """Intervals must be [lo, hi] numbers and deltas objects with a number delta; anything else
    is dropped (old files have neither, and render without them)."""
    problems = []
    intervals = dict(fields.get("intervals") or {})
    for k in [k for k, ci in intervals.items() if not is_pair(ci)]:
        problems.append(f"{where}intervals.{k} (not [lo, hi])")
        del intervals[k]
    deltas = {}
    for k, d in (fields.get("deltas") or {}).items():
        if not (isinstance(d, dict) and is_number(d.get("delta"))):
            problems.append(f"{where}deltas.{k} (not a delta)")
            continue
        d = dict(d)
        if not is_pair(d.get("ci")):
            d["ci"] = None
        if not isinstance(d.get("flips"), dict):
            d["flips"] = None
        if d.get("p_value") is not None and not is_number(d["p_value"]):
            d["p_value"] = None
        deltas[k] = d
    if "intervals" in fields:
        fields["intervals"] = intervals
    if "deltas" in fields:
        fields["deltas"] = deltas
    return problems
