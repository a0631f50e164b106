"""A registry of form definitions by key, and :data:`python_forms`, the one for forms written in Python.

Deployed ``*.form.json`` forms live in the engine's database; forms written in Python
(see :mod:`forms.builtin`) are registered here when the package is imported, so the
engine can find a ``formKey`` in both places.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator

from forms.definition import FormDefinition
from forms.errors import DuplicateFormError
from forms.validation import schema_for


class FormRegistry:
    """Form definitions by key; a key can be registered only once."""

    def __init__(self, definitions: Iterable[FormDefinition] = ()) -> None:
        self._forms: dict[str, FormDefinition] = {}
        self._lock = threading.Lock()
        for definition in definitions:
            self.register(definition)

    def register(self, definition: FormDefinition) -> FormDefinition:
        """Add ``definition`` (compiling its schema, so a bad default fails here) and return it.

        Raises :class:`~forms.errors.DuplicateFormError` if its key is already registered.
        """
        if not isinstance(definition, FormDefinition):
            raise TypeError(f"FormDefinition expected, got {type(definition).__name__}")
        schema_for(definition)
        with self._lock:
            if definition.key in self._forms:
                raise DuplicateFormError(f"'{definition.key}' anahtarlı form zaten kayıtlı.", path="key")
            self._forms[definition.key] = definition
        return definition

    def get(self, key: str) -> FormDefinition | None:
        """The form registered under ``key``, if any."""
        return self._forms.get(key)

    def keys(self) -> list[str]:
        """The registered keys, sorted."""
        return sorted(self._forms)

    def __contains__(self, key: object) -> bool:
        return key in self._forms

    def __iter__(self) -> Iterator[FormDefinition]:
        return iter([self._forms[key] for key in self.keys()])

    def __len__(self) -> int:
        return len(self._forms)

    def __repr__(self) -> str:
        return f"FormRegistry({self.keys()!r})"


#: Forms written in Python under ``forms/`` (filled by :mod:`forms.builtin` on import).
python_forms = FormRegistry()
