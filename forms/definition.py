"""Form definitions: immutable, hashable descriptions of a form and its fields.

:class:`FieldDefinition` and :class:`FormDefinition` check their own consistency when
built, whether from a ``*.form.json`` document (:func:`forms.parsing.parse_definition`)
or directly in Python, so every definition in circulation is valid.
"""

from __future__ import annotations

import dataclasses
import keyword
import re
from collections.abc import Iterator, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from forms import options
from forms.errors import FormDefinitionError
from forms.text import localized, render
from forms.values import json_safe

FIELD_TYPES: frozenset[str] = frozenset(options.TYPE_OPTIONS)

FIELD_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
FORM_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}")
RESERVED_NAMES = frozenset({"typename"})

Bound = int | Decimal | date | datetime


class Extensions(Mapping[str, Any]):
    """Read-only ``x-`` vendor extensions of a form or field (picklable, unlike a mappingproxy)."""

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[str, Any] | None = None) -> None:
        self._items = dict(items or {})

    def __getitem__(self, key: str) -> Any:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Extensions({self._items!r})"


def _freeze_extensions(raw: Any, *, field: str | None) -> Extensions:
    if not isinstance(raw, Mapping):
        raise FormDefinitionError("Uzantılar bir sözlük olmalı.", field=field, path="extensions")
    for key in raw:
        if not isinstance(key, str) or not key.startswith("x-"):
            raise FormDefinitionError(f"Uzantı anahtarları 'x-' ile başlamalı: '{key}'.", field=field, path=str(key))
    return raw if isinstance(raw, Extensions) else Extensions(raw)


@dataclasses.dataclass(frozen=True)
class FieldDefinition:
    """One input of a form. Options that do not apply to ``type`` must stay unset."""

    name: str
    type: str
    label: str
    required: bool = False
    choices: tuple[tuple[str, str], ...] = ()
    max_length: int | None = None
    min: Bound | None = None
    max: Bound | None = None
    help: str | None = None
    default: Any = None
    min_length: int | None = None
    decimal_places: int | None = None
    pattern: str | None = None
    not_future: bool = False
    not_past: bool = False
    placeholder: str | None = None
    description: str | None = None
    extensions: Mapping[str, Any] = dataclasses.field(default_factory=Extensions, compare=False, hash=False)

    def __post_init__(self) -> None:
        self._check_name()
        if not isinstance(self.type, str) or self.type not in FIELD_TYPES:
            raise self._error(
                f"Bilinmeyen alan türü '{self.type}'. Geçerli türler: {', '.join(sorted(FIELD_TYPES))}.",
                "type",
            )
        self._set("label", localized(self.label, what="Etiket", field=self.name, path="label"))
        for attr, what in (("help", "Yardım metni"), ("placeholder", "Örnek metin"), ("description", "Açıklama")):
            value = getattr(self, attr)
            if value is not None:
                self._set(attr, localized(value, what=what, field=self.name, path=attr))
        for attr in ("required", "not_future", "not_past"):
            if not isinstance(getattr(self, attr), bool):
                raise self._error("true ya da false olmalı.", attr)
        self._check_applicable()
        self._set("choices", options.normalize_choices(self.type, self.choices, field=self.name))
        options.check_lengths(self.min_length, self.max_length, field=self.name)
        self._set("min", options.convert_bound(self.type, self.min, field=self.name, path="min"))
        self._set("max", options.convert_bound(self.type, self.max, field=self.name, path="max"))
        options.check_order(self.min, self.max, field=self.name)
        options.check_decimal_places(self.decimal_places, field=self.name)
        options.check_pattern(self.pattern, field=self.name)
        self._set("default", options.freeze_default(self.default, field=self.name))
        self._set("extensions", _freeze_extensions(self.extensions, field=self.name))

    def _set(self, attr: str, value: Any) -> None:
        object.__setattr__(self, attr, value)

    def _error(self, message: str, path: str) -> FormDefinitionError:
        return FormDefinitionError(message, field=self.name, path=path)

    def _check_name(self) -> None:
        name = self.name
        if not isinstance(name, str) or not FIELD_NAME.fullmatch(name):
            raise FormDefinitionError(
                f"Geçersiz alan adı '{name}': bir harfle başlamalı, yalnız İngilizce harf, rakam ve '_' "
                "içermeli, en fazla 64 karakter olmalı.",
                field=name if isinstance(name, str) else None,
                path="name",
            )
        if keyword.iskeyword(name) or name in RESERVED_NAMES:
            raise self._error(f"'{name}' ayrılmış bir addır, alan adı olarak kullanılamaz.", "name")

    def _check_applicable(self) -> None:
        allowed = options.TYPE_OPTIONS[self.type]
        for option in options.TYPE_SPECIFIC:
            if option not in allowed and options.is_set(getattr(self, option)):
                raise self._error(f"'{option}' seçeneği '{self.type}' türündeki alanlarda kullanılamaz.", option)
        if self.default is not None and self.type == "file":
            raise self._error("Dosya alanlarının varsayılan değeri olamaz.", "default")

    @property
    def choice_values(self) -> tuple[str, ...]:
        """The values of ``choices``, in order."""
        return tuple(value for value, _label in self.choices)

    def to_dict(self, language: str | None = None) -> dict[str, Any]:
        """A JSON-safe description for renderers; texts in ``language`` (default: the active one)."""
        return {
            "name": self.name,
            "type": self.type,
            "label": render(self.label, language),
            "required": self.required,
            "choices": [{"value": value, "label": render(label, language)} for value, label in self.choices],
            "max_length": self.max_length,
            "min_length": self.min_length,
            "min": json_safe(self.min),
            "max": json_safe(self.max),
            "decimal_places": self.decimal_places,
            "pattern": self.pattern,
            "not_future": self.not_future,
            "not_past": self.not_past,
            "help": render(self.help, language),
            "placeholder": render(self.placeholder, language),
            "description": render(self.description, language),
            "default": json_safe(self.default),
            **json_safe(self.extensions),
        }


