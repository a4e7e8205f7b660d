"""Reading a record back field by field: every declared field is checked against its declared type,
and one with the wrong type is dropped and named, so a page renders the rest of a hand-edited or
old file instead of failing on it."""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any


class _Absent:
    """A field the record was not given (left out of the JSON), apart from one given as null."""

    def __repr__(self) -> str:
        return "ABSENT"

    def __bool__(self) -> bool:
        return False


ABSENT: Any = _Absent()


def is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def is_metric(key: str, value) -> bool:
    """A finite number; or an SQNR of +inf: outputs identical to the reference (float32 itself)."""
    return is_number(value) or (key.endswith("sqnr_db") and value == math.inf)


def is_pair(value) -> bool:
    return isinstance(value, list | tuple) and len(value) == 2 and all(is_number(x) for x in value)


_WORDS = {str: "text", dict: "an object", list: "a list", float: "a number", int: "a number", bool: "bool"}


def _plain(tp) -> type | None:
    """The runtime type a field's annotation asks for (str | None -> str, dict[str, float] -> dict)."""
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _plain(args[0]) if len(args) == 1 else None
    origin = typing.get_origin(tp)
    if origin is not None:
        return origin
    return tp if isinstance(tp, type) else None


def _fits(value, want: type) -> bool:
    if want is float or want is int:
        return is_number(value)
    return isinstance(value, want)


def decode_fields(cls, data: dict, where: str = "") -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """`data`'s values for `cls`' declared fields (a wrong type dropped and named), and the keys
    `cls` does not declare (kept as they are). Returns (fields, extra, problems)."""
    hints = typing.get_type_hints(cls)
    declared = [f.name for f in dataclasses.fields(cls) if f.name != "extra"]
    fields, problems = {}, []
    for name in declared:
        if name not in data:
            continue
        if data[name] is None:  # null is kept as null (a section that found nothing, say)
            fields[name] = None
            continue
        want = _plain(hints[name])
        if want is not None and not _fits(data[name], want):
            problems.append(f"{where}{name} (not {_WORDS.get(want, want.__name__)})")
            continue
        fields[name] = data[name]
    extra = {k: v for k, v in data.items() if k not in declared}
    return fields, extra, problems


def encode_fields(record) -> dict:
    """A record as JSON-ready data: its fields in declaration order (those never given left out),
    then the undeclared keys it was given; nested records encoded the same way."""
    out = {}
    for f in dataclasses.fields(record):
        if f.name == "extra":
            continue
        value = getattr(record, f.name)
        if value is ABSENT:
            continue
        if isinstance(value, list):
            value = [v.to_json() if hasattr(v, "to_json") else v for v in value]
        out[f.name] = value
    return {**out, **record.extra}


# Problems that mean a producer wrote the wrong type (a bug), not a measurement: a NaN figure is
# reported "(not a number)" on reading, and is written all the same.
TYPE_PROBLEMS = ("(not text)", "(not an object)", "(not a list)", "(not bool)")


def refuse_wrong_types(problems: list[str], what: str) -> None:
    """Before a record is written, with the problems its reading class found in it: refuse a field
    of the wrong type (QuantlabError naming `what` and the fields); NaN figures pass."""
    from ..errors import QuantlabError

    wrong = [p for p in problems if p.endswith(TYPE_PROBLEMS)]
    if wrong:
        raise QuantlabError(f"{what}: fields of the wrong type ({', '.join(wrong)})")
