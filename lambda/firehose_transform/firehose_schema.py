"""The event schema (event_schema.json) and the pure validation/normalisation of one event.

Standard library only. The schema file is the single definition of an event: this module
validates against it, the CDK app derives the Glue table columns from it, and the Glue jobs
read it to type the curated zone.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

SCHEMA_PATH = Path(__file__).resolve().parent / "event_schema.json"

# Hive `int` is 32-bit; a bigger value would fail Parquet conversion later, so fail it here.
_INT_RANGE = {"int": (-(2**31), 2**31 - 1), "bigint": (-(2**63), 2**63 - 1)}
_INT_STRING = re.compile(r"^[+-]?\d{1,19}$")


class RecordError(ValueError):
    """Why one record cannot be transformed: a stable `code`, the `field` (or None), a message.

    Messages name the constraint, never the offending value: they go to logs.
    """

    def __init__(self, code: str, field: str | None, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.field = field
        self.message = message


@dataclass(frozen=True)
class FieldSpec:
    """One schema field with its constraints (see event_schema.json)."""

    name: str
    type: str
    required: bool
    min: Any = None
    max: Any = None
    allowed: tuple | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: re.Pattern | None = None
    case: str | None = None


@dataclass(frozen=True)
class Schema:
    """The parsed schema: ordered fields and the drop rules (field, value) pairs."""

    name: str
    fields: tuple[FieldSpec, ...]
    drop_rules: tuple[tuple[str, Any], ...]


def load_schema(path: Path | str = SCHEMA_PATH) -> Schema:
    """Read and parse the schema file; fails loudly on an unknown type."""
    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    fields = []
    for f in raw["fields"]:
        if f["type"] not in ("string", "int", "bigint", "double", "boolean", "timestamp"):
            raise ValueError(f"{path}: field {f['name']}: unsupported type {f['type']}")
        lo, hi = f.get("min"), f.get("max")
        if f["type"] == "timestamp":
            lo, hi = (_parse_timestamp(v, f["name"]) if v else None for v in (lo, hi))
        fields.append(FieldSpec(
            name=f["name"], type=f["type"], required=bool(f["required"]), min=lo, max=hi,
            allowed=tuple(f["allowed"]) if "allowed" in f else None,
            min_length=f.get("min_length"), max_length=f.get("max_length"),
            pattern=re.compile(f["pattern"]) if "pattern" in f else None, case=f.get("case"),
        ))
    rules = tuple((r["field"], r["equals"]) for r in raw.get("drop_when", {}).get("any", []))
    return Schema(name=raw["name"], fields=tuple(fields), drop_rules=rules)


def matches_drop_rule(event: dict, schema: Schema) -> bool:
    """True when the event matches a `drop_when` rule (exact value and JSON type)."""
    for field, value in schema.drop_rules:
        got = event.get(field)
        # `type(...) is` keeps True from matching 1 and "true" from matching True.
        if got is not None and type(got) is type(value) and got == value:
            return True
        if isinstance(got, str) and isinstance(value, str) and got.strip().lower() == value:
            return True
    return False


def normalise(event: dict, schema: Schema) -> dict:
    """Validate `event` and return the normalised object (schema fields only, nulls omitted).

    Raises RecordError on the first violation. Unknown keys are left out of the output: the
    Glue table has only the schema's columns. Missing optional fields are omitted rather than
    written as null, which keeps the output no bigger than needed (the OpenX SerDe reads a
    missing key as null).
    """
    out: dict[str, Any] = {}
    for spec in schema.fields:
        value = event.get(spec.name)
        if isinstance(value, str):
            value = value.strip()
            if value == "":
                value = None
        if value is None:
            if spec.required:
                raise RecordError("missing_required", spec.name, f"{spec.name} is required")
            continue
        out[spec.name] = _check(spec, _coerce(spec, value))
    return out


def format_timestamp(dt: datetime) -> str:
    """UTC, millisecond precision, `Z` suffix: a form the OpenX JSON SerDe parses."""
    dt = dt.astimezone(timezone.utc)
    return f"{dt:%Y-%m-%dT%H:%M:%S}.{dt.microsecond // 1000:03d}Z"


def _coerce(spec: FieldSpec, value: Any) -> Any:
    kind = spec.type
    if kind == "string":
        if not isinstance(value, str):
            raise RecordError("wrong_type", spec.name, f"{spec.name} must be a string")
        if spec.case == "lower":
            return value.lower()
        return value.upper() if spec.case == "upper" else value
    if kind in ("int", "bigint"):
        return _coerce_int(spec, value)
    if kind == "double":
        return _coerce_double(spec, value)
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise RecordError("wrong_type", spec.name, f"{spec.name} must be a boolean")
    return _parse_timestamp(value, spec.name)  # timestamp


def _coerce_int(spec: FieldSpec, value: Any) -> int:
    # Only lossless coercions: 3, 3.0 and "3" become 3; 3.5, "3.5", true do not.
    if isinstance(value, bool):
        raise RecordError("wrong_type", spec.name, f"{spec.name} must be an integer")
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    elif isinstance(value, str) and _INT_STRING.match(value):
        value = int(value)
    if not isinstance(value, int):
        raise RecordError("wrong_type", spec.name, f"{spec.name} must be an integer")
    lo, hi = _INT_RANGE[spec.type]
    if not lo <= value <= hi:
        raise RecordError("out_of_range", spec.name, f"{spec.name} overflows {spec.type}")
    return value


def _coerce_double(spec: FieldSpec, value: Any) -> float:
    if isinstance(value, bool):
        raise RecordError("wrong_type", spec.name, f"{spec.name} must be a number")
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise RecordError("wrong_type", spec.name, f"{spec.name} must be a number") from None
    if not isinstance(value, (int, float)):
        raise RecordError("wrong_type", spec.name, f"{spec.name} must be a number")
    value = float(value)
    if not math.isfinite(value):
        raise RecordError("out_of_range", spec.name, f"{spec.name} must be finite")
    return value


def _parse_timestamp(value: Any, name: str) -> datetime:
    if not isinstance(value, str):
        raise RecordError("wrong_type", name, f"{name} must be an ISO-8601 string")
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise RecordError("invalid_timestamp", name, f"{name} is not ISO-8601") from None
    if dt.tzinfo is None:
        # A naive time is ambiguous (producer's local time?); guessing would shift dates.
        raise RecordError("invalid_timestamp", name, f"{name} needs a UTC offset or Z")
    return dt.astimezone(timezone.utc)


def _check(spec: FieldSpec, value: Any) -> Any:
    name = spec.name
    if spec.allowed is not None and value not in spec.allowed:
        raise RecordError("not_allowed", name, f"{name} must be one of {list(spec.allowed)}")
    if isinstance(value, str):
        if spec.max_length is not None and len(value) > spec.max_length:
            raise RecordError("too_long", name, f"{name} longer than {spec.max_length}")
        if spec.min_length is not None and len(value) < spec.min_length:
            raise RecordError("too_short", name, f"{name} shorter than {spec.min_length}")
        if spec.pattern is not None and not spec.pattern.match(value):
            raise RecordError("pattern_mismatch", name, f"{name} must match {spec.pattern.pattern}")
        return value
    if spec.min is not None and value < spec.min:
        raise RecordError("out_of_range", name, f"{name} below minimum {spec.min}")
    if spec.max is not None and value > spec.max:
        raise RecordError("out_of_range", name, f"{name} above maximum {spec.max}")
    return format_timestamp(value) if isinstance(value, datetime) else value
