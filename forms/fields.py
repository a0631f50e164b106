"""marshmallow fields for form field types, with precise Turkish error messages.

Every field shares one policy (:class:`FormField`): a missing key is left out (or takes
the definition's ``default``); ``None`` or a blank string (or an empty list for
multichoice) is empty: an error for required fields, ``None`` (``[]`` for multichoice)
otherwise; nested ``typename`` keys are refused. Type-specific parsing lives in :meth:`FormField.clean`.
"""

from __future__ import annotations

import contextvars
import re
import unicodedata
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from functools import cached_property
from typing import Any, ClassVar

from marshmallow import ValidationError
from marshmallow import fields as ma_fields
from marshmallow.utils import missing

from forms import messages as msg
from forms import values
from forms.definition import FieldDefinition

#: Reference day / instant for ``not_future`` and ``not_past``, set by :func:`forms.validate`.
reference_today: contextvars.ContextVar[date | None] = contextvars.ContextVar("forms_today", default=None)
reference_now: contextvars.ContextVar[datetime | None] = contextvars.ContextVar("forms_now", default=None)

DEFAULT_MAX_LENGTH = {"string": 250, "text": 10_000, "email": 254}
DEFAULT_DECIMAL_PLACES = 2
MAX_NESTING = 10
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _find_typename(value: Any, depth: int = 0) -> bool:
    if depth > MAX_NESTING:
        raise ValidationError(msg.TOO_DEEP)
    if isinstance(value, Mapping):
        return "typename" in value or any(_find_typename(v, depth + 1) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_find_typename(v, depth + 1) for v in value)
    return False


