"""Which options each field type takes, and the consistency checks of option values."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from forms.errors import FormDefinitionError
from forms.text import LocalizedText, localized
from forms.values import parse_date, parse_datetime, parse_decimal

_TEXT_OPTIONS = frozenset({"max_length", "min_length", "pattern"})
_NUMBER_OPTIONS = frozenset({"min", "max"})
_TEMPORAL_OPTIONS = frozenset({"min", "max", "not_future", "not_past"})

#: Type-specific options that each field type accepts.
TYPE_OPTIONS: Mapping[str, frozenset[str]] = {
    "string": _TEXT_OPTIONS,
    "text": _TEXT_OPTIONS,
    "int": _NUMBER_OPTIONS,
    "decimal": _NUMBER_OPTIONS | {"decimal_places"},
    "date": _TEMPORAL_OPTIONS,
    "datetime": _TEMPORAL_OPTIONS,
    "bool": frozenset(),
    "choice": frozenset({"choices"}),
    "multichoice": frozenset({"choices"}),
    "email": frozenset({"max_length"}),
    "phone": frozenset(),
    "tckn": frozenset(),
    "user": frozenset({"group"}),
    "unit": frozenset(),
    "file": frozenset(),
}
TYPE_SPECIFIC: tuple[str, ...] = (
    "choices",
    "max_length",
    "min_length",
    "min",
    "max",
    "decimal_places",
    "pattern",
    "not_future",
    "not_past",
    "group",
)
#: Options every field type accepts.
COMMON: frozenset[str] = frozenset(
    {"name", "type", "label", "required", "help", "placeholder", "description", "default", "when"}
)
ALL_OPTIONS: frozenset[str] = COMMON | frozenset(TYPE_SPECIFIC)

CHOICE_TYPES = frozenset({"choice", "multichoice"})
MAX_TEXT_LENGTH = 100_000
MAX_DECIMAL_PLACES = 10


def is_set(value: Any) -> bool:
    """Whether an option has a value other than "unset" (``None``, ``False``, empty)."""
    return value is not None and value is not False and value != () and value != []


def _error(message: str, field: str | None, path: str) -> FormDefinitionError:
    return FormDefinitionError(message, field=field, path=path)


def normalize_choices(field_type: str, raw: Any, *, field: str) -> tuple[tuple[str, LocalizedText], ...]:
    """``choices`` as ``((value, label), ...)`` from strings, pairs or ``{"value", "label"}`` dicts."""
    if field_type not in CHOICE_TYPES:
        return ()
    if not isinstance(raw, list | tuple) or not raw:
        raise _error("Seçenek listesi ('choices') boş olmayan bir liste olmalı.", field, "choices")
    result: list[tuple[str, LocalizedText]] = []
    for index, item in enumerate(raw):
        path = f"choices[{index}]"
        value, label = _choice_item(item, field=field, path=path)
        if not isinstance(value, str) or not value.strip() or value != value.strip():
            raise _error("Seçenek değeri boş olmayan, baş ve sonunda boşluk olmayan bir metin olmalı.", field, path)
        if value in (v for v, _ in result):
            raise _error(f"Seçenek değeri '{value}' birden fazla kez kullanılmış.", field, path)
        result.append((value, localized(label, what="Seçenek etiketi", field=field, path=path)))
    return tuple(result)


def _choice_item(item: Any, *, field: str, path: str) -> tuple[Any, Any]:
    if isinstance(item, str):
        return item, item
    if isinstance(item, tuple) and len(item) == 2:
        return item
    if isinstance(item, Mapping):
        unknown = sorted(str(k) for k in item if k not in ("value", "label") and not str(k).startswith("x-"))
        if unknown:
            raise _error(
                f"Seçenekte bilinmeyen anahtar: {', '.join(unknown)} (yalnız 'value' ve 'label').", field, path
            )
        if "value" not in item:
            raise _error("Seçenekte 'value' zorunludur.", field, path)
        return item["value"], item.get("label", item["value"])
    raise _error('Seçenek bir metin ya da {"value": ..., "label": ...} nesnesi olmalı.', field, path)


def _check_count(value: Any, *, minimum: int, field: str, path: str) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= MAX_TEXT_LENGTH:
        raise _error(f"{minimum} ile {MAX_TEXT_LENGTH} arasında bir tam sayı olmalı.", field, path)


def check_lengths(min_length: Any, max_length: Any, *, field: str) -> None:
    _check_count(min_length, minimum=0, field=field, path="min_length")
    _check_count(max_length, minimum=1, field=field, path="max_length")
    if min_length is not None and max_length is not None and min_length > max_length:
        raise _error(
            f"En az uzunluk ({min_length}) en fazla uzunluktan ({max_length}) büyük olamaz.", field, "min_length"
        )


def convert_bound(field_type: str, raw: Any, *, field: str, path: str) -> int | Decimal | date | datetime | None:
    """A ``min``/``max`` option as a value of the field's type (numbers, ISO dates)."""
    if raw is None:
        return None
    if isinstance(raw, bool):
        return _bad_bound(field_type, field, path)
    if field_type == "int":
        return raw if isinstance(raw, int) else _bad_bound(field_type, field, path)
    if field_type == "decimal":
        converted: Any = parse_decimal(raw)
    elif field_type == "date":
        converted = parse_date(raw)
    else:
        converted = parse_datetime(raw)
    return converted if converted is not None else _bad_bound(field_type, field, path)


def _bad_bound(field_type: str, field: str, path: str) -> Any:
    expected = {
        "int": "bir tam sayı",
        "decimal": "bir sayı",
        "date": "bir tarih (YYYY-AA-GG)",
        "datetime": "bir tarih ve saat (ISO 8601)",
    }[field_type]
    raise _error(f"'{path}' {expected} olmalı.", field, path)


def check_order(minimum: Any, maximum: Any, *, field: str) -> None:
    if minimum is not None and maximum is not None and minimum > maximum:
        raise _error(f"'min' ({minimum}) 'max' değerinden ({maximum}) büyük olamaz.", field, "min")


def check_decimal_places(places: Any, *, field: str) -> None:
    if places is None:
        return
    if isinstance(places, bool) or not isinstance(places, int) or not 0 <= places <= MAX_DECIMAL_PLACES:
        raise _error(f"0 ile {MAX_DECIMAL_PLACES} arasında bir tam sayı olmalı.", field, "decimal_places")


def freeze_default(value: Any, *, field: str) -> Any:
    """``default`` as a hashable value: scalars as they are, lists of scalars as tuples."""
    if isinstance(value, list | tuple):
        items = tuple(value)
        if all(isinstance(item, str | int) for item in items):
            return items
    elif value is None or isinstance(value, str | int | float | Decimal | date):
        return value
    raise _error("Varsayılan değer basit bir değer (metin, sayı, tarih) ya da metin listesi olmalı.", field, "default")


def check_pattern(pattern: Any, *, field: str) -> None:
    if pattern is None:
        return
    if not isinstance(pattern, str) or not pattern or len(pattern) > 500:
        raise _error("Desen ('pattern') en fazla 500 karakterlik bir metin olmalı.", field, "pattern")
    try:
        re.compile(pattern)
    except re.error as exc:
        raise _error(f"Geçersiz düzenli ifade: {exc}.", field, "pattern") from None
