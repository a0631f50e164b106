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
GROUP = re.compile(r"\$?[a-z][a-z0-9_]{0,99}(/yonetici)?")
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


CONDITION_OPERATORS = ("equals", "in", "not_in")


@dataclasses.dataclass(frozen=True)
class Condition:
    """When a field applies: ``{"field": "sonuc", "in": ["olumsuz", "kismen_olumlu"]}`` (also
    ``equals`` and ``not_in``) on the clean value of an earlier field. A field that does not apply
    is neither required nor kept; when it applies, its ``required`` holds."""

    field: str
    operator: str
    values: tuple[Any, ...]

    @classmethod
    def parse(cls, raw: Any, *, field: str) -> Condition:
        if isinstance(raw, Condition):
            return raw
        if not isinstance(raw, Mapping) or not isinstance(raw.get("field"), str):
            raise FormDefinitionError(
                'Koşul (\'when\') {"field": ..., "equals" | "in" | "not_in": ...} biçiminde olmalı.',
                field=field,
                path="when",
            )
        operators = [key for key in raw if key in CONDITION_OPERATORS]
        unknown = [str(key) for key in raw if key != "field" and key not in CONDITION_OPERATORS]
        if len(operators) != 1 or unknown:
            raise FormDefinitionError(
                "Koşulda tam olarak bir işleç olmalı: equals, in ya da not_in.", field=field, path="when"
            )
        operator = operators[0]
        value = raw[operator]
        if operator == "equals":
            values: tuple[Any, ...] = (value,)
        elif isinstance(value, list | tuple) and value:
            values = tuple(value)
        else:
            raise FormDefinitionError(f"'{operator}' boş olmayan bir liste olmalı.", field=field, path="when")
        if not all(isinstance(v, str | int | bool) for v in values):
            raise FormDefinitionError("Koşul değerleri metin, sayı ya da true/false olmalı.", field=field, path="when")
        return cls(raw["field"], operator, values)

    def holds(self, data: Mapping[str, Any]) -> bool:
        """Whether the condition holds on clean ``data`` (a list value matches if any item does)."""
        value = data.get(self.field)
        items = value if isinstance(value, list | tuple) else [value]
        matched = any(item in self.values and item is not None for item in items)
        return not matched if self.operator == "not_in" else matched

    def to_dict(self) -> dict[str, Any]:
        return {"field": self.field, self.operator: self.values[0] if self.operator == "equals" else list(self.values)}


@dataclasses.dataclass(frozen=True)
class Check:
    """A rule across fields: ``expression`` (a sandboxed Python expression over the case data and the
    submitted values) must be true, else ``message`` is shown on ``field`` (or on the whole form)."""

    expression: str
    message: Any
    field: str | None = None

    @classmethod
    def parse(cls, raw: Any, index: int) -> Check:
        path = f"checks[{index}]"
        if isinstance(raw, Check):
            return raw
        if not isinstance(raw, Mapping):
            raise FormDefinitionError("Kontrol bir nesne olmalı.", path=path)
        unknown = sorted(str(k) for k in raw if k not in ("expression", "message", "field"))
        if unknown:
            raise FormDefinitionError(f"Kontrolde bilinmeyen anahtar: {', '.join(unknown)}.", path=path)
        expression = raw.get("expression")
        if not isinstance(expression, str) or not expression.strip() or len(expression) > 2000:
            raise FormDefinitionError("'expression' boş olmayan bir metin olmalı.", path=f"{path}.expression")
        if raw.get("field") is not None and not isinstance(raw.get("field"), str):
            raise FormDefinitionError("'field' bir alan adı olmalı.", path=f"{path}.field")
        message = localized(raw.get("message"), what="Kontrol mesajı", path=f"{path}.message")
        return cls(expression.strip(), message, raw.get("field"))


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
    when: Condition | None = None
    # For ``user`` fields: the group the chosen user must be in; a leading "$" names the case
    # variable that holds the group code, so "$hedef_birim" means the directorate the case went to.
    group: str | None = None
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
        if self.when is not None:
            self._set("when", Condition.parse(self.when, field=self.name))
        if self.group is not None and (not isinstance(self.group, str) or not GROUP.fullmatch(self.group)):
            raise self._error("'group' bir grup kodu ya da $değişken olmalı.", "group")
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
            "when": self.when.to_dict() if self.when else None,
            "group": self.group,
            **json_safe(self.extensions),
        }


@dataclasses.dataclass(frozen=True)
class FormDefinition:
    """A form: a key (the BPMN ``formKey``), a title and ordered fields."""

    key: str
    title: str
    fields: tuple[FieldDefinition, ...]
    description: str | None = None
    checks: tuple[Check, ...] = ()
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
            if field.when is not None and field.when.field not in seen:
                raise FormDefinitionError(
                    f"Koşuldaki alan '{field.when.field}' bu alandan önce tanımlanmış olmalı.",
                    field=field.name,
                    path=f"fields[{index}].when",
                )
            seen[field.name] = index
        checks = tuple(Check.parse(raw, index) for index, raw in enumerate(self.checks or ()))
        for index, check in enumerate(checks):
            if check.field is not None and check.field not in seen:
                raise FormDefinitionError(
                    f"Kontroldeki alan '{check.field}' formda yok.", path=f"checks[{index}].field"
                )
        object.__setattr__(self, "checks", checks)
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
            "checks": [{"field": c.field, "message": render(c.message, language)} for c in self.checks],
            **json_safe(self.extensions),
        }