class FormField(ma_fields.Field):
    """Base of all form fields; subclasses implement :meth:`clean`."""

    default_error_messages: ClassVar[dict[str, str]] = {"required": msg.REQUIRED, "null": msg.REQUIRED}

    def __init__(self, definition: FieldDefinition) -> None:
        self.definition = definition
        has_default = definition.default is not None
        # A conditional field's "required" is enforced by the schema, once the condition is known.
        self.always_required = definition.required and definition.when is None
        super().__init__(required=self.always_required and not has_default, allow_none=True)
        if has_default:
            if self.is_empty(definition.default):
                raise ValidationError(msg.EMPTY_DEFAULT)
            default = self.clean(definition.default)
            self.load_default = (lambda: list(default)) if isinstance(default, list) else default

    def deserialize(
        self, value: Any, attr: str | None = None, data: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> Any:
        if value is missing:
            if self.required:
                raise self.make_error("required")
            return self.load_default() if callable(self.load_default) else self.load_default
        if self.is_empty(value):
            if self.always_required and not kwargs.get("partial"):
                raise self.make_error("required")
            return None
        if _find_typename(value):
            raise ValidationError(msg.TYPENAME)
        return self.clean(value)

    def is_empty(self, value: Any) -> bool:
        return value is None or (isinstance(value, str) and not value.strip())

    def clean(self, value: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return values.json_safe(value)


class TextField(FormField):
    """``string`` (one line) and ``text`` (several lines)."""

    def clean(self, value: Any) -> str:
        if not isinstance(value, str):
            raise ValidationError(msg.NOT_TEXT)
        d = self.definition
        text = values.clean_text(value)
        if d.type == "string":
            text = text.replace("\t", " ")
        if d.type == "string" and "\n" in text:
            raise ValidationError(msg.SINGLE_LINE)
        if _CONTROL.search(text):
            raise ValidationError(msg.CONTROL_CHAR)
        max_length = d.max_length or DEFAULT_MAX_LENGTH[d.type]
        if len(text) > max_length:
            raise ValidationError(msg.MAX_LENGTH.format(n=max_length))
        if d.min_length is not None and len(text) < d.min_length:
            raise ValidationError(msg.MIN_LENGTH.format(n=d.min_length))
        if self._pattern is not None and not self._pattern.fullmatch(text):
            raise ValidationError(msg.PATTERN)
        return text

    @cached_property
    def _pattern(self) -> re.Pattern[str] | None:
        return re.compile(self.definition.pattern) if self.definition.pattern else None


class _BoundedField(FormField):
    """Values with ``min``/``max`` bounds."""

    def check_bounds(self, value: Any, show: Callable[[Any], str]) -> None:
        d = self.definition
        if d.min is not None and value < d.min:
            raise ValidationError(self.too_small.format(v=show(d.min)))
        if d.max is not None and value > d.max:
            raise ValidationError(self.too_large.format(v=show(d.max)))

    too_small: ClassVar[str] = msg.MIN_VALUE
    too_large: ClassVar[str] = msg.MAX_VALUE


class IntegerField(_BoundedField):
    def clean(self, value: Any) -> int:
        number = values.parse_int(value)
        if number is None:
            raise ValidationError(msg.INTEGER)
        self.check_bounds(number, str)
        return number


class DecimalField(_BoundedField):
    def clean(self, value: Any) -> Decimal:
        number = values.parse_decimal(value)
        if number is None:
            raise ValidationError(msg.DECIMAL)
        places = self.definition.decimal_places
        places = DEFAULT_DECIMAL_PLACES if places is None else places
        quantum = Decimal(1).scaleb(-places)
        try:
            rounded = number.quantize(quantum)
        except InvalidOperation:
            raise ValidationError(msg.DECIMAL_TOO_LARGE) from None
        if rounded != number:
            raise ValidationError(msg.DECIMAL_PLACES.format(n=places) if places else msg.NO_DECIMAL_PLACES)
        self.check_bounds(rounded, msg.show_decimal)
        return rounded.copy_abs() if rounded.is_zero() else rounded  # no "-0.00"


class DateField(_BoundedField):
    too_small = msg.DATE_MIN
    too_large = msg.DATE_MAX

    def clean(self, value: Any) -> date:
        day = values.parse_date(value)
        if day is None:
            raise ValidationError(msg.DATE)
        self.check_bounds(day, msg.show_date)
        today = reference_today.get()
        if today is None:
            now = reference_now.get()
            today = (now or datetime.now(values.ISTANBUL)).astimezone(values.ISTANBUL).date()
        if self.definition.not_future and day > today:
            raise ValidationError(msg.FUTURE)
        if self.definition.not_past and day < today:
            raise ValidationError(msg.PAST)
        return day


class DateTimeField(_BoundedField):
    """Aware datetimes; with only a reference *day* injected, ``not_future``/``not_past`` compare days."""

    too_small = msg.DATE_MIN
    too_large = msg.DATE_MAX

    def clean(self, value: Any) -> datetime:
        moment = values.parse_datetime(value)
        if moment is None:
            raise ValidationError(msg.DATETIME)
        self.check_bounds(moment, msg.show_datetime)
        now, today = reference_now.get(), reference_today.get()
        if now is None and today is not None:
            position: Any = moment.astimezone(values.ISTANBUL).date()
            reference: Any = today
        else:
            position, reference = moment, now or datetime.now(UTC)
        if self.definition.not_future and position > reference:
            raise ValidationError(msg.FUTURE)
        if self.definition.not_past and position < reference:
            raise ValidationError(msg.PAST)
        return moment


class BooleanField(FormField):
    def clean(self, value: Any) -> bool:
        result = values.parse_bool(value)
        if result is None:
            raise ValidationError(msg.BOOLEAN)
        return result


class ChoiceField(FormField):
    def clean(self, value: Any) -> str:
        choice = self._one(value)
        if choice not in self.definition.choice_values:
            raise ValidationError(self.not_a_choice)
        return choice

    def _one(self, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return value.strip() if isinstance(value, str) else value

    @property
    def not_a_choice(self) -> str:
        return msg.CHOICE.format(choices=", ".join(self.definition.choice_values))


class MultiChoiceField(ChoiceField):
    """A list of choice values, returned without duplicates in the order of the definition."""

    def deserialize(self, value: Any, attr: str | None = None, data: Any = None, **kwargs: Any) -> Any:
        result = super().deserialize(value, attr, data, **kwargs)
        return [] if result is None else result

    def is_empty(self, value: Any) -> bool:
        return super().is_empty(value) or (isinstance(value, list | tuple) and not value)

    def clean(self, value: Any) -> list[str]:  # type: ignore[override]
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list | tuple):
            raise ValidationError(msg.MULTICHOICE)
        chosen: set[str] = set()
        for item in items:
            if isinstance(item, bool) or not isinstance(item, str | int):
                raise ValidationError(self.not_a_choice)
            chosen.add(self._one(item))
        if not chosen <= set(self.definition.choice_values):
            raise ValidationError(self.not_a_choice)
        return [v for v in self.definition.choice_values if v in chosen]


class EmailField(FormField):
    def clean(self, value: Any) -> str:
        address = values.normalize_email(unicodedata.normalize("NFC", value)) if isinstance(value, str) else None
        if address is None:
            raise ValidationError(msg.EMAIL)
        max_length = self.definition.max_length or DEFAULT_MAX_LENGTH["email"]
        if len(address) > max_length:
            raise ValidationError(msg.MAX_LENGTH.format(n=max_length))
        return address


class PhoneField(FormField):
    def clean(self, value: Any) -> str:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        phone = values.normalize_phone(value) if isinstance(value, str) else None
        if phone is None:
            raise ValidationError(msg.PHONE)
        return phone


class TcknField(FormField):
    def clean(self, value: Any) -> str:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        text = value.strip() if isinstance(value, str) else ""
        if not values.tckn_is_valid(text):
            raise ValidationError(msg.TCKN)
        return text


class ReferenceField(FormField):
    """``user`` (a username) and ``unit`` (a directorate's group code): the form checks the shape;
    the engine checks that the user or unit exists when the form is submitted."""

    SHAPES: ClassVar[dict[str, tuple[re.Pattern[str], str]]] = {
        "user": (re.compile(r"[a-z0-9][a-z0-9._-]{0,149}"), msg.USER),
        "unit": (re.compile(r"[a-z][a-z0-9_]{0,99}"), msg.UNIT),
    }

    def clean(self, value: Any) -> str:
        shape, message = self.SHAPES[self.definition.type]
        text = value.strip() if isinstance(value, str) else ""
        if not shape.fullmatch(text):
            raise ValidationError(message)
        return text
