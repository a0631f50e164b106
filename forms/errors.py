"""Exceptions of the forms package: a bad form definition, bad submitted form data."""

from __future__ import annotations

from collections.abc import Iterable, Mapping


class FormDefinitionError(Exception):
    """A form definition is malformed.

    ``message`` is the Turkish problem description alone; ``field`` names the form field
    concerned (or ``None``); ``path`` locates the problem in the definition document
    (``"fields[2].choices"``); ``source`` names the document (file name, module).
    ``str(error)`` combines all of them into one line for logs and deployment reports.
    """

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        path: str | None = None,
        source: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.path = path
        self.source = source

    def located(self, *, source: str | None = None, prefix: str | None = None) -> FormDefinitionError:
        """A copy of this error placed inside ``prefix`` (``"fields[2]"``) of document ``source``."""
        path = self.path
        if prefix:
            path = f"{prefix}.{path}" if path else prefix
        located = type(self)(self.message, field=self.field, path=path, source=source or self.source)
        located.__cause__ = self.__cause__
        return located

    def __str__(self) -> str:
        location = ": ".join(part for part in (self.source, self.path) if part)
        if self.field:
            location = f"{location} ('{self.field}' alanı)" if location else f"'{self.field}' alanı"
        return f"{location}: {self.message}" if location else self.message

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_definition_error, (type(self), self.message, self.field, self.path, self.source))


def _rebuild_definition_error(
    cls: type[FormDefinitionError], message: str, field: str | None, path: str | None, source: str | None
) -> FormDefinitionError:
    return cls(message, field=field, path=path, source=source)


class DuplicateFormError(FormDefinitionError):
    """A form key is registered twice in a :class:`forms.registry.FormRegistry`."""


class FormValidationError(Exception):
    """Submitted form data is invalid.

    ``field_errors`` maps each bad field name to its Turkish messages; problems that
    belong to no declared field (unknown keys, data that is not a mapping) are listed
    under ``"_schema"``. All problems of one submission are reported together.
    """

    def __init__(self, field_errors: Mapping[str, Iterable[str]]) -> None:
        self.field_errors: dict[str, list[str]] = {
            str(name): [str(message) for message in messages] for name, messages in field_errors.items()
        }
        super().__init__(self.field_errors)

    def __str__(self) -> str:
        parts = [f"{name}: {' '.join(messages)}" for name, messages in self.field_errors.items()]
        return "Form verisi geçersiz. " + "; ".join(parts)
