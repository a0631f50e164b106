"""Valid example values for a form: what the form designer's preview pre-fills and what tests
use to drive every flow through its forms without hand-written data.

``variant`` walks through the alternatives (which choice, which boolean, optional fields filled or
not), so repeated calls can
explore different paths of a process and leave loops that the first choice would repeat.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from re import _parser as sre_parse  # type: ignore[attr-defined]  # the stdlib's own pattern parser
from typing import Any

from marshmallow import ValidationError

from forms.definition import FieldDefinition, FormDefinition
from forms.fields import reference_now, reference_today
from forms.values import ISTANBUL

FIXED = {"email": "ornek@example.com", "phone": "+905321234567", "tckn": "10000000146"}


References = Callable[[FieldDefinition, dict[str, Any]], Sequence[str]]


def sample_values(
    definition: FormDefinition, *, variant: int = 0, now: datetime | None = None, references: References | None = None
) -> dict[str, Any]:
    """JSON-ready values that pass the fields' own rules (``file`` fields are left to the caller).

    Optional fields are filled when a valid value can be made; fields whose ``when`` does not hold
    are left out. ``references(field, values_so_far)`` lists the valid values of a ``user`` or
    ``unit`` field (the form alone cannot know them). Form-level ``checks`` may still refuse the
    result: try another ``variant``."""
    from forms.validation import make_field

    now = (now or datetime.now(ISTANBUL)).astimezone(ISTANBUL)
    values: dict[str, Any] = {}
    today_token, now_token = reference_today.set(now.date()), reference_now.set(now)
    try:
        for field in definition.fields:
            if field.type == "file" or (field.when is not None and not field.when.holds(values)):
                continue
            if not field.required and (variant // 2) % 2:
                continue  # every other pair of variants leaves optional fields empty
            compiled = make_field(field)
            options = _candidates(field, variant, now)
            if field.type in ("user", "unit"):
                known = list(references(field, values)) if references else []
                options = [known[variant % len(known)]] if known else []
            for candidate in options:
                try:
                    clean = compiled.deserialize(candidate)
                except ValidationError:
                    continue
                if clean is not None:
                    values[field.name] = _plain(clean)
                    break
    finally:
        reference_today.reset(today_token)
        reference_now.reset(now_token)
    return values


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _candidates(field: FieldDefinition, variant: int, now: datetime) -> list[Any]:
    kind = field.type
    if kind in FIXED:
        return [field.default, FIXED[kind]]
    if kind == "bool":
        return [variant % 2 == 0]
    if kind in ("choice", "multichoice"):
        values = field.choice_values
        if kind == "multichoice":  # offset, so it differs from a single choice over the same list
            return [[values[(variant + 1) % len(values)]]]
        return [values[variant % len(values)]]
    if kind == "int":
        return [field.default, *_bounded(field, 1)]
    if kind == "decimal":
        return [field.default, *(str(v) for v in _bounded(field, Decimal("1.00")))]
    if kind == "date":
        return [field.default, *_bounded(field, now.date())]
    if kind == "datetime":
        later = (now + timedelta(days=2)).replace(microsecond=0)
        earlier = (now - timedelta(hours=1)).replace(microsecond=0)
        preferred = earlier if field.not_future else later
        return [field.default, *_bounded(field, preferred), now.replace(microsecond=0)]
    return [field.default, *_texts(field)]


def _bounded(field: FieldDefinition, preferred: Any) -> list[Any]:
    """``preferred`` moved inside ``min``/``max``, then the bounds themselves."""
    value = preferred
    if field.min is not None and value < field.min:
        value = field.min
    if field.max is not None and value > field.max:
        value = field.max
    return [v for v in (value, field.min, field.max) if v is not None]


def _texts(field: FieldDefinition) -> list[str]:
    label = str(field.label) if field.label else field.name
    base = f"Örnek {label}".replace("\n", " ")
    if field.type == "text":
        base = f"{base}: bu metin otomatik olarak doldurulmuş, geçerli bir örnek açıklamadır."
    longest = field.max_length or 250
    shortest = field.min_length or 0
    if len(base) < shortest:
        base = (base + " ") * (shortest // max(len(base), 1) + 1)
    candidates = [base[:longest].strip() or "x"]
    if field.placeholder:
        candidates.insert(0, str(field.placeholder))
    if field.pattern:
        candidates.insert(0, from_pattern(field.pattern))
    return candidates


def from_pattern(pattern: str) -> str:
    """A short string matching ``pattern`` (literals, classes, repeats, groups, alternatives)."""
    try:
        return _emit(sre_parse.parse(pattern))
    except Exception:  # an unusual pattern just yields no candidate of its own
        return ""


_CATEGORY = {"CATEGORY_DIGIT": "1", "CATEGORY_WORD": "a", "CATEGORY_SPACE": " ", "CATEGORY_NOT_DIGIT": "a"}


def _emit(parsed: Any) -> str:
    out: list[str] = []
    for op, arg in parsed:
        name = str(op)
        if name == "LITERAL":
            out.append(chr(arg))
        elif name == "ANY":
            out.append("a")
        elif name == "IN":
            out.append(_first_in(arg))
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, _high, item = arg
            out.append(_emit(item) * low)
        elif name == "SUBPATTERN":
            out.append(_emit(arg[-1]))
        elif name == "BRANCH":
            out.append(_emit(arg[1][0]))
        elif name in ("AT", "ASSERT", "ASSERT_NOT"):
            continue
        else:
            raise ValueError(name)
    return "".join(out)


def _first_in(items: Any) -> str:
    for op, arg in items:
        name = str(op)
        if name == "LITERAL":
            return chr(arg)
        if name == "RANGE":
            return chr(arg[0])
        if name == "CATEGORY":
            return _CATEGORY.get(str(arg), "a")
        if name == "NEGATE":
            excluded = {chr(a) for o, a in items if str(o) == "LITERAL"}
            return next(c for c in "ab1x" if c not in excluded)
    return "a"
