"""Compiling form definitions to marshmallow schemas, and validating submitted data with them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, post_load, validates_schema

from forms import fields as form_fields
from forms import messages as msg
from forms.definition import FieldDefinition, FormDefinition
from forms.errors import FormDefinitionError, FormValidationError
from forms.files import FileField

FIELD_CLASSES: Mapping[str, type[form_fields.FormField]] = {
    "string": form_fields.TextField,
    "text": form_fields.TextField,
    "int": form_fields.IntegerField,
    "decimal": form_fields.DecimalField,
    "date": form_fields.DateField,
    "datetime": form_fields.DateTimeField,
    "bool": form_fields.BooleanField,
    "choice": form_fields.ChoiceField,
    "multichoice": form_fields.MultiChoiceField,
    "email": form_fields.EmailField,
    "phone": form_fields.PhoneField,
    "tckn": form_fields.TcknField,
    "user": form_fields.ReferenceField,
    "unit": form_fields.ReferenceField,
    "file": FileField,
}


class FormSchema(Schema):
    """Base of compiled form schemas: unknown and ``typename`` keys are reported under ``_schema``."""

    class Meta:
        unknown = EXCLUDE  # reported by _reject_unknown_keys, under "_schema" rather than per key
        register = False  # generated per definition: keep them out of marshmallow's class registry

    error_messages = {"type": msg.NOT_MAPPING}  # noqa: RUF012 - marshmallow's own class attribute

    @validates_schema(pass_original=True, skip_on_field_errors=False)
    def _reject_unknown_keys(self, data: Any, original_data: Any, **kwargs: Any) -> None:
        if not isinstance(original_data, Mapping):
            return
        known = set(self.load_fields)
        problems = []
        if "typename" in original_data:
            problems.append(msg.TYPENAME)
        unknown = sorted(str(key) for key in original_data if key not in known and key != "typename")
        problems += [msg.UNKNOWN.format(key=key) for key in unknown]
        if problems:
            raise ValidationError(problems)

    @validates_schema(skip_on_field_errors=False)
    def _require_applicable(self, data: Mapping[str, Any], partial: Any = None, **kwargs: Any) -> None:
        if partial:
            return
        missing_fields = {
            name: [msg.REQUIRED]
            for name, field in self.load_fields.items()
            if isinstance(field, form_fields.FormField)
            and field.definition.when is not None
            and field.definition.required
            and field.definition.when.holds(data)
            and data.get(name) in (None, [], "")
        }
        if missing_fields:
            raise ValidationError(missing_fields)

    @post_load
    def _drop_inapplicable(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        """Values of fields whose condition does not hold are not kept (a stale answer is not data)."""
        for name, field in self.load_fields.items():
            condition = getattr(field, "definition", None) and field.definition.when
            if condition is not None and not condition.holds(data):
                data.pop(name, None)
        return data


def make_field(definition: FieldDefinition) -> form_fields.FormField:
    """The marshmallow field of one form field (its ``default`` is validated here)."""
    try:
        return FIELD_CLASSES[definition.type](definition)
    except ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, list) else [str(exc.messages)]
        raise FormDefinitionError(
            f"Varsayılan değer geçersiz: {' '.join(map(str, messages))}", field=definition.name, path="default"
        ) from None


@lru_cache(maxsize=1024)
def schema_for(definition: FormDefinition) -> Schema:
    """The compiled (cached) marshmallow schema of ``definition``.

    ``schema.load(data)`` returns clean data or raises ``marshmallow.ValidationError``;
    :func:`validate` wraps it with Turkish-friendly :class:`FormValidationError`.
    """
    compiled: dict[str, Any] = {}
    for index, field in enumerate(definition.fields):
        try:
            compiled[field.name] = make_field(field)
        except FormDefinitionError as exc:
            raise exc.located(prefix=f"fields[{index}]") from None
    # Declared fields are set after class creation: as class attributes, field names such as
    # "Meta" would clash with the schema's own.
    schema_class = type(f"FormSchema[{definition.key}]", (FormSchema,), {})
    schema_class._declared_fields = compiled
    return schema_class()


def validate(
    definition: FormDefinition,
    data: Mapping[str, Any],
    *,
    today: date | None = None,
    partial: bool = False,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Clean ``data`` submitted for ``definition``, or raise :class:`FormValidationError` with all problems.

    ``today`` (and ``now``, an aware instant) replace the clock for ``not_future`` /
    ``not_past``. ``partial=True`` (drafts) skips required-field checks: missing fields
    stay missing and no defaults are filled in.
    """
    if not isinstance(data, Mapping):
        raise FormValidationError({"_schema": [msg.NOT_MAPPING]})
    schema = schema_for(definition)
    today_token = form_fields.reference_today.set(today)
    now_token = form_fields.reference_now.set(now)
    try:
        return dict(schema.load(data, partial=partial))
    except ValidationError as exc:
        raise FormValidationError(_flatten(exc.messages)) from None
    finally:
        form_fields.reference_now.reset(now_token)
        form_fields.reference_today.reset(today_token)


def _flatten(messages: Any) -> dict[str, list[str]]:
    if not isinstance(messages, Mapping):
        return {"_schema": _as_list(messages)}
    return {str(name): _as_list(value) for name, value in messages.items()}


def _as_list(value: Any) -> list[str]:
    if isinstance(value, list | tuple):
        return [str(item) for item in value]
    if isinstance(value, Mapping):
        return [str(item) for items in value.values() for item in _as_list(items)]
    return [str(value)]