@dataclasses.dataclass(frozen=True)
class FormDefinition:
    """A form: a key (the BPMN ``formKey``), a title and ordered fields."""

    key: str
    title: str
    fields: tuple[FieldDefinition, ...]
    description: str | None = None
    extensions: Mapping[str, Any] = dataclasses.field(default_factory=Extensions, compare=False, hash=False)

    def __post_init__(self) -> None:
        if not isinstance(self.key, str) or not FORM_KEY.fullmatch(self.key):
            raise FormDefinitionError(
                f"Geçersiz form anahtarı '{self.key}': harf ya da rakamla başlamalı; yalnız İngilizce harf, "
                "rakam, '_', '.', '-' içermeli; en fazla 100 karakter olmalı.",
                path="key",
            )
        object.__setattr__(self, "title", localized(self.title, what="Başlık", path="title"))
        if self.description is not None:
            object.__setattr__(self, "description", localized(self.description, what="Açıklama", path="description"))
        object.__setattr__(self, "fields", tuple(self.fields))
        seen: dict[str, int] = {}
        for index, field in enumerate(self.fields):
            if not isinstance(field, FieldDefinition):
                raise FormDefinitionError("Bir FieldDefinition olmalı.", path=f"fields[{index}]")
            if field.name in seen:
                raise FormDefinitionError(
                    f"Alan adı '{field.name}' birden fazla kez kullanılmış (ilki: fields[{seen[field.name]}]).",
                    field=field.name,
                    path=f"fields[{index}].name",
                )
            seen[field.name] = index
        object.__setattr__(self, "extensions", _freeze_extensions(self.extensions, field=None))

    def field(self, name: str) -> FieldDefinition | None:
        """The field called ``name``, if any."""
        return next((f for f in self.fields if f.name == name), None)

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def to_dict(self, language: str | None = None) -> dict[str, Any]:
        """A JSON-safe description for renderers; texts in ``language`` (default: the active one)."""
        return {
            "key": self.key,
            "title": render(self.title, language),
            "description": render(self.description, language),
            "fields": [f.to_dict(language) for f in self.fields],
            **json_safe(self.extensions),
        }
