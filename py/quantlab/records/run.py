"""One results.json: a demo's or a user's model's run, its variant rows and the sections later
commands store beside it (parity, tune, delivery, diagnose; joined by results.read_run). Built by
the producers (analysis/analyze_record.py, demos/pipeline.py, demos/mobilenet/evaluate.py), written
by results.write_results, and read back by the report through `from_json`: the field list lives
here only."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from .fields import ABSENT, decode_fields, encode_fields, is_number
from .sections import SECTIONS
from .variant import VariantRow

REQUIRED = ("demo", "variants", "dataset", "environment", "config", "seed")


def _section() -> dataclasses.Field:
    """A section a page can do without: when it will not render (a hand-edited tune block, say),
    the page is rendered without it and names it instead of failing."""
    return field(default=ABSENT, metadata={"optional": True})


@dataclass
class RunRecord:
    demo: str  # the name: a demo's, or MODELS/NAME/ and OUT/NAME/ of a user's model
    variants: list[VariantRow] = field(default_factory=list)
    kind: str | None = ABSENT  # "demo" | "model"
    title: str | None = ABSENT
    task: str | None = ABSENT
    primary_metric: str | None = ABSENT
    note: str | None = ABSENT
    created: str | None = ABSENT
    mode: str | None = _section()
    mode_reason: str | None = ABSENT
    preprocessing: str | None = ABSENT
    sibling: str | None = ABSENT  # the same weights in the other tfjs format (MobileNetV2)
    model_format: str | None = ABSENT
    dataset: dict | None = _section()
    environment: dict | None = _section()
    config: dict | None = _section()
    training: dict | None = _section()
    seed: dict | None = _section()  # the seed example's published figures, per variant
    weight_error: dict | None = _section()
    keras_reference: dict | None = _section()
    memory: dict | None = _section()
    scoring: dict | None = _section()
    equalization: dict | None = _section()
    parity: dict | None = _section()
    tune: dict | None = _section()
    tune_equalized: dict | None = _section()
    delivery: dict | None = _section()
    diagnose: dict | None = _section()
    extra: dict = field(default_factory=dict)  # a user model's source, inputs, outputs, ...

    def to_json(self) -> dict:
        return encode_fields(self)

    @classmethod
    def optional_sections(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls) if f.metadata.get("optional"))

    @classmethod
    def from_json(cls, data: dict, name: str) -> tuple[RunRecord, list[str]]:
        """A results object read back (`name`: its folder, the name when it has none): every field
        of the wrong type dropped and named, and the required ones that are missing."""
        problems = [k for k in REQUIRED if k not in data]
        fields, extra, bad = decode_fields(cls, data)
        problems += bad
        seed = dict(fields.get("seed") or {})
        for key in [k for k, v in seed.items() if v is not None and not is_number(v)]:
            problems.append(f"seed.{key} (not a number)")
            del seed[key]
        if "seed" in fields:
            fields["seed"] = seed
        rows = []  # a "variants" that is not a list was named by decode_fields
        for i, v in enumerate(fields.get("variants") or []):
            row, bad = VariantRow.from_json(v, i, fields.get("primary_metric"))
            problems += bad
            if row is not None:
                rows.append(row)
        fields["variants"] = rows
        for key, section in SECTIONS.items():  # each section decoded by its own class
            if isinstance(fields.get(key), dict):
                decoded, bad = section.from_json(fields[key], f"{key}.")
                fields[key] = decoded.to_json()
                problems += bad
        fields.setdefault("demo", name)
        return cls(**fields, extra=extra), problems
