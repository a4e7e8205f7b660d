"""The sections later commands store beside a results.json, each in its own file (parity, tune,
delivery; diagnose from its per-variant records): each declares the fields the report reads, with
their types; the rest is kept as given. results.write_section checks them before writing,
results.read_run joins them to the run, and `RunRecord.from_json` decodes them with it."""

from __future__ import annotations

from dataclasses import dataclass, field

from .fields import ABSENT, decode_fields, encode_fields


class Section:
    """A section record: typed declared fields plus `extra`, decoded and encoded as the run is."""

    extra: dict

    def to_json(self) -> dict:
        return encode_fields(self)

    @classmethod
    def from_json(cls, data: dict, where: str = ""):
        fields, extra, problems = decode_fields(cls, data, where)
        return cls(**fields, extra=extra), problems


@dataclass
class ParitySection(Section):
    """`quantlab parity`: every (actual, reference) pair's statistics and verdict."""

    passed: bool | None = ABSENT
    atol: float | None = ABSENT
    rtol: float | None = ABSENT
    n_examples: int | None = ABSENT
    n_failed: int | None = ABSENT
    reference: str | None = ABSENT
    reference_detail: str | None = ABSENT
    pairs: list | None = ABSENT
    runtimes: dict | None = ABSENT
    unavailable: dict | None = ABSENT
    localisation: str | None = ABSENT
    created: str | None = ABSENT
    extra: dict = field(default_factory=dict)


@dataclass
class TuneSection(Section):
    """`quantlab tune`: the search, the answer the held-out split verified, and its commands."""

    metric: str | None = ABSENT
    max_drop: float | None = ABSENT
    relative: bool | None = ABSENT
    conservative: bool | None = ABSENT
    points: list | None = ABSENT
    sensitivity: list | None = ABSENT
    chosen: dict | None = ABSENT
    best_found: dict | None = ABSENT
    verified: dict | None = ABSENT
    verified_drop: dict | None = ABSENT
    verified_within_budget: bool | None = ABSENT
    holdout: dict | None = ABSENT
    converter_command: list | None = ABSENT
    quantlab_command: list | None = ABSENT
    format: str | None = ABSENT
    created: str | None = ABSENT
    extra: dict = field(default_factory=dict)


@dataclass
class DeliverySection(Section):
    """`quantlab delivery`: bytes over the wire and times to the first prediction per profile."""

    sizes: dict | None = ABSENT
    profiles: dict | None = ABSENT
    variants: dict | None = ABSENT
    errors: dict | None = ABSENT
    conclusions: list | None = ABSENT
    conclusion: str | None = ABSENT
    runs: int | None = ABSENT
    backend: str | None = ABSENT
    created: str | None = ABSENT
    extra: dict = field(default_factory=dict)


@dataclass
class DiagnoseSection(Section):
    """`quantlab diagnose`: per diagnosed variant, where its error enters (the summary, and each
    node's accumulated and local SQNR along the depth)."""

    variants: dict | None = ABSENT
    extra: dict = field(default_factory=dict)


def diagnose_entry(record: dict) -> dict:
    """What the report shows of one diagnosed variant (the `diagnose` section's entry), from its
    record in OUT/<name>/diagnose/<variant>.json."""
    curve = []
    for row in record["nodes"]:
        if not row["compared"]:
            continue
        acc, local = row["accumulated"], row["local"] or {}
        curve.append(
            {
                "node": row["node"], "depth": row["depth"], "outputs": row["outputs"],
                "sqnr_db": acc["sqnr_db"], "identical": acc["identical"],
                "local_sqnr_db": local.get("sqnr_db"), "flags": row["range"]["flags"],
            }
        )  # fmt: skip
    return {
        "runtime": record["runtime"].get("runtime"), "n_examples": record["n_examples"],
        "created": record["created"], "summary": record["summary"], "curve": curve,
    }  # fmt: skip


SECTIONS = {
    "parity": ParitySection,
    "tune": TuneSection,
    "tune_equalized": TuneSection,
    "delivery": DeliverySection,
    "diagnose": DiagnoseSection,
}
