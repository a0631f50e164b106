"""Reading ``*.form.json`` documents into :class:`~forms.definition.FormDefinition` objects.

The document is checked strictly: duplicate or unknown keys (except ``x-`` vendor
extensions) are errors, with a "did you mean" hint for typos; ``null`` stands for an
absent optional key. Every error names the source, the path in the document and the field.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from forms import options
from forms.definition import FieldDefinition, FormDefinition
from forms.errors import FormDefinitionError
from forms.validation import make_field

FORM_KEYS = frozenset({"key", "title", "fields", "description", "checks", "$schema"})
REQUIRED_FORM_KEYS = ("key", "title", "fields")
REQUIRED_FIELD_KEYS = ("name", "type", "label")


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise FormDefinitionError(f"'{key}' anahtarı aynı nesnede iki kez geçiyor.", path=key)
        result[key] = value
    return result


def _reject_constant(name: str) -> Any:
    raise FormDefinitionError(f"JSON'da {name} kullanılamaz.")


def _load_json(raw: object) -> Any:
    if not isinstance(raw, str | bytes):
        raise FormDefinitionError("Form tanımı bir JSON nesnesi olmalı.")
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise FormDefinitionError(f"Dosya UTF-8 değil (bayt {exc.start}).") from None
    try:
        return json.loads(
            raw.removeprefix("\ufeff"), object_pairs_hook=_reject_duplicate_keys, parse_constant=_reject_constant
        )
    except json.JSONDecodeError as exc:
        raise FormDefinitionError(f"Geçersiz JSON: {exc.msg} (satır {exc.lineno}, sütun {exc.colno}).") from None


def _check_keys(
    document: Mapping[Any, Any], allowed: frozenset[str], *, what: str, field: str | None, prefix: str
) -> None:
    for key in document:
        if isinstance(key, str) and (key in allowed or key.startswith("x-")):
            continue
        hint = difflib.get_close_matches(str(key), sorted(allowed), n=1)
        suggestion = f" Bunu mu demek istediniz: '{hint[0]}'?" if hint else ""
        raise FormDefinitionError(
            f"Bilinmeyen {what} anahtarı '{key}'.{suggestion} (Uzantılar 'x-' ile başlamalı.)",
            field=field,
            path=f"{prefix}{key}",
        )


def _present(document: Mapping[str, Any], key: str) -> bool:
    return document.get(key) is not None


def _split(document: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Known keys with a value, and ``x-`` extensions."""
    known = {k: v for k, v in document.items() if not k.startswith("x-") and v is not None}
    return known, {k: v for k, v in document.items() if k.startswith("x-")}


def _parse_field(raw: Any, index: int) -> FieldDefinition:
    prefix = f"fields[{index}]"
    if not isinstance(raw, Mapping):
        raise FormDefinitionError("Alan tanımı bir nesne olmalı.", path=prefix)
    name = raw.get("name")
    field = name if isinstance(name, str) else None
    for key in REQUIRED_FIELD_KEYS:
        if not _present(raw, key):
            raise FormDefinitionError(f"'{key}' anahtarı zorunludur.", field=field, path=f"{prefix}.{key}")
    _check_keys(raw, options.ALL_OPTIONS, what="alan", field=field, prefix=f"{prefix}.")
    known, extensions = _split(raw)
    try:
        definition = FieldDefinition(**known, extensions=extensions)
    except FormDefinitionError as exc:
        raise exc.located(prefix=prefix) from None
    return _canonical_default(definition, prefix)


def _canonical_default(definition: FieldDefinition, prefix: str) -> FieldDefinition:
    """The definition with its ``default`` replaced by the clean value (``"12,5"`` → ``Decimal("12.50")``)."""
    if definition.default is None:
        return definition
    try:
        field = make_field(definition)
    except FormDefinitionError as exc:
        raise exc.located(prefix=prefix) from None
    default = field.load_default() if callable(field.load_default) else field.load_default
    return dataclasses.replace(definition, default=default)


def parse_definition(raw: str | bytes | Mapping[str, Any], source: str = "<form>") -> FormDefinition:
    """Parse and check a form definition (JSON text, UTF-8 bytes or an already decoded mapping).

    Raises :class:`FormDefinitionError` naming ``source``, the path and the field.
    """
    try:
        document = raw if isinstance(raw, Mapping) else _load_json(raw)
        return _parse_document(document)
    except FormDefinitionError as exc:
        raise exc.located(source=source) from None


def _parse_document(document: Any) -> FormDefinition:
    if not isinstance(document, Mapping):
        raise FormDefinitionError("Form tanımı bir JSON nesnesi olmalı.")
    for key in REQUIRED_FORM_KEYS:
        if not _present(document, key):
            raise FormDefinitionError(f"'{key}' anahtarı zorunludur.", path=key)
    _check_keys(document, FORM_KEYS, what="form", field=None, prefix="")
    known, extensions = _split(document)
    raw_fields = known.pop("fields")
    known.pop("$schema", None)
    if not isinstance(raw_fields, list):
        raise FormDefinitionError("'fields' bir liste olmalı.", path="fields")
    fields = tuple(_parse_field(item, index) for index, item in enumerate(raw_fields))
    if "checks" in known and not isinstance(known["checks"], list):
        raise FormDefinitionError("'checks' bir liste olmalı.", path="checks")
    return FormDefinition(**known, fields=fields, extensions=extensions)


def load_definition_file(path: str | Path) -> FormDefinition:
    """Parse a ``*.form.json`` file; errors name the file."""
    file = Path(path)
    return parse_definition(file.read_bytes(), source=str(file))
