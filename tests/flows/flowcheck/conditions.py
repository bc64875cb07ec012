"""IAM condition operators, as AWS documents them (IAM User Guide: "Condition operators" and
"Conditions with multiple context keys or values").

- Operators in one Condition block are ANDed; keys under one operator are ANDed; the values of one
  key are ORed (NOR for negated operators).
- A key missing from the request context: false, except for negated operators (true), `...IfExists`
  (true), `Null` (tests presence) and `ForAllValues:` (true on a missing or empty key).
- `ForAnyValue:` is true when at least one request value matches; false on a missing key.
- A multi-valued context key under a plain operator matches when any of its values matches.
Policy variables (`${aws:username}`) are refused: no template uses them, and guessing would lie.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

ContextValue = str | bool | int | float | Sequence[str]
Context = Mapping[str, ContextValue]


class UnsupportedPolicy(ValueError):
    """A policy uses a feature this evaluator does not implement: fail loudly, never guess."""


def glob_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM wildcards: `*` any run of characters (slashes and colons included), `?` one character."""
    if "${" in pattern:
        raise UnsupportedPolicy(f"policy variable in {pattern!r} is not supported")
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL) is not None


def arn_like(pattern: str, value: str) -> bool:
    """ArnLike/ArnEquals: each of the six colon-delimited parts is matched on its own, wildcards allowed."""
    pattern_parts, value_parts = pattern.split(":", 5), value.split(":", 5)
    if len(pattern_parts) != 6 or len(value_parts) != 6:
        return False
    return all(glob_match(p, v) for p, v in zip(pattern_parts, value_parts, strict=False))


def _number(value: object) -> float | None:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _numeric(compare: Callable[[float, float], bool]) -> Callable[[str, str], bool]:
    def match(expected: str, actual: str) -> bool:
        e, a = _number(expected), _number(actual)
        return e is not None and a is not None and compare(a, e)
    return match


def _bool_equals(expected: str, actual: str) -> bool:
    return str(expected).lower() == str(actual).lower()


# name -> (matcher(expected, actual), negated)
_BASE_OPERATORS: dict[str, tuple[Callable[[str, str], bool], bool]] = {
    "StringEquals": (lambda e, a: e == a, False),
    "StringNotEquals": (lambda e, a: e == a, True),
    "StringEqualsIgnoreCase": (lambda e, a: e.lower() == a.lower(), False),
    "StringNotEqualsIgnoreCase": (lambda e, a: e.lower() == a.lower(), True),
    "StringLike": (glob_match, False),
    "StringNotLike": (glob_match, True),
    "ArnEquals": (arn_like, False),
    "ArnLike": (arn_like, False),
    "ArnNotEquals": (arn_like, True),
    "ArnNotLike": (arn_like, True),
    "Bool": (_bool_equals, False),
    "NumericEquals": (_numeric(lambda a, e: a == e), False),
    "NumericNotEquals": (_numeric(lambda a, e: a == e), True),
    "NumericLessThan": (_numeric(lambda a, e: a < e), False),
    "NumericLessThanEquals": (_numeric(lambda a, e: a <= e), False),
    "NumericGreaterThan": (_numeric(lambda a, e: a > e), False),
    "NumericGreaterThanEquals": (_numeric(lambda a, e: a >= e), False),
}


def _as_list(value: object) -> list[str]:
    if isinstance(value, (list, tuple)):
        return [_text(v) for v in value]
    return [_text(value)]


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _lookup(context: Context, key: str) -> list[str] | None:
    """Context keys are case-insensitive (IAM User Guide: condition key names are not case-sensitive)."""
    lowered = key.lower()
    for name, value in context.items():
        if name.lower() == lowered:
            return _as_list(value)
    return None


def _parse(operator: str) -> tuple[str | None, str, bool]:
    """'ForAnyValue:StringLikeIfExists' -> ('ForAnyValue', 'StringLike', if_exists=True)."""
    qualifier, _, name = operator.rpartition(":")
    if qualifier not in ("", "ForAnyValue", "ForAllValues"):
        raise UnsupportedPolicy(f"condition set operator {qualifier!r} is not supported")
    if_exists = name.endswith("IfExists") and name != "IfExists"
    base = name[: -len("IfExists")] if if_exists else name
    if base != "Null" and base not in _BASE_OPERATORS:
        raise UnsupportedPolicy(f"condition operator {operator!r} is not supported")
    return qualifier or None, base, if_exists


def _key_holds(operator: str, key: str, expected: list[str], context: Context) -> bool:
    qualifier, base, if_exists = _parse(operator)
    actual = _lookup(context, key)
    if base == "Null":
        # "true": the key must be absent; "false": it must be present (with a value).
        absent = actual is None or actual == []
        return any(_bool_equals(e, "true") == absent for e in expected)
    matcher, negated = _BASE_OPERATORS[base]
    if actual is None or (qualifier and actual == []):
        if qualifier == "ForAllValues" or if_exists:
            return True
        return negated and qualifier is None

    def value_matches(value: str) -> bool:
        hit = any(matcher(e, value) for e in expected)
        return not hit if negated else hit

    if qualifier == "ForAllValues":
        return all(value_matches(v) for v in actual)
    return any(value_matches(v) for v in actual)


def conditions_hold(block: Mapping[str, Mapping[str, object]] | None, context: Context) -> bool:
    """True when every operator and every key of a statement's Condition block holds."""
    if not block:
        return True
    return all(_key_holds(operator, key, _as_list(expected), context)
               for operator, keys in block.items() for key, expected in keys.items())
